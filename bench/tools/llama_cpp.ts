/**
 * llama.cpp through node-llama-cpp (a devDependency pinned at 3.21.1), as the peer of `bench
 * model` and the oracle of bench/tools/llama_cpp_agreement.ts and tests/llama_cpp_tokenizer.test.ts.
 * Its llama.cpp binaries come prebuilt inside the npm packages @node-llama-cpp/linux-x64(-vulkan);
 * `build: 'never'` keeps it from ever downloading or compiling one (install with
 * NODE_LLAMA_CPP_SKIP_DOWNLOAD=true). Loaded with a dynamic import: the package is a
 * devDependency, absent from an installed xpu.
 */
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';

export type LlamaCppGpu = false | 'vulkan';

export interface LlamaCppPeer {
  llama: Llama;
  model: LlamaModel;
  gpu: LlamaCppGpu;
  dispose(): Promise<void>;
}

const llamas = new Map<string, Promise<Llama>>();

/** node-llama-cpp's binding for CPU (gpu false) or Vulkan, once per process. */
export async function getLlamaCpp(gpu: LlamaCppGpu): Promise<Llama> {
  const key = String(gpu);
  let p = llamas.get(key);
  if (!p) {
    p = (async () => {
      let mod: typeof import('node-llama-cpp');
      try {
        mod = await import('node-llama-cpp');
      } catch (e) {
        throw new Error(
          `node-llama-cpp is not installed (it is a devDependency of xpu; npm install with NODE_LLAMA_CPP_SKIP_DOWNLOAD=true): ${(e as Error).message}`,
        );
      }
      // ggml's Vulkan backend skips CPU-type devices (lavapipe) unless GGML_VK_VISIBLE_DEVICES
      // names them; without it "Vulkan" silently runs on llama.cpp's CPU backend.
      if (gpu === 'vulkan') process.env.GGML_VK_VISIBLE_DEVICES ??= '0';
      const llama = await mod.getLlama({ gpu, build: 'never', logLevel: mod.LlamaLogLevel.error, progressLogs: false });
      if (gpu === 'vulkan' && (await llama.getGpuDeviceNames()).length === 0) {
        throw new Error("llama.cpp's Vulkan backend found no device (GGML_VK_VISIBLE_DEVICES picks one by index)");
      }
      return llama;
    })();
    llamas.set(key, p);
  }
  return p;
}

/** The GGUF loaded by llama.cpp: every layer on the GPU for 'vulkan' (checked), none for CPU. */
export async function openLlamaCpp(modelPath: string, gpu: LlamaCppGpu, options: { vocabOnly?: boolean } = {}): Promise<LlamaCppPeer> {
  const llama = await getLlamaCpp(gpu);
  const model = await llama.loadModel({ modelPath, gpuLayers: gpu === false ? 0 : 'max', vocabOnly: options.vocabOnly });
  if (gpu !== false && !options.vocabOnly && model.gpuLayers === 0) {
    await model.dispose();
    throw new Error('llama.cpp put no layer on the Vulkan device');
  }
  return { llama, model, gpu, dispose: () => model.dispose() };
}

/**
 * 'default': flash attention on an f16 KV cache (llama.cpp's CPU defaults); 'f32': a float32 KV
 * cache and the unfused attention (softmax(K Q) V as three ggml ops), for measuring how much of a
 * difference the attention's arithmetic alone makes.
 */
export type LlamaCppAttention = 'default' | 'f32';

/**
 * A context for one sequence. threads: llama.cpp's CPU threads (the comparison uses 2, this VM's
 * cores). Flash attention and the KV cache type stay llama.cpp's defaults for the device (CPU:
 * flash attention with an f16 KV cache), as a user of node-llama-cpp gets them.
 */
export async function llamaCppSequence(
  peer: LlamaCppPeer,
  contextSize: number,
  threads: number,
  attention: LlamaCppAttention = 'default',
): Promise<{ context: LlamaContext; sequence: LlamaContextSequence }> {
  const f32 = attention === 'f32' ? { flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } : {};
  const context = await peer.model.createContext({
    contextSize,
    threads,
    batchSize: Math.min(512, contextSize),
    sequences: 1,
    ...(f32 as object),
  });
  return { context, sequence: context.getSequence() };
}

export interface LlamaCppTiming {
  /** Milliseconds from the call to the first generated token (the prompt's forward + one sample). */
  prefillMs: number;
  /** Milliseconds for the remaining tokens. */
  decodeMs: number;
  tokens: number[];
}

/**
 * Greedy generation of `newTokens` tokens after `prompt` (token ids, fed as they are) in a fresh
 * sequence state, timed as xpu's generate() times itself: prefill = prompt forward + first token,
 * decode = each later token. End-of-generation tokens do not stop it (a fixed count, as in xpu's
 * benchmark).
 */
export async function llamaCppGreedy(
  sequence: LlamaContextSequence,
  prompt: readonly number[],
  newTokens: number,
): Promise<LlamaCppTiming> {
  await sequence.clearHistory();
  const tokens: number[] = [];
  const t0 = performance.now();
  let tFirst = t0;
  for await (const t of sequence.evaluate(prompt.slice() as never, { temperature: 0 })) {
    if (tokens.length === 0) tFirst = performance.now();
    tokens.push(t as unknown as number);
    if (tokens.length >= newTokens) break;
  }
  const t1 = performance.now();
  return { prefillMs: tFirst - t0, decodeMs: t1 - tFirst, tokens };
}

/**
 * Teacher forcing: llama.cpp's greedy next token after every prefix of `ids` (position i predicts
 * ids[i + 1]), with its probability, in one evaluation of the whole text.
 */
export async function llamaCppNextTokens(
  sequence: LlamaContextSequence,
  ids: readonly number[],
): Promise<{ token: number; confidence: number }[]> {
  await sequence.clearHistory();
  const input = ids.map((t) => [t, { generateNext: { token: true, confidence: true, options: { temperature: 0 } } }] as const);
  const out = await sequence.controlledEvaluate(input as never);
  return out.map((o, i) => {
    const next = (o as { next?: { token?: number | null; confidence?: number } } | undefined)?.next;
    if (next?.token === undefined || next.token === null) throw new Error(`llama.cpp gave no next token at position ${i}`);
    return { token: next.token, confidence: next.confidence ?? NaN };
  });
}
