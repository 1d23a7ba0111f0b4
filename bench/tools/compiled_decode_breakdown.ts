/**
 * Where a llama-125M decode token's time goes, eager against model.compile() (issue 20): the
 * profiler over `--steps` greedy decode steps after a 16-token prompt (a 1-token generate's
 * profile subtracted, so the prefill drops out), per kernel name its launches and GPU time per
 * token (timestamp queries; on xpu), against the wall time per token of the same steps without
 * the profiler. If the GEMVs' GPU time is most of a token's wall time both ways, compiling (which
 * removes host time and some small kernels) cannot speed decode up by more than that remainder.
 *
 * Usage: node dist/bench/tools/compiled_decode_breakdown.js [--steps 8] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as xpu from '../../src/index.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const steps = Number(arg('--steps') ?? 8);
const prompt = 16;

type Llama = InstanceType<typeof xpu.llama.LlamaForCausalLM>;

interface KernelRow {
  name: string;
  launchesPerToken: number;
  gpuMsPerToken: number;
}

/** generate() with the static (compiled) path hidden when compiled is false. */
async function gen(m: Llama, ids: number[], n: number, compiled: boolean): Promise<number[]> {
  const patched = m as unknown as Record<string, unknown>;
  if (!compiled) patched.staticDecode = () => null;
  try {
    return (await m.generate(ids, { maxNewTokens: n })).tokens;
  } finally {
    delete patched.staticDecode;
  }
}

async function kernels(m: Llama, ids: number[], compiled: boolean): Promise<KernelRow[]> {
  const one = (await xpu.profiler.profile(() => gen(m, ids, 1, compiled))).profile.summary();
  const many = (await xpu.profiler.profile(() => gen(m, ids, 1 + steps, compiled))).profile.summary();
  const base = new Map(one.map((k) => [k.name, k]));
  return many
    .map((k) => ({
      name: k.name,
      launchesPerToken: (k.count - (base.get(k.name)?.count ?? 0)) / steps,
      gpuMsPerToken: (k.gpuMs - (base.get(k.name)?.gpuMs ?? 0)) / steps,
    }))
    .filter((k) => k.launchesPerToken > 0)
    .sort((a, b) => b.gpuMsPerToken - a.gpuMsPerToken);
}

async function wallMsPerToken(m: Llama, ids: number[], compiled: boolean): Promise<number> {
  const t0 = performance.now();
  await gen(m, ids, 1, compiled);
  const t1 = performance.now();
  await gen(m, ids, 1 + steps, compiled);
  const t2 = performance.now();
  return (t2 - t1 - (t1 - t0)) / steps;
}

await xpu.ready();
const cfg = xpu.llama.LLAMA_125M;
xpu.manualSeed(0);
const m = new xpu.llama.LlamaForCausalLM(cfg, { device: 'xpu', maxSequence: 128 });
const ids = Array.from({ length: prompt }, (_, i) => (i * 7919 + 13) % cfg.vocabSize);
m.compile();
await gen(m, ids, 3, false); // warm-up: pipelines compile, the step is recorded
await gen(m, ids, 3, true);
const load0 = loadavg()[0];
const result = [];
for (const compiled of [false, true]) {
  const wall = await wallMsPerToken(m, ids, compiled);
  const ks = await kernels(m, ids, compiled);
  const gpu = ks.reduce((s, k) => s + k.gpuMsPerToken, 0);
  const gemv = ks.filter((k) => /matmul/.test(k.name)).reduce((s, k) => s + k.gpuMsPerToken, 0);
  const launches = ks.reduce((s, k) => s + k.launchesPerToken, 0);
  const label = compiled ? 'compiled' : 'eager';
  console.log(
    `${label}: wall ${wall.toFixed(1)} ms/token, GPU ${gpu.toFixed(1)} ms/token (matmul ${gemv.toFixed(1)}, ${((100 * gemv) / gpu).toFixed(0)} %), ${launches} launches/token`,
  );
  for (const k of ks.slice(0, 12))
    console.log(`  ${k.name.padEnd(28)} ${k.launchesPerToken.toFixed(1).padStart(6)} x  ${k.gpuMsPerToken.toFixed(2)} ms`);
  result.push({
    mode: label,
    wallMsPerToken: wall,
    gpuMsPerToken: gpu,
    matmulGpuMsPerToken: gemv,
    launchesPerToken: launches,
    kernels: ks,
  });
}
m.dispose();
const load = [load0, loadavg()[0]];
console.log(`load average ${load.map((l) => l.toFixed(2)).join(' -> ')}`);
const json = arg('--json');
if (json) writeFileSync(json, JSON.stringify({ model: 'llama-125M', device: 'xpu', prompt, steps, load, result }, null, 2));
