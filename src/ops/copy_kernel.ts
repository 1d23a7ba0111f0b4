import type { MapKernel } from '../backends/backend.js';

/** The identity map: contiguous copies and casts. Backends may run it as a plain buffer copy. */
export const COPY_KERNEL: MapKernel = { name: 'copy', wgsl: 'return x0;', js: (x) => x[0] };
