/**
 * CPU time per token of xpu (cpu device) and llama.cpp (node-llama-cpp, CPU backend) on the same
 * GGUF, both single-threaded: run with OMP_NUM_THREADS=1 (xpu's OpenMP kernels and oneDNN) while
 * llama.cpp gets threads: 1. Process CPU time (user + system) does not count the time other
 * processes hold the cores, so this comparison of work per token holds on a loaded machine where
 * wall-clock tok/s does not (a spinning thread pool under oversubscription loses most of its wall
 * time to the scheduler). It does not measure what two threads gain.
 *
 * Usage: OMP_NUM_THREADS=1 node dist/bench/tools/llama_cpp_cputime.js [--model FILE.gguf] [--reps 5]
 *        [--json out.json]
 * Prefill: the first 128 tokens of the agreement text, one forward + the first token. Decode:
 * 32 tokens after an 8-token prompt (the 8-token prefill included, for both).
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import * as xpu from '../../src/index.js';
import { llamaCppGreedy, llamaCppSequence, openLlamaCpp } from './llama_cpp.js';
import { TEACHER_TEXT } from './llama_cpp_agreement.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const path = resolve(arg('--model') ?? process.env.XPU_SMOLLM2_GGUF ?? '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf');
const reps = Number(arg('--reps') ?? 5);
if (process.env.OMP_NUM_THREADS !== '1') process.stderr.write('warning: OMP_NUM_THREADS is not 1: xpu may use more than one thread\n');
const lm = await xpu.llm.load(path, { device: 'cpu', maxSequence: 256 });
const peer = await openLlamaCpp(path, false);
const { sequence, context } = await llamaCppSequence(peer, 256, 1);
const ids = lm.tokenizer.encode(TEACHER_TEXT).slice(0, 128);
const short = ids.slice(0, 8);
await lm.model.generate(ids, { maxNewTokens: 2 });
await llamaCppGreedy(sequence, ids, 2);
const r = { xpuPrefill: [] as number[], xpuDecode: [] as number[], llamaPrefill: [] as number[], llamaDecode: [] as number[] };
for (let i = 0; i < reps; i++) {
  let c = cpuMs();
  await lm.model.generate(ids, { maxNewTokens: 1 });
  r.xpuPrefill.push(cpuMs() - c);
  c = cpuMs();
  await llamaCppGreedy(sequence, ids, 1);
  r.llamaPrefill.push(cpuMs() - c);
  c = cpuMs();
  await lm.model.generate(short, { maxNewTokens: 33 });
  r.xpuDecode.push((cpuMs() - c) / 32);
  c = cpuMs();
  await llamaCppGreedy(sequence, short, 33);
  r.llamaDecode.push((cpuMs() - c) / 32);
}
const out = {
  date: new Date().toISOString(),
  command:
    `OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS ?? ''} node dist/bench/tools/llama_cpp_cputime.js ${process.argv.slice(2).join(' ')}`.trim(),
  model: path.replace(process.cwd() + '/', ''),
  host: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg() },
  note: 'CPU ms (user + system) of this process, single-threaded on both sides; medians of alternating runs',
  xpu: { prefill128Ms: median(r.xpuPrefill), decodeMsPerToken: median(r.xpuDecode) },
  llamaCpp: { prefill128Ms: median(r.llamaPrefill), decodeMsPerToken: median(r.llamaDecode), threads: 1 },
  runs: r,
};
process.stdout.write(
  `CPU ms, single-threaded: xpu prefill(128) ${out.xpu.prefill128Ms.toFixed(0)}, decode ${out.xpu.decodeMsPerToken.toFixed(1)}/token; llama.cpp prefill(128) ${out.llamaCpp.prefill128Ms.toFixed(0)}, decode ${out.llamaCpp.decodeMsPerToken.toFixed(1)}/token\n`,
);
process.stdout.write(
  `xpu / llama.cpp in work per token (llama.cpp's CPU ms over xpu's): prefill ${(out.llamaCpp.prefill128Ms / out.xpu.prefill128Ms).toFixed(2)}x, decode ${(out.llamaCpp.decodeMsPerToken / out.xpu.decodeMsPerToken).toFixed(2)}x\n`,
);
const json = arg('--json');
if (json) writeFileSync(json, `${JSON.stringify(out, null, 2)}\n`);
await context.dispose();
await peer.dispose();
lm.dispose();
process.exit(0);
