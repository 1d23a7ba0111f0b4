// Fine-tunes a small Llama with LoRA adapters on a text and prints the loss as it falls: the
// pattern for a real checkpoint (load it, `xpu.nn.lora.apply`, AdamW on `model.parameters()`),
// here on a seeded random LLAMA_TINY with characters as tokens, so it runs anywhere in seconds.
// `--quantize` puts the frozen base in int8 first (QLoRA-style: gradients flow through the
// quantized linears into the adapters).
//   npx tsc -p tsconfig.json && node dist/bench/examples/finetune_llama_lora.js --device cpu --steps 40 [--quantize]
import { pathToFileURL } from 'node:url';
import * as xpu from '../../src/index.js';

export const TEXT =
  'It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, ' +
  'it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness.';

export interface FinetuneOptions {
  device?: 'cpu' | 'xpu';
  steps?: number;
  seed?: number;
  /** Characters per training sequence (two windows of TEXT, alternating). */
  length?: number;
  quantize?: boolean;
  log?: (step: number, loss: number) => void;
}

/** Characters as tokens of LLAMA_TINY's 97-entry vocabulary (printable ASCII from 0). */
const tokens = (s: string): number[] => [...s].map((ch) => Math.min(96, Math.max(0, ch.charCodeAt(0) - 32)));

export async function finetuneLlamaLora(options: FinetuneOptions = {}): Promise<number[]> {
  const device = options.device ?? 'cpu';
  const steps = options.steps ?? 30;
  const length = options.length ?? 32;
  xpu.manualSeed(options.seed ?? 0);
  const cfg = xpu.llama.LLAMA_TINY;
  const model = new xpu.llama.LlamaForCausalLM(cfg, { device, maxSequence: length + 1 });
  if (options.quantize) xpu.quant.quantizeModule(model, { scheme: 'int8_weight_only' });
  xpu.nn.lora.apply(model, { rank: 8, alpha: 16, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] });
  const opt = new xpu.optim.AdamW(model.parameters(), { lr: 2e-2, weightDecay: 0 });
  const ids = tokens(TEXT);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const start = (step % 2) * length; // two fixed windows: the adapters learn to reproduce them
    const window = ids.slice(start, start + length + 1);
    const loss = xpu.scope(() => {
      const input = xpu.tensor(Int32Array.from(window.slice(0, length)), { shape: [1, length], device, dtype: 'int32' });
      const target = xpu.tensor(Int32Array.from(window.slice(1)), { shape: [length], device, dtype: 'int32' });
      const logits = model.forward(input);
      const loss = xpu.nn.functional.crossEntropy(xpu.reshape(logits, [length, cfg.vocabSize]), target);
      loss.backward();
      return loss;
    });
    opt.step();
    opt.zeroGrad();
    const v = (await loss.item()) as number;
    loss.dispose();
    losses.push(v);
    options.log?.(step, v);
  }
  opt.dispose();
  model.dispose();
  return losses;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  await xpu.ready();
  const device = (arg('device') ?? 'cpu') as 'cpu' | 'xpu';
  const steps = Number(arg('steps') ?? 30);
  const losses = await finetuneLlamaLora({
    device,
    steps,
    quantize: process.argv.includes('--quantize'),
    log: (s, l) => (s % 5 === 0 || s === steps - 1) && console.log(`step ${String(s).padStart(4)}  loss ${l.toFixed(4)}`),
  });
  console.log(`${device}: loss ${losses[0].toFixed(4)} -> ${losses[losses.length - 1].toFixed(4)}`);
}
