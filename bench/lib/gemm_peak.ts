/**
 * The compute side of the roofline: the best GFLOP/s xpu.matmul reaches on a device at a few
 * square f32 sizes. It is the runtime's own best, not the hardware's datasheet peak: a row at 100%
 * of it runs as fast as our best GEMM does, which is the bar every kernel can be held to.
 */
import * as xpu from '../../src/index.js';
import type { DeviceName } from '../suite.js';
import { compare, failedCheck, type Check } from './check.js';
import { repeat, type RepeatOptions, type Stats } from './timing.js';

export interface GemmRate {
  n: number;
  /** Matmuls per timed run (several when one is too short to time well). */
  units: number;
  stats: Stats;
  gflops: number;
  /** The first rows of the product against a float64 reference: a peak from a wrong kernel is no peak. */
  check: Check;
}

/** A timed run should do at least this many flops (one matmul of 512 is 2.7e8). */
const TARGET_FLOPS_PER_RUN = 2e8;
const MAX_UNITS = 16;
const CPU_TARGET_FLOPS = 2e9;
const CPU_MAX_UNITS = 64;
const CHECK_ROWS = 2;
const BOUND = 1e-4;

export async function gemmRate(device: DeviceName, n: number, opts: RepeatOptions): Promise<GemmRate> {
  const flops = 2 * n ** 3;
  const sets = [0, 1].map(() => [xpu.randn([n, n], { device }), xpu.randn([n, n], { device })]);
  try {
    // On cpu as many matmuls per run as the gemm suite times (~2 GFLOP): one 512^3 GEMM alone
    // was too short to time on a shared VM, and the peak it gave sat below the suite's own rows.
    const units = device === 'xpu' ? Math.max(1, Math.min(MAX_UNITS, Math.ceil(TARGET_FLOPS_PER_RUN / flops))) : Math.max(1, Math.min(CPU_MAX_UNITS, Math.ceil(CPU_TARGET_FLOPS / flops)));
    let next = 0;
    const stats = await repeat(async () => {
      for (let k = 0; k < units; k++) {
        const [a, b] = sets[next++ % sets.length];
        xpu.matmul(a, b).dispose();
      }
      // cpu: the native GEMM runs on the addon's compute thread; wait for it as for the GPU.
      await (device === 'xpu' ? xpu.accelerator.synchronize() : xpu.accelerator.device('cpu').backend.synchronize());
    }, units, opts);
    return { n, units, stats, gflops: flops / (stats.medianMs * 1e6), check: await checkRows(sets[0][0], sets[0][1], n) };
  } finally {
    for (const s of sets) for (const t of s) t.dispose();
  }
}

async function checkRows(a: xpu.Tensor, b: xpu.Tensor, n: number): Promise<Check> {
  const aHead = a.narrow(0, 0, CHECK_ROWS);
  const out = xpu.matmul(aHead, b);
  try {
    const [ah, bh, got] = await Promise.all([aHead.data(), b.data(), out.data()]);
    const ref = new Float64Array(CHECK_ROWS * n);
    for (let i = 0; i < CHECK_ROWS; i++) {
      for (let k = 0; k < n; k++) {
        const aik = ah[i * n + k];
        for (let j = 0; j < n; j++) ref[i * n + j] += aik * bh[k * n + j];
      }
    }
    return compare(got, ref, BOUND);
  } catch (e) {
    return failedCheck(e, BOUND);
  } finally {
    out.dispose();
    aHead.dispose();
  }
}
