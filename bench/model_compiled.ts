/**
 * Llama decode compiled vs eager (issue 20's model.compile() target): one model, seeded random
 * weights, the same prompt; generate() alternates eager and compiled rounds (compiled: the static
 * KV cache step recorded once by xpu.compile, replayed per token; eager: the growing-view cache).
 * Per token it reports tok/s (wall time including the host read-back of each token, as bench
 * model does), the time of the synchronous step call (the host's share: ops, launches, submits)
 * and process.cpuUsage() over that call (every thread of the process: on a software adapter
 * this includes the driver's threads running earlier kernels), and from the profiler the
 * launches per decode step both ways.
 *
 *   XPU_BENCH_MODEL=compiled npm run bench -- model [--device xpu|cpu|all] [--quick] [--json out.json]
 */
import * as xpu from '../src/index.js';
import type { Tensor } from '../src/index.js';

type Llama = InstanceType<typeof xpu.llama.LlamaForCausalLM>;
type Decode = ReturnType<Llama['staticDecode']>;

export interface CompiledDecodeRow {
  model: string;
  device: 'xpu' | 'cpu';
  prompt: number;
  decode: number;
  rounds: number;
  /** Decode tokens/s per round, in the order run. */
  eagerTokS: number[];
  compiledTokS: number[];
  /** Median compiled / median eager. */
  speedup: number;
  /** Medians over rounds, ms per decode token: the synchronous step call and process CPU over it. */
  eagerStepCallMs: number;
  compiledStepCallMs: number;
  eagerCpuMs: number;
  compiledCpuMs: number;
  /** Kernel launches per decode step (profiler). */
  eagerLaunches: number;
  compiledLaunches: number;
  sameTokens: boolean;
  stats: ReturnType<Llama['compileStats']>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Round {
  tokS: number;
  callMs: number;
  cpuMs: number;
  tokens: number[];
}

/** One generate() with the decode steps' synchronous calls timed; compiled=false hides the static path. */
async function round(m: Llama, ids: number[], decode: number, compiled: boolean): Promise<Round> {
  let callMs = 0;
  let cpuMs = 0;
  let n = 0;
  const timed = <T>(f: () => T): T => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    try {
      return f();
    } finally {
      callMs += performance.now() - t0;
      const c = process.cpuUsage(c0);
      cpuMs += (c.user + c.system) / 1000;
      n++;
    }
  };
  const forward = m.forward.bind(m);
  const staticDecode = m.staticDecode.bind(m);
  const patched = m as unknown as Record<string, unknown>;
  patched.forward = (t: Tensor, o: Parameters<Llama['forward']>[1]) => (t.shape[1] === 1 ? timed(() => forward(t, o)) : forward(t, o));
  patched.staticDecode = (b: number, total: number): Decode => {
    if (!compiled) return null;
    const s = staticDecode(b, total)!;
    return { cache: s.cache, step: (t: Tensor, pos: number) => timed(() => s.step(t, pos)) };
  };
  try {
    const g = await m.generate(ids, { maxNewTokens: decode });
    return { tokS: g.timings.decodeTokensPerS, callMs: callMs / n, cpuMs: cpuMs / n, tokens: g.tokens };
  } finally {
    delete patched.forward;
    delete patched.staticDecode;
  }
}

async function launchesPerStep(m: Llama, ids: number[], compiled: boolean): Promise<number> {
  const steps = 4;
  const before = (await xpu.profiler.profile(() => round(m, ids, 1, compiled))).profile.events.length;
  const after = (await xpu.profiler.profile(() => round(m, ids, 1 + steps, compiled))).profile.events.length;
  return (after - before) / steps;
}

export async function compiledDecodeRows(devices: ('xpu' | 'cpu')[], quick: boolean): Promise<CompiledDecodeRow[]> {
  const rows: CompiledDecodeRow[] = [];
  const cfg = xpu.llama.LLAMA_125M;
  for (const device of devices) {
    const software = device === 'xpu' && xpu.accelerator.getDeviceInfo().isSoftware;
    const prompt = 16;
    const decode = quick || software ? 24 : 64;
    const rounds = quick ? 2 : 4;
    xpu.manualSeed(0);
    const m = new xpu.llama.LlamaForCausalLM(cfg, { device, maxSequence: 128 });
    try {
      const ids = Array.from({ length: prompt }, (_, i) => (i * 7919 + 13) % cfg.vocabSize);
      m.compile();
      // Warm-up both ways: pipelines compile (seconds on lavapipe) and the step is recorded.
      await round(m, ids, 3, false);
      await round(m, ids, 3, true);
      const eager: Round[] = [];
      const comp: Round[] = [];
      for (let r = 0; r < rounds; r++) {
        for (const c of r % 2 ? [true, false] : [false, true]) (c ? comp : eager).push(await round(m, ids, decode, c));
        process.stdout.write(`  round ${r + 1}: eager ${eager[r].tokS.toFixed(2)} tok/s, compiled ${comp[r].tokS.toFixed(2)} tok/s\n`);
      }
      const eagerLaunches = await launchesPerStep(m, ids, false);
      const compiledLaunches = await launchesPerStep(m, ids, true);
      const tokS = (xs: Round[]) => xs.map((x) => x.tokS);
      rows.push({
        model: 'llama-125M',
        device,
        prompt,
        decode,
        rounds,
        eagerTokS: tokS(eager),
        compiledTokS: tokS(comp),
        speedup: median(tokS(comp)) / median(tokS(eager)),
        eagerStepCallMs: median(eager.map((x) => x.callMs)),
        compiledStepCallMs: median(comp.map((x) => x.callMs)),
        eagerCpuMs: median(eager.map((x) => x.cpuMs)),
        compiledCpuMs: median(comp.map((x) => x.cpuMs)),
        eagerLaunches,
        compiledLaunches,
        sameTokens: eager.every((e, i) => JSON.stringify(e.tokens) === JSON.stringify(comp[i].tokens)),
        stats: m.compileStats(),
      });
    } finally {
      m.dispose();
    }
  }
  return rows;
}

export function compiledTable(rows: CompiledDecodeRow[]): string {
  return rows
    .map(
      (r) =>
        `llama decode compiled vs eager, ${r.model} ${r.device} (prompt ${r.prompt}, ${r.decode} tokens, ${r.rounds} alternating rounds): ` +
        `eager ${median(r.eagerTokS).toFixed(2)} tok/s, compiled ${median(r.compiledTokS).toFixed(2)} tok/s (${r.speedup.toFixed(2)}x); ` +
        `step call ${r.eagerStepCallMs.toFixed(2)} -> ${r.compiledStepCallMs.toFixed(2)} ms/token, process CPU ${r.eagerCpuMs.toFixed(2)} -> ${r.compiledCpuMs.toFixed(2)} ms/token; ` +
        `launches/token ${r.eagerLaunches} -> ${r.compiledLaunches}; same tokens: ${r.sameTokens}`,
    )
    .join('\n');
}
