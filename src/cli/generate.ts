import { existsSync } from 'node:fs';

/**
 * `xpu generate --model FILE.gguf "prompt"`: load a GGUF language model and stream its
 * continuation (or, with --chat, its answer) to stdout as it is generated. Numbers about the run
 * go to stderr with --stats, so stdout is only the model's text.
 */

export interface GenerateCliOptions {
  model: string;
  chat?: boolean;
  system?: string;
  device?: 'xpu' | 'cpu';
  maxTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
  stats?: boolean;
}

export async function runGenerate(prompt: string, opts: GenerateCliOptions): Promise<number> {
  if (!existsSync(opts.model)) {
    process.stderr.write(`xpu generate: no such model file: ${opts.model}\n`);
    return 1;
  }
  // Opening the GPU costs time: only once the arguments are known good.
  const xpu = await import('../index.js');
  await xpu.ready();
  const t0 = performance.now();
  let lm: Awaited<ReturnType<typeof xpu.llm.load>> | undefined;
  try {
    lm = await xpu.llm.load(opts.model, { device: opts.device });
    const loadMs = performance.now() - t0;
    const g = lm.generate(prompt, {
      chat: opts.chat,
      system: opts.system,
      maxTokens: opts.maxTokens,
      temperature: opts.temperature,
      topK: opts.topK,
      topP: opts.topP,
      seed: opts.seed,
    });
    for await (const piece of g) process.stdout.write(piece);
    process.stdout.write('\n');
    if (opts.stats) {
      const s = g.stats;
      process.stderr.write(
        `${lm.name} on ${lm.model.device}: load ${(loadMs / 1000).toFixed(2)} s; ` +
          `prompt ${s.promptTokens} tokens in ${s.prefillMs.toFixed(0)} ms (${s.prefillTokensPerS.toFixed(1)} tok/s); ` +
          `${s.newTokens} new tokens, decode ${s.decodeTokensPerS.toFixed(1)} tok/s; stop: ${s.finishReason}\n`,
      );
    }
    return 0;
  } catch (e) {
    process.stderr.write(`xpu generate: ${(e as Error).message}\n`);
    return 1;
  } finally {
    lm?.dispose();
  }
}
