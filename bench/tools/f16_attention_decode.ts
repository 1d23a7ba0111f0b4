/**
 * Issue 21's check outside the runner: llama-125M (float32, seeded random weights) generating on
 * cpu, `runs` times, then one scaledDotProductAttention on float16 q/k/v (the trigger; `none`
 * skips it, the control), then `runs` times again, all in this process. The slowdown the issue
 * reported lasted for the rest of the process, so "after" medians below "before" ones, in the
 * `f16` process and not in the `none` one, would be it. Wall times: on a loaded box compare the
 * two halves of one process and the two processes with each other, never with other runs. The
 * process CPU time of each generate call (all threads) is reported beside them: time spent waiting
 * for a core does not count in it, so it is the steadier figure on a shared machine.
 *
 *   node dist/bench/tools/f16_attention_decode.js f16|none [--runs 3] [--prompt 128] [--decode 64]
 */
import * as xpu from '../../src/index.js';

function flag(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(argv: string[]): Promise<void> {
  const mode = argv[0];
  if (mode !== 'f16' && mode !== 'none') throw new Error('usage: f16_attention_decode.js f16|none [--runs 3] [--prompt 128] [--decode 64]');
  const runs = flag(argv, '--runs', 3);
  const promptLen = flag(argv, '--prompt', 128);
  const decode = flag(argv, '--decode', 64);
  const cfg = xpu.llama.LLAMA_125M;
  xpu.manualSeed(0);
  const model = new xpu.llama.LlamaForCausalLM(cfg, { device: 'cpu', dtype: 'float32', maxSequence: promptLen + decode });
  const ids = Array.from({ length: promptLen }, (_, i) => (i * 7919 + 13) % cfg.vocabSize);
  await model.generate(ids, { maxNewTokens: 2 }); // warm-up
  const half = async (tag: string): Promise<{ prefill: number; decode: number; cpuMs: number }> => {
    const p: number[] = [];
    const d: number[] = [];
    const c: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.cpuUsage();
      const g = await model.generate(ids, { maxNewTokens: decode });
      const used = process.cpuUsage(t0);
      p.push(g.timings.prefillTokensPerS);
      d.push(g.timings.decodeTokensPerS);
      c.push((used.user + used.system) / 1000);
      process.stdout.write(
        `${tag} run ${i + 1}: prefill ${p[i].toFixed(1)} tok/s, decode ${d[i].toFixed(2)} tok/s, CPU ${c[i].toFixed(0)} ms\n`,
      );
    }
    return { prefill: median(p), decode: median(d), cpuMs: median(c) };
  };
  const before = await half('before');
  if (mode === 'f16') {
    xpu.scope(() => {
      const q = xpu.randn([1, 4, 8, 64], { device: 'cpu', dtype: 'float16' });
      const k = xpu.randn([1, 4, 16, 64], { device: 'cpu', dtype: 'float16' });
      xpu.scaledDotProductAttention(q, k, k);
    });
  }
  const after = await half(mode === 'f16' ? 'after one f16 sdpa' : 'after nothing (control)');
  process.stdout.write(
    `medians: before prefill ${before.prefill.toFixed(1)} decode ${before.decode.toFixed(2)}; after prefill ${after.prefill.toFixed(1)} decode ${after.decode.toFixed(2)}; after/before decode ${(after.decode / before.decode).toFixed(2)}x; CPU ms per call before ${before.cpuMs.toFixed(0)} after ${after.cpuMs.toFixed(0)} (after/before ${(after.cpuMs / before.cpuMs).toFixed(2)}x)\n`,
  );
  model.dispose();
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
