/**
 * Split-K probe: a small output with a long K (x [M, K] @ w [K, N]), the texture GEMM with the
 * heuristic's K slices against the same tile unsplit, round-robin, wall and CPU time.
 *
 *   node dist/bench/tools/splitk_probe.js [M N K] [rounds]
 */
import * as xpu from '../../src/index.js';
import {
  chooseGemmConfig,
  gemmAdapterInfo,
  gemmConfigKey,
  setGemmConfigOverride,
  type GemmConfig,
} from '../../src/backends/webgpu/gemm_config.js';
import { xpuEntries } from '../../src/device/registry.js';
// The runtime opens nothing at import: open the GPU before the first xpu tensor.
await xpu.ready();

const [m, n, k] = process.argv.length >= 5 ? process.argv.slice(2, 5).map(Number) : [64, 64, 65536];
const rounds = Number(process.argv[5] ?? 5);
const adapter = gemmAdapterInfo(xpuEntries()[0].backend.device);
const split = chooseGemmConfig(adapter, m, n, k, 'float32');
const configs: GemmConfig[] = [split, split.path === 'tile' ? { ...split, splitK: 1 } : split];
const a = xpu.randn([m, k], { device: 'xpu' });
const b = xpu.randn([k, n], { device: 'xpu' });
const reps = Math.max(1, Math.round(2e9 / (2 * m * n * k)));
const med = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
const res = configs.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
const run = async (c: GemmConfig) => {
  setGemmConfigOverride(() => c);
  try {
    for (let i = 0; i < reps; i++) xpu.matmul(a, b).dispose();
  } finally {
    setGemmConfigOverride(null);
  }
  await xpu.accelerator.synchronize();
};
for (const c of configs) await run(c);
for (let r = 0; r < rounds; r++) {
  for (const [i, c] of configs.entries()) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run(c);
    res[i].wall.push((performance.now() - t0) / reps);
    const u = process.cpuUsage(c0);
    res[i].cpu.push((u.user + u.system) / 1e3 / reps);
  }
}
for (const [i, c] of configs.entries()) {
  const f = 2 * m * n * k;
  process.stdout.write(
    `${m}x${n}x${k} ${gemmConfigKey(c).padEnd(40)} ${(f / med(res[i].wall) / 1e6).toFixed(1)} GFLOP/s  ${(f / med(res[i].cpu) / 1e6).toFixed(1)} GFLOP per CPU-s  time/first: ${(med(res[i].wall) / med(res[0].wall)).toFixed(2)}\n`,
  );
}
process.exit(0);
