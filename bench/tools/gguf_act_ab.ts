/**
 * A GGUF model's cpu work with llama.cpp's int8 activations ('q8', the default) against exact
 * float32 activations ('float'), both loaded in one process, runs alternating: process CPU ms of a
 * 128-token prefill and per generated token (33 greedy tokens after a 16-token prompt), medians
 * of 5. Run single-threaded so the CPU time is the work (the box is shared):
 *   OMP_NUM_THREADS=1 node dist/bench/tools/gguf_act_ab.js MODEL.gguf [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as xpu from '../../src/index.js';
import { TEACHER_TEXT } from './llama_cpp_agreement.js';

const median = (a: number[]): number => a.slice().sort((x, y) => x - y)[a.length >> 1];

async function main(): Promise<void> {
  const model = process.argv[2] ?? '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf';
  const jsonAt = process.argv.indexOf('--json');
  const modes = ['q8', 'float'] as const;
  const lms = {
    q8: await xpu.llm.load(model, { device: 'cpu', activations: 'q8' }),
    float: await xpu.llm.load(model, { device: 'cpu', activations: 'float' }),
  };
  const ids = lms.q8.tokenizer.encode(TEACHER_TEXT).slice(0, 128);
  const runs = {
    q8: { prefillMs: [] as number[], decodeMsPerToken: [] as number[] },
    float: { prefillMs: [] as number[], decodeMsPerToken: [] as number[] },
  };
  const load = [loadavg()[0]];
  for (let rep = 0; rep < 5; rep++)
    for (const k of modes) {
      const lm = lms[k];
      let c = process.cpuUsage();
      const t = xpu.tensor(Int32Array.from(ids), { dtype: 'int32' }).reshape([1, ids.length]);
      const y = lm.model.forward(t);
      await y.data();
      t.dispose();
      y.dispose();
      let d = process.cpuUsage(c);
      runs[k].prefillMs.push((d.user + d.system) / 1000);
      c = process.cpuUsage();
      await lm.model.generate(ids.slice(0, 16), { maxNewTokens: 33 });
      d = process.cpuUsage(c);
      runs[k].decodeMsPerToken.push((d.user + d.system) / 1000 / 33);
    }
  load.push(loadavg()[0]);
  const summary = Object.fromEntries(
    modes.map((k) => [k, { prefillMs: median(runs[k].prefillMs), decodeMsPerToken: median(runs[k].decodeMsPerToken) }]),
  );
  process.stdout.write(
    `${model}: CPU ms, q8 / float: prefill(128) ${summary.q8.prefillMs.toFixed(0)} / ${summary.float.prefillMs.toFixed(0)}, decode ${summary.q8.decodeMsPerToken.toFixed(1)} / ${summary.float.decodeMsPerToken.toFixed(1)} per token (load ${load.map((l) => l.toFixed(1)).join(' -> ')})\n`,
  );
  if (jsonAt > 0)
    writeFileSync(
      process.argv[jsonAt + 1],
      JSON.stringify(
        { model, date: new Date().toISOString(), threads: process.env.OMP_NUM_THREADS ?? 'default', loadAverage: load, summary, runs },
        null,
        2,
      ),
    );
  for (const k of modes) lms[k].dispose();
}

void main();
