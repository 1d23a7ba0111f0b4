/**
 * Regenerates this adapter's part of the shipped GEMM table (kernels/tuned/gemm.json): runs the
 * autotuner (accelerator.tuneGemm, every candidate measured, forced, not written to the disk
 * cache) on a list of shape buckets and stores the winners under the adapter's key, keeping other
 * adapters' entries.
 *
 *   node dist/bench/tools/tune_gemm.js [--reps 3] [--out kernels/tuned/gemm.json] [--quick]
 *
 * Candidates' correctness is a test (tests/gemm_tuner.test.ts checks every candidate of a bucket
 * against float64), not part of the timing here.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as xpu from '../../src/index.js';
import { gemmAdapterInfo } from '../../src/backends/webgpu/gemm_config.js';
import { adapterKey, CACHE_SCHEMA_VERSION } from '../../src/backends/webgpu/gemm_tuner.js';
import { xpuEntries } from '../../src/device/registry.js';
// The runtime opens nothing at import: open the GPU before the first xpu tensor.
await xpu.ready();

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const reps = Number(opt('--reps', '3'));
const out = opt('--out', 'kernels/tuned/gemm.json');
const quick = args.includes('--quick');

const squares = quick ? [256, 512] : [256, 512, 1024, 2048];
const jobs: { shapes: [number, number, number][]; dtype: 'float32' | 'float16'; bAlongK: boolean }[] = [
  { shapes: squares.map((n) => [n, n, n]), dtype: 'float32', bAlongK: false },
  { shapes: (quick ? [512] : [512, 2048]).map((n) => [n, n, n]), dtype: 'float16', bAlongK: false },
  // Linear layers (weight [N, K] read along k): decode steps and a prefill block.
  {
    shapes: [
      [1, 4096, 4096],
      [8, 4096, 4096],
      [128, 4096, 4096],
    ],
    dtype: 'float32',
    bAlongK: true,
  },
];

const entry = xpuEntries()[0];
if (!entry) throw new Error(`no xpu device: ${xpu.accelerator.unavailable()}`);
const adapter = gemmAdapterInfo(entry.backend.device);
const key = adapterKey(adapter);
const table = JSON.parse(readFileSync(out, 'utf8')) as { version: number; adapters: Record<string, Record<string, unknown>> };
if (table.version !== CACHE_SCHEMA_VERSION) throw new Error(`${out}: schema version ${table.version}, expected ${CACHE_SCHEMA_VERSION}`);
const entries: Record<string, unknown> = { ...(table.adapters[key] ?? {}) };
for (const job of jobs) {
  const results = await xpu.accelerator.tuneGemm(job.shapes, { dtype: job.dtype, bAlongK: job.bAlongK, reps, force: true, persist: false });
  for (const r of results) {
    process.stdout.write(
      `${r.bucket}: ${r.configKey} ${r.gflops.toFixed(1)} GFLOP/s  [${r.measured.map((m) => `${m.configKey}=${m.gflops.toFixed(1)}`).join(', ')}]\n`,
    );
    entries[r.bucket] = { config: r.config, gflops: Number(r.gflops.toFixed(2)), measuredAt: new Date().toISOString() };
  }
}
table.adapters[key] = Object.fromEntries(Object.entries(entries).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(out, JSON.stringify(table, null, 2) + '\n');
process.stdout.write(`wrote ${out} (${Object.keys(entries).length} buckets for ${key})\n`);
process.exit(0);
