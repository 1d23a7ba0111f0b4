/**
 * The GGUF part of `xpu bench model`: SmolLM2-135M-Instruct (Q4_1, the file setup fetches) on xpu
 * against llama.cpp (node-llama-cpp 3.21.1) on the same file, in the same process, runs
 * alternating: xpu cpu vs llama.cpp CPU with 2 threads, and xpu on its GPU adapter vs llama.cpp's
 * Vulkan backend (lavapipe here) when that loads. Prompt: the first 128 tokens of a fixed English
 * text (the same ids fed to both); then 64 greedy tokens, end-of-generation ignored. Prefill =
 * prompt forward + first token, decode = the later 64 tokens, each side timed the same way
 * (wall time of its own generate loop, host read-back of every token included). Medians of
 * `reps` alternating pairs. xpu keeps the GGUF's blocks (the quantized linear, float32
 * activations); llama.cpp quantizes activations to 8 bits in its matmuls.
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, resolve } from 'node:path';
import * as xpu from '../src/index.js';
import { llamaCppGreedy, llamaCppSequence, openLlamaCpp, type LlamaCppGpu, type LlamaCppPeer } from './tools/llama_cpp.js';
import { TEACHER_TEXT } from './tools/llama_cpp_agreement.js';

export const GGUF_PROMPT = 128;
export const GGUF_DECODE = 64;

export interface GgufPeerRow {
  model: string;
  /** 'xpu cpu', 'llama.cpp CPU (2 threads)', 'xpu xpu (adapter)', 'llama.cpp Vulkan (adapter)'. */
  engine: string;
  prompt: number;
  decode: number;
  prefillTokS?: number;
  decodeTokS?: number;
  /**
   * The fastest run of each: on a shared machine the least disturbed one. llama.cpp's CPU threads
   * wait for each other by spinning, and lose far more to other processes on the cores than
   * xpu's single-threaded small kernels do, so medians under load understate it.
   */
  bestPrefillTokS?: number;
  bestDecodeTokS?: number;
  /** Every run, in order (alternating with the peer's). */
  runs?: { prefillTokS: number; decodeTokS: number }[];
  skip?: string;
}

export interface GgufPeerPair {
  xpu: GgufPeerRow;
  llamaCpp: GgufPeerRow;
  /** xpu over llama.cpp (> 1: xpu faster), of the medians and of the best runs. */
  prefillRatio?: number;
  decodeRatio?: number;
  bestPrefillRatio?: number;
  bestDecodeRatio?: number;
  loadavg: { before: number[]; after: number[] };
  /** Per-kernel table of 8 xpu decode steps (the profiler), where decode or prefill is below 1.0x. */
  profile?: string;
}

export function smolLM2Gguf(): string | undefined {
  const p = process.env.XPU_SMOLLM2_GGUF ?? resolve('.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf');
  return existsSync(p) ? p : undefined;
}

/** Whether XPU_BENCH_MODEL asks for this part (default: yes, outside --quick). */
export function wantsGguf(quick: boolean): boolean {
  const w = process.env.XPU_BENCH_MODEL;
  if (w === undefined) return !quick;
  return w.split(',').some((x) => x === 'smollm2' || x === 'all');
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function xpuRun(lm: Awaited<ReturnType<typeof xpu.llm.load>>, ids: number[]): Promise<{ prefillTokS: number; decodeTokS: number }> {
  const g = await lm.model.generate(ids, { maxNewTokens: GGUF_DECODE + 1 });
  return { prefillTokS: (ids.length / g.timings.prefillMs) * 1000, decodeTokS: (GGUF_DECODE / g.timings.decodeMs) * 1000 };
}

async function profileDecode(lm: Awaited<ReturnType<typeof xpu.llm.load>>, ids: number[]): Promise<string> {
  await lm.model.generate(ids.slice(0, 16), { maxNewTokens: 2 });
  xpu.profiler.start();
  await lm.model.generate(ids.slice(0, 16), { maxNewTokens: 9 });
  return (await xpu.profiler.stop()).table(12);
}

/** One pair: xpu on `device` against llama.cpp on `gpu`, alternating `reps` times. */
async function pair(path: string, device: 'cpu' | 'xpu', gpu: LlamaCppGpu, reps: number, adapter: string): Promise<GgufPeerPair> {
  // Another GGUF through XPU_SMOLLM2_GGUF (the 125M config: bench/tools/make_llama125m_gguf.py) is named by its file.
  const name = basename(path) === 'SmolLM2-135M-Instruct.Q4_1.gguf' ? 'SmolLM2-135M-Instruct Q4_1' : basename(path);
  const xpuRow: GgufPeerRow = {
    model: name,
    engine: device === 'cpu' ? 'xpu cpu' : `xpu xpu (${adapter})`,
    prompt: GGUF_PROMPT,
    decode: GGUF_DECODE,
    runs: [],
  };
  const peerRow: GgufPeerRow = {
    model: name,
    engine: gpu === false ? 'llama.cpp CPU (2 threads)' : `llama.cpp Vulkan (${adapter})`,
    prompt: GGUF_PROMPT,
    decode: GGUF_DECODE,
    runs: [],
  };
  const before = loadavg();
  const lm = await xpu.llm.load(path, { device, maxSequence: GGUF_PROMPT + GGUF_DECODE + 8 });
  let peer: LlamaCppPeer | undefined;
  try {
    const ids = lm.tokenizer.encode(TEACHER_TEXT).slice(0, GGUF_PROMPT);
    let seq: Awaited<ReturnType<typeof llamaCppSequence>> | undefined;
    try {
      peer = await openLlamaCpp(path, gpu);
      seq = await llamaCppSequence(peer, GGUF_PROMPT + GGUF_DECODE + 8, 2);
    } catch (e) {
      peerRow.skip = `failed to load: ${(e as Error).message.split('\n')[0].slice(0, 160)}`;
    }
    // Warm-up: pipelines, caches and thread pools of both, outside the timed runs.
    await lm.model.generate(ids, { maxNewTokens: 3 });
    if (seq) await llamaCppGreedy(seq.sequence, ids, 3);
    for (let r = 0; r < reps; r++) {
      xpuRow.runs!.push(await xpuRun(lm, ids));
      // Each side's worker threads spin a little after their work; a pause keeps them off the
      // other side's first milliseconds.
      await pause(200);
      if (seq) {
        try {
          const t = await llamaCppGreedy(seq.sequence, ids, GGUF_DECODE + 1);
          peerRow.runs!.push({ prefillTokS: (ids.length / t.prefillMs) * 1000, decodeTokS: (GGUF_DECODE / t.decodeMs) * 1000 });
        } catch (e) {
          peerRow.skip = `failed: ${(e as Error).message.split('\n')[0].slice(0, 160)}`;
          seq = undefined;
        }
        await pause(200);
      }
    }
    await seq?.context.dispose();
    for (const row of [xpuRow, peerRow]) {
      if (row.runs!.length) {
        row.prefillTokS = median(row.runs!.map((x) => x.prefillTokS));
        row.decodeTokS = median(row.runs!.map((x) => x.decodeTokS));
        row.bestPrefillTokS = Math.max(...row.runs!.map((x) => x.prefillTokS));
        row.bestDecodeTokS = Math.max(...row.runs!.map((x) => x.decodeTokS));
      }
    }
    const out: GgufPeerPair = { xpu: xpuRow, llamaCpp: peerRow, loadavg: { before, after: loadavg() } };
    if (xpuRow.prefillTokS && peerRow.prefillTokS) out.prefillRatio = xpuRow.prefillTokS / peerRow.prefillTokS;
    if (xpuRow.decodeTokS && peerRow.decodeTokS) out.decodeRatio = xpuRow.decodeTokS / peerRow.decodeTokS;
    if (xpuRow.bestPrefillTokS && peerRow.bestPrefillTokS) out.bestPrefillRatio = xpuRow.bestPrefillTokS / peerRow.bestPrefillTokS;
    if (xpuRow.bestDecodeTokS && peerRow.bestDecodeTokS) out.bestDecodeRatio = xpuRow.bestDecodeTokS / peerRow.bestDecodeTokS;
    if (device === 'cpu' && Math.min(out.prefillRatio ?? 0, out.decodeRatio ?? 0, out.bestPrefillRatio ?? 0, out.bestDecodeRatio ?? 0) < 1)
      out.profile = await profileDecode(lm, ids);
    return out;
  } finally {
    await peer?.dispose();
    lm.dispose();
  }
}

export function ggufTable(pairs: GgufPeerPair[]): string {
  const head = [
    'model',
    'engine',
    'prompt',
    'decode',
    'prefill tok/s (best)',
    'decode tok/s (best)',
    'xpu / llama.cpp: medians (best runs)',
  ];
  const lines: string[][] = [];
  const f = (v?: number) => v?.toFixed(1) ?? '-';
  const x = (v?: number) => (v === undefined ? '-' : `${v.toFixed(2)}x`);
  for (const p of pairs) {
    for (const r of [p.xpu, p.llamaCpp]) {
      const ratio =
        r === p.xpu ? `prefill ${x(p.prefillRatio)} (${x(p.bestPrefillRatio)}), decode ${x(p.decodeRatio)} (${x(p.bestDecodeRatio)})` : '';
      lines.push([
        r.model,
        r.engine,
        String(r.prompt),
        String(r.decode),
        r.skip && !r.runs?.length ? 'skipped' : `${f(r.prefillTokS)} (${f(r.bestPrefillTokS)})`,
        r.skip && !r.runs?.length ? r.skip : `${f(r.decodeTokS)} (${f(r.bestDecodeTokS)})`,
        ratio,
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (l: string[]) => l.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

/** The SmolLM2 vs llama.cpp pairs for the devices asked for. */
export async function runGgufPeer(devices: ('xpu' | 'cpu')[], quick: boolean): Promise<{ pairs: GgufPeerPair[]; note?: string }> {
  const path = smolLM2Gguf();
  if (!path)
    return { pairs: [], note: 'SmolLM2 GGUF not found (scripts/fetch-model.sh or XPU_SMOLLM2_GGUF): llama.cpp comparison skipped' };
  const reps = Number(process.env.XPU_BENCH_GGUF_REPS ?? (quick ? 2 : 5));
  const pairs: GgufPeerPair[] = [];
  for (const device of devices) {
    const info = device === 'xpu' ? xpu.accelerator.getDeviceInfo() : undefined;
    const adapter = info ? info.description || info.device || info.vendor : 'cpu';
    process.stdout.write(`SmolLM2-135M Q4_1 on ${device} vs llama.cpp ${device === 'cpu' ? 'CPU' : 'Vulkan'} (${reps} alternating runs)\n`);
    const p = await pair(path, device, device === 'cpu' ? false : 'vulkan', reps, adapter);
    process.stdout.write(
      `  xpu: prefill ${p.xpu.prefillTokS?.toFixed(1)} tok/s, decode ${p.xpu.decodeTokS?.toFixed(1)} tok/s; llama.cpp: ${p.llamaCpp.skip ?? `prefill ${p.llamaCpp.prefillTokS?.toFixed(1)} tok/s, decode ${p.llamaCpp.decodeTokS?.toFixed(1)} tok/s`}\n`,
    );
    pairs.push(p);
  }
  return { pairs };
}
