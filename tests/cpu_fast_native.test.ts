import { loadNative } from '../src/backends/cpu/native.js';

/**
 * tests/cpu_map_fast.test.ts and cpu_rows_fast.test.ts again with XPU_CPU_ELEMENTWISE=native:
 * every case the addon's float32 kernels cover (native_map.ts, native_rows.ts) runs there, at
 * any size, against the same float64 references. (The variable is read at each call, so setting
 * it here, before any test runs, is enough.)
 */
const compute = loadNative().addon?.compute as Record<string, unknown> | undefined;
if (typeof compute?.ew === 'function' && typeof compute?.rowOp === 'function') process.env.XPU_CPU_ELEMENTWISE = 'native';

await import('./cpu_map_fast.test.js');
await import('./cpu_rows_fast.test.js');
