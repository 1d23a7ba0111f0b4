import type { MapKernel } from './backend.js';

/** The identity on numbers: the body of copies and casts (their loads and stores convert). */
export const identity = (x: number): number => x;

/** The identity map: contiguous copies and casts. Backends may run it as a plain buffer copy. */
export const COPY_KERNEL: MapKernel = {
  name: 'copy',
  wgsl: 'return x0;',
  js: (x) => identity(x[0]),
  pure: { fn: identity, slots: [{ tensor: true, index: 0 }], copy: true },
};
