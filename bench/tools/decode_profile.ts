/**
 * Where a GGUF model's decode step goes on one device: the profiler over `--steps` greedy decode
 * steps after a 16-token prompt, each kernel's time (CPU time inside the op on cpu, where the
 * small kernels run inline; GPU time on xpu) grouped as matmul (linear / matmul / quantized GEMV),
 * attention, and everything else (elementwise, norms, rotary, copies), against the wall time of
 * the same steps. Issue 18's explanation of its decode misses.
 *
 * `--prompt 128 --steps 1` profiles a prefill instead (the one decode step is noise beside it).
 *
 * Usage: node dist/bench/tools/decode_profile.js --model A.gguf[,B.gguf] [--device cpu] [--steps 16] [--prompt 16] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename } from 'node:path';
import * as xpu from '../../src/index.js';
import { TEACHER_TEXT } from './llama_cpp_agreement.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const models = (arg('--model') ?? '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf').split(',');
const device = (arg('--device') ?? 'cpu') as 'cpu' | 'xpu';
const steps = Number(arg('--steps') ?? 16);
const prompt = Number(arg('--prompt') ?? 16);

const group = (name: string): 'matmul' | 'attention' | 'other' =>
  /linear|matmul|gemm|gemv|qgemm|mm/i.test(name) ? 'matmul' : /attention|sdpa|flash/i.test(name) ? 'attention' : 'other';

const out = [];
for (const path of models) {
  const lm = await xpu.llm.load(path, { device, maxSequence: prompt + steps + 8 });
  try {
    const ids = lm.tokenizer.encode(TEACHER_TEXT).slice(0, prompt);
    await lm.model.generate(ids, { maxNewTokens: 4 }); // warm-up
    const plain = await lm.model.generate(ids, { maxNewTokens: steps + 1 });
    xpu.profiler.start();
    const g = await lm.model.generate(ids, { maxNewTokens: steps + 1 });
    const prof = await xpu.profiler.stop();
    const kernels = prof
      .summary()
      .map((k) => ({ name: k.name, calls: k.count, ms: device === 'cpu' ? k.cpuMs : k.gpuMs > 0 ? k.gpuMs : k.cpuMs }));
    const byGroup = { matmul: 0, attention: 0, other: 0 };
    for (const k of kernels) byGroup[group(k.name)] += k.ms;
    const opMs = byGroup.matmul + byGroup.attention + byGroup.other;
    const row = {
      model: basename(path),
      device,
      prompt,
      steps,
      prefillMs: plain.timings.prefillMs,
      decodeMsPerToken: plain.timings.decodeMs / steps,
      profiledWallMs: prof.wallMs,
      profiledDecodeMsPerToken: g.timings.decodeMs / steps,
      opMsPerToken: opMs / (steps + 1),
      shares: { matmul: byGroup.matmul / opMs, attention: byGroup.attention / opMs, other: byGroup.other / opMs },
      launchesPerToken: prof.events.length / (steps + 1),
      top: kernels.slice(0, 12),
      loadavg: loadavg(),
    };
    out.push(row);
    process.stdout.write(
      `${row.model} ${device}: decode ${row.decodeMsPerToken.toFixed(1)} ms/token; op time ${row.opMsPerToken.toFixed(1)} ms/token over ${row.launchesPerToken.toFixed(0)} launches: matmul ${(row.shares.matmul * 100).toFixed(0)} %, attention ${(row.shares.attention * 100).toFixed(0)} %, other ${(row.shares.other * 100).toFixed(0)} %\n${prof.table(10, false)}\n`,
    );
  } finally {
    lm.dispose();
  }
}
const json = arg('--json');
if (json)
  writeFileSync(
    json,
    JSON.stringify({ command: `node dist/bench/tools/decode_profile.js ${process.argv.slice(2).join(' ')}`, rows: out }, null, 2),
  );
