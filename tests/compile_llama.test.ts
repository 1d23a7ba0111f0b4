import { describe, expect, it } from 'vitest';
import { expectClose, testDevices, xpu } from './helpers.js';
import { requireModel, runModelTests } from './model_files.js';
import { llamaReference, type RefConfig, type Weights } from './llama_reference.js';

// model.compile(): the decode step through a static KV cache (src/models/llama/static_decode.ts),
// recorded once by xpu.compile and replayed for every token.

type Cfg = typeof xpu.llama.LLAMA_TINY;
type Llama = InstanceType<typeof xpu.llama.LlamaForCausalLM>;

const CFG: Cfg = { ...xpu.llama.LLAMA_TINY, numLayers: 2 };
const PROMPT = [5, 17, 3, 96, 42];
const NEW = 8;

const refCfg = (c: Cfg): RefConfig => ({
  vocab: c.vocabSize,
  hidden: c.hiddenSize,
  inter: c.intermediateSize,
  layers: c.numLayers,
  heads: c.numHeads,
  kvHeads: c.numKvHeads,
  theta: c.ropeTheta,
  eps: c.rmsNormEps,
});

function build(device: 'cpu' | 'xpu'): Llama {
  xpu.manualSeed(3);
  return new xpu.llama.LlamaForCausalLM(CFG, { device });
}

async function weights(m: Llama): Promise<Weights> {
  const w: Weights = new Map();
  for (const [n, t] of m.stateDict()) w.set(n, Float64Array.from(await t.data()));
  return w;
}

describe('llama model.compile()', () => {
  for (const device of testDevices()) {
    it(`compiled greedy decode gives eager's tokens, one capture then replays, on ${device}`, async () => {
      const m = build(device);
      try {
        const eager = await m.generate(PROMPT, { maxNewTokens: NEW });
        expect(m.compileStats()).toBeNull();
        m.compile({ fullgraph: true });
        expect(m.isCompiled).toBe(true);
        const first = await m.generate(PROMPT, { maxNewTokens: NEW });
        expect(first.tokens).toEqual(eager.tokens);
        // The prefill picks token 1 eagerly; decode step 1 records, steps 2 .. NEW - 1 replay.
        let s = m.compileStats()!;
        expect(s.captures).toBe(1);
        expect(s.replays).toBe(NEW - 2);
        expect(s.fallbackReason).toBeNull();
        // A second call (another prompt, same batch and cache size) replays every step.
        const other = PROMPT.map((t) => (t * 7 + 1) % CFG.vocabSize);
        const again = await m.generate(other, { maxNewTokens: NEW });
        s = m.compileStats()!;
        expect(s.captures).toBe(1);
        expect(s.replays).toBe(2 * NEW - 3);
        m.eager();
        expect((await m.generate(other, { maxNewTokens: NEW })).tokens).toEqual(again.tokens);
      } finally {
        m.dispose();
      }
    });

    it(`compiled step logits match a float64 reference at every position on ${device} (stale cache rows masked)`, async () => {
      const m = build(device);
      try {
        const w = await weights(m);
        m.compile();
        const seq = [...PROMPT];
        // A first run leaves other tokens' K/V past the prompt: the mask must hide them.
        await m.generate(
          seq.map((t) => (t + 11) % CFG.vocabSize),
          { maxNewTokens: NEW },
        );
        const fixed = m.staticDecode(1, seq.length + 4)!;
        const ids = xpu.tensor(Int32Array.from(seq), { shape: [1, seq.length], device });
        m.forward(ids, { start: 0, cache: fixed.cache }).dispose();
        ids.dispose();
        for (let k = 0; k < 4; k++) {
          const tok = (seq[seq.length - 1] * 13 + k) % CFG.vocabSize;
          const t = xpu.tensor(Int32Array.from([tok]), { shape: [1, 1], device });
          const logits = fixed.step(t, seq.length);
          t.dispose();
          seq.push(tok);
          const got = (await logits.data()) as Float32Array;
          logits.dispose();
          const ref = llamaReference(refCfg(CFG), w, seq, false);
          expectClose(got, ref.subarray(ref.length - CFG.vocabSize), 1e-4, `position ${seq.length - 1}`);
        }
        expect(m.compileStats()!.captures).toBe(1);
      } finally {
        m.dispose();
      }
    });

    it(`layers whose weights cannot be concatenated (int8 q_proj, up_proj) keep their own projections, eager's tokens, on ${device}`, async () => {
      const m = build(device);
      try {
        const names = xpu.quant.quantizeModule(m, { scheme: 'int8_weight_only', filter: (n) => /q_proj|up_proj/.test(n) });
        expect(names.length).toBe(2 * CFG.numLayers);
        const eager = await m.generate(PROMPT, { maxNewTokens: 5 });
        m.compile({ fullgraph: true });
        expect((await m.generate(PROMPT, { maxNewTokens: 5 })).tokens).toEqual(eager.tokens);
        expect(m.compileStats()!.replays).toBe(3);
      } finally {
        m.dispose();
      }
    });
  }

  it('a batch change builds a new static cache and records again (batched rows decode as eager does)', async () => {
    const m = build('cpu');
    try {
      const eager = await m.generate([PROMPT, PROMPT.slice().reverse()], { maxNewTokens: 4 });
      m.compile({ maxCacheSize: 1 });
      const batched = await m.generate([PROMPT, PROMPT.slice().reverse()], { maxNewTokens: 4 });
      expect(batched.sequences).toEqual(eager.sequences);
      await m.generate(PROMPT, { maxNewTokens: 4 });
      expect(m.compileStats()!.captures).toBe(2);
      expect(m.compileStats()!.cacheSize).toBe(1);
    } finally {
      m.dispose();
    }
  });
});

describe.runIf(runModelTests)('xpu.llm with lm.model.compile(): SmolLM2-135M-Instruct on cpu', () => {
  it('streams the same greedy text as eager, the step recorded once', async () => {
    const lm = await xpu.llm.load(requireModel(), { device: 'cpu' });
    try {
      const eager = lm.generate('The capital of France is', { maxTokens: 6 });
      const eagerText = await eager.text();
      lm.model.compile();
      const compiled = lm.generate('The capital of France is', { maxTokens: 6 });
      expect(await compiled.text()).toBe(eagerText);
      expect(compiled.tokens).toEqual(eager.tokens);
      const s = lm.model.compileStats()!;
      expect(s.captures).toBe(1);
      expect(s.replays).toBe(4);
    } finally {
      lm.dispose();
    }
  }, 120_000);
});
