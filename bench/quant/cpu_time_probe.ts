/**
 * CPU time per decode linear (M = 1 by default), interleaved across weight formats: on lavapipe the
 * "GPU" is this process's own threads, so process.cpuUsage() measures the kernels' work without
 * the wall-clock noise of a shared machine (other processes steal cores, not instructions). Run
 * with XPU_POLL=throttle so the JS thread's busy-poll does not count. Used to tune the quantized
 * GEMV (kernels/quant/qgemv.wgsl); the suite (bench/quant.ts) reports wall and GPU time.
 *
 *   XPU_POLL=throttle node dist/bench/quant/cpu_time_probe.js [M] [N] [K]
 */
import * as xpu from '../../src/index.js';
import { weightBytes, INT4_GROUP, type QuantKind } from './workloads.js';

const [m, n, k] = [Number(process.argv[2] ?? 1), Number(process.argv[3] ?? 4096), Number(process.argv[4] ?? 4096)];
const kinds: QuantKind[] = ['float32', 'float16', 'int8', 'int4', 'w8a8'];
const SETS = 6;
const REPS = 8;
const ROUNDS = 7;

const weights = new Map<QuantKind, (xpu.Tensor | xpu.quant.QuantizedTensor)[]>();
for (const kind of kinds) {
  const list: (xpu.Tensor | xpu.quant.QuantizedTensor)[] = [];
  for (let i = 0; i < SETS; i++) {
    if (kind === 'float32' || kind === 'float16') {
      list.push(xpu.randn([n, k], { dtype: kind }));
      continue;
    }
    const w = xpu.randn([n, k]);
    const scheme = kind === 'int4' ? 'int4_weight_only' : kind === 'w8a8' ? 'int8_dynamic' : 'int8_weight_only';
    list.push(xpu.quant.quantize(w, { scheme, groupSize: kind === 'int4' ? INT4_GROUP : undefined }));
    w.dispose();
  }
  weights.set(kind, list);
}
const x32 = xpu.randn([m, k]);
const x16 = x32.to('float16');
await xpu.accelerator.synchronize();
const best = new Map<QuantKind, number>();
for (let round = 0; round < ROUNDS; round++) {
  for (const kind of kinds) {
    const list = weights.get(kind) ?? [];
    const c0 = process.cpuUsage();
    for (let i = 0; i < REPS; i++) xpu.linear(kind === 'float16' ? x16 : x32, list[i % SETS]).dispose();
    await xpu.accelerator.synchronize();
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000 / REPS;
    if (round > 0) best.set(kind, Math.min(best.get(kind) ?? Infinity, ms));
  }
}
const f32 = best.get('float32') ?? NaN;
for (const kind of kinds) {
  const ms = best.get(kind) ?? NaN;
  process.stdout.write(
    `${kind.padEnd(8)} ${ms.toFixed(2)} cpu-ms/op  ${(weightBytes(kind, n, k) / 2 ** 20).toFixed(1)} MiB  ${(f32 / ms).toFixed(2)}x float32\n`,
  );
}
