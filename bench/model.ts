/**
 * `xpu bench model`: end-to-end Llama-shaped decoding (a standalone suite: it times whole
 * generate() calls, which the per-kernel runner does not model). Per device and weight format it
 * reports prefill tokens/s, decode tokens/s and peak device memory, then a per-kernel breakdown of
 * decode steps from the profiler. Weights are seeded random; nothing is downloaded.
 *
 * Why no onnxruntime-node row: it needs an ONNX export of this exact random Llama, and producing
 * one takes a Python exporter (torch.onnx / optimum) that this Node-only project does not ship.
 */
import { compiledDecodeRows, compiledTable } from './model_compiled.js';
import { writeFileSync } from 'node:fs';
import * as xpu from '../src/index.js';
import { ggufTable, runGgufPeer, wantsGguf } from './model_gguf.js';

type Cfg = typeof xpu.llama.LLAMA_TINY;
type Format = 'float32' | 'float16' | 'int8' | 'int4';

interface Plan {
  name: string;
  config: Cfg;
  prompt: number;
  decode: number;
  note?: string;
}

/** Small enough for quick mode on a software rasteriser. */
const MINI: Cfg = {
  vocabSize: 8192,
  hiddenSize: 256,
  intermediateSize: 768,
  numLayers: 4,
  numHeads: 8,
  numKvHeads: 4,
  ropeTheta: 10000,
  rmsNormEps: 1e-5,
  maxPositionEmbeddings: 1024,
  tieWordEmbeddings: true,
};

function plans(device: 'xpu' | 'cpu', quick: boolean, software: boolean): Plan[] {
  const which = process.env.XPU_BENCH_MODEL ?? (quick ? 'mini' : '125m');
  const slow = software || device === 'cpu';
  const out: Plan[] = [];
  if (which === 'mini' || which === 'all') out.push({ name: 'mini', config: MINI, prompt: quick ? 64 : 512, decode: quick ? 16 : 128 });
  if (which === '125m' || which === 'all') {
    // cpu: prompt 128 / decode 64, the shape issues 15 and 21 compare cpu (and llama.cpp) at.
    out.push(
      device === 'cpu'
        ? {
            name: 'llama-125M',
            config: xpu.llama.LLAMA_125M,
            prompt: 128,
            decode: 64,
            note: 'prompt 128 / decode 64 instead of 512 / 128: cpu',
          }
        : slow
          ? {
              name: 'llama-125M',
              config: xpu.llama.LLAMA_125M,
              prompt: 64,
              decode: 16,
              note: 'prompt 64 / decode 16 instead of 512 / 128: software device (lavapipe)',
            }
          : { name: 'llama-125M', config: xpu.llama.LLAMA_125M, prompt: 512, decode: 128 },
    );
  }
  if (which === '1b' || which === 'all')
    out.push({
      name: 'llama-3.2-1B-shape',
      config: xpu.llama.LLAMA_3_2_1B,
      prompt: 512,
      decode: 128,
      note: 'meant for a real GPU (XPU_BENCH_MODEL=1b)',
    });
  return out;
}

interface Row {
  model: string;
  device: string;
  format: Format;
  prompt: number;
  decode: number;
  prefillTokS?: number;
  decodeTokS?: number;
  peakMB?: number;
  skip?: string;
  note?: string;
  /** Measured after one float16 attention call in this process (issue 21: that call used to slow cpu decode for good). */
  afterF16Attention?: boolean;
}

/** The quantization API when src/quant has landed (xpu.quant.quantizeModule), else undefined. */
function quantApi(): { quantizeModule(m: unknown, c: unknown): unknown } | undefined {
  const q = (xpu as unknown as Record<string, unknown>).quant as { quantizeModule?: unknown } | undefined;
  return q && typeof q.quantizeModule === 'function' ? (q as { quantizeModule(m: unknown, c: unknown): unknown }) : undefined;
}

async function buildModel(
  cfg: Cfg,
  device: 'xpu' | 'cpu',
  format: Format,
  maxSequence: number,
): Promise<InstanceType<typeof xpu.llama.LlamaForCausalLM>> {
  xpu.manualSeed(0);
  const dtype = format === 'float16' ? 'float16' : 'float32';
  const m = new xpu.llama.LlamaForCausalLM(cfg, { device, dtype, maxSequence });
  if (format === 'int8' || format === 'int4') {
    const q = quantApi()!;
    await q.quantizeModule(m, format === 'int8' ? { scheme: 'int8_weight_only' } : { scheme: 'int4_weight_only', groupSize: 128 });
  }
  return m;
}

function prompt(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocab);
}

async function measure(p: Plan, device: 'xpu' | 'cpu', format: Format): Promise<Row> {
  const row: Row = { model: p.name, device, format, prompt: p.prompt, decode: p.decode, note: p.note };
  if ((format === 'int8' || format === 'int4') && !quantApi()) return { ...row, skip: 'xpu.quant.quantizeModule not available yet' };
  if (format === 'float16' && device === 'xpu' && !xpu.accelerator.getDeviceInfo().features.includes('shader-f16')) {
    // float16 is stored as u32 words and computed in f32 without shader-f16, so it still runs.
    row.note = [row.note, 'no shader-f16: f16 storage, f32 math'].filter(Boolean).join('; ');
  }
  const m = await buildModel(p.config, device, format, p.prompt + p.decode);
  try {
    const ids = prompt(p.prompt, p.config.vocabSize);
    // Warm-up at the measured prompt length: GEMM and attention pipelines are specialised per
    // shape class, and compiling them (seconds on lavapipe) must not land in the timed run.
    await m.generate(ids, { maxNewTokens: 2 });
    if (device === 'xpu') xpu.accelerator.resetPeakMemoryStats();
    const g = await m.generate(ids, { maxNewTokens: p.decode });
    row.prefillTokS = g.timings.prefillTokensPerS;
    row.decodeTokS = g.timings.decodeTokensPerS;
    if (device === 'xpu') row.peakMB = xpu.accelerator.maxMemoryAllocated() / 2 ** 20;
    return row;
  } finally {
    m.dispose();
  }
}

/** One scaledDotProductAttention on float16 q/k/v on cpu (issue 21's trigger). */
function f16AttentionCall(): void {
  xpu.scope(() => {
    const q = xpu.randn([1, 4, 8, 64], { device: 'cpu', dtype: 'float16' });
    const k = xpu.randn([1, 4, 16, 64], { device: 'cpu', dtype: 'float16' });
    xpu.scaledDotProductAttention(q, k, k);
  });
}

/** Per-kernel time of a few decode steps (after a short prefill), from the profiler. */
async function breakdown(p: Plan, device: 'xpu' | 'cpu'): Promise<string> {
  const m = await buildModel(p.config, device, 'float32', 40);
  try {
    const ids = prompt(16, p.config.vocabSize);
    await m.generate(ids, { maxNewTokens: 2 });
    xpu.profiler.start();
    await m.generate(ids, { maxNewTokens: 8 });
    return (await xpu.profiler.stop()).table(12);
  } finally {
    m.dispose();
  }
}

function table(rows: Row[]): string {
  const head = ['model', 'device', 'format', 'prompt', 'decode', 'prefill tok/s', 'decode tok/s', 'peak device MB', 'note'];
  const lines = rows.map((r) => [
    r.model,
    r.device,
    r.afterF16Attention ? `${r.format} (after f16 sdpa)` : r.format,
    String(r.prompt),
    String(r.decode),
    r.skip ? 'skipped' : r.prefillTokS!.toFixed(1),
    r.skip ? '' : r.decodeTokS!.toFixed(2),
    r.peakMB === undefined ? (r.skip ? '' : 'n/a (cpu)') : r.peakMB.toFixed(1),
    r.skip ?? r.note ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (l: string[]) => l.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

export async function run(opts: { device: 'xpu' | 'cpu' | 'all'; quick: boolean; json?: string }): Promise<void> {
  const devices: ('xpu' | 'cpu')[] = [];
  if (opts.device !== 'cpu' && xpu.accelerator.isAvailable()) devices.push('xpu');
  if (opts.device !== 'xpu') devices.push('cpu');
  if (process.env.XPU_BENCH_MODEL === 'compiled') {
    // Only issue 20's row: llama-125M decode through model.compile() against eager (bench/model_compiled.ts).
    const compiled = await compiledDecodeRows(devices, opts.quick);
    process.stdout.write(`\n${compiledTable(compiled)}\n`);
    if (opts.json) writeFileSync(opts.json, JSON.stringify({ suite: 'model', compiledDecode: compiled }, null, 2));
    return;
  }
  const software = xpu.accelerator.isAvailable() && xpu.accelerator.getDeviceInfo().isSoftware;
  const formats: Format[] = ['float32', 'float16', 'int8', 'int4'];
  const rows: Row[] = [];
  const profiles: Record<string, string> = {};
  for (const device of devices) {
    for (const p of plans(device, opts.quick, software)) {
      process.stdout.write(`${p.name} on ${device} (${(xpu.llama.parameterCount(p.config) / 1e6).toFixed(1)}M parameters)\n`);
      for (const f of formats) {
        let r: Row;
        try {
          r = await measure(p, device, f);
        } catch (e) {
          // One broken format (a kernel failing to compile...) must not hide the other rows.
          r = {
            model: p.name,
            device,
            format: f,
            prompt: p.prompt,
            decode: p.decode,
            skip: `failed: ${(e as Error).message.split('\n')[0].slice(0, 120)}`,
          };
        }
        rows.push(r);
        process.stdout.write(
          `  ${f}: ${r.skip ? `skipped (${r.skip})` : `prefill ${r.prefillTokS!.toFixed(1)} tok/s, decode ${r.decodeTokS!.toFixed(2)} tok/s`}\n`,
        );
      }
      if (device === 'cpu') {
        // Issue 21: one float16 attention call used to make the cpu kernels' per-dtype readers
        // megamorphic, and decode ~25% slower for the rest of the process. Same rows again after one.
        f16AttentionCall();
        for (const f of formats) {
          let r: Row;
          try {
            r = { ...(await measure(p, device, f)), afterF16Attention: true };
          } catch (e) {
            r = {
              model: p.name,
              device,
              format: f,
              prompt: p.prompt,
              decode: p.decode,
              skip: `failed: ${(e as Error).message.split('\n')[0].slice(0, 120)}`,
              afterF16Attention: true,
            };
          }
          rows.push(r);
          process.stdout.write(
            `  ${f} after one float16 attention call: ${r.skip ? `skipped (${r.skip})` : `prefill ${r.prefillTokS!.toFixed(1)} tok/s, decode ${r.decodeTokS!.toFixed(2)} tok/s`}\n`,
          );
        }
      }
      profiles[`${p.name} ${device}`] = await breakdown(p, device);
    }
  }
  // SmolLM2 from its GGUF against llama.cpp (node-llama-cpp) on the same file: bench/model_gguf.ts.
  const gguf = wantsGguf(opts.quick) ? await runGgufPeer(devices, opts.quick) : undefined;
  process.stdout.write(`\n${table(rows)}\n`);
  for (const [k, t] of Object.entries(profiles))
    process.stdout.write(`\nper-kernel time, 8 float32 decode steps + 16-token prefill: ${k}\n${t}\n`);
  if (gguf?.note) process.stdout.write(`\n${gguf.note}\n`);
  if (gguf?.pairs.length) {
    process.stdout.write(
      `\nSmolLM2-135M-Instruct Q4_1 GGUF, xpu vs llama.cpp (node-llama-cpp 3.21.1), same file, same prompt ids, alternating runs, medians:\n${ggufTable(gguf.pairs)}\n`,
    );
    for (const p of gguf.pairs)
      if (p.profile)
        process.stdout.write(`\nper-kernel time, 8 decode steps after a 16-token prompt: SmolLM2 ${p.xpu.engine}\n${p.profile}\n`);
  }
  // The notes say what the tables above hold: the seeded random Llamas, the GGUF file, or both.
  const weights = [
    ...(rows.length ? ['the Llama rows use seeded random weights (no tokenizer, nothing downloaded)'] : []),
    ...(gguf?.pairs.length ? ["the GGUF rows use the file's own weights (XPU_SMOLLM2_GGUF or .cache/models/)"] : []),
  ];
  process.stdout.write(
    `\nnotes: ${[...weights, 'prefill = prompt forward + first token; decode = later tokens, one step each with the KV cache; tok/s from wall time including the host read-back of each token'].join('; ')}.\n`,
  );
  if (rows.length)
    process.stdout.write(
      'onnxruntime-node: not compared; it would need an ONNX export of this random Llama, which needs a Python exporter this project does not ship.\n',
    );
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({ suite: 'model', rows, profiles, software, gguf: gguf?.pairs }, null, 2));
    process.stdout.write(`wrote ${opts.json}\n`);
  }
}
