import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectClose, randomData, testDevices, xpu } from './helpers.js';
import { trainMlp } from '../bench/examples/train_mlp.js';
import { finetuneLlamaLora } from '../bench/examples/finetune_llama_lora.js';
import type { Tensor } from '../src/index.js';

/** nn for training: parameters, train/eval, the new layers, state dicts and checkpoints, LoRA, and a small MLP whose loss falls. */
const nn = xpu.nn;
const read = async (t: Tensor): Promise<number[]> => Array.from((await t.data()) as Float32Array);
const f32 = (a: ArrayLike<number>): number[] => Array.from(Float32Array.from(a));

describe.each(testDevices())('nn training on %s', (device) => {
  it('parameters(), requiresGrad defaults, train() / eval(), Sequential and Dropout', async () => {
    const model = new nn.Sequential(
      new nn.Linear(4, 3, { device }),
      new nn.ReLU(),
      new nn.Dropout(0.5),
      new nn.Linear(3, 2, { device, bias: false }),
    );
    expect([...model.namedParameters()].map(([n]) => n)).toEqual(['0.weight', '0.bias', '3.weight']);
    expect([...model.parameters()].length).toBe(3);
    const moved = await new nn.Sequential(new nn.Linear(4, 3)).to(device);
    expect([...moved.parameters()].length).toBe(2);
    expect([new nn.Embedding(3, 2, { device }), new nn.RMSNorm(2, { device })].map((m) => [...m.parameters()].length)).toEqual([1, 1]);
    expect([...new nn.Embedding(3, 2, { device, random: false }).parameters()]).toEqual([]);
    expect([...new xpu.llama.LlamaForCausalLM(xpu.llama.LLAMA_TINY, { device }).parameters()]).toEqual([]);
    const frozen = new nn.Linear(4, 3, { device, random: false });
    expect(frozen.weight).toMatchObject({ requiresGrad: false });
    expect([...frozen.parameters()]).toEqual([]);
    expect(model.training).toBe(true);
    model.eval();
    expect([...model.namedModules()].every(([, m]) => !m.training)).toBe(true);
    const x = xpu.tensor(f32(randomData(8, 1)), { shape: [2, 4], device });
    const [w0, b0, w1] = await Promise.all([...model.parameters()].map(read));
    // eval: Dropout is the identity, so the output is the plain MLP's.
    const ref = [0, 1].flatMap((r) => {
      const xs = Array.from({ length: 4 }, (_, k) => Math.fround(randomData(8, 1)[r * 4 + k]));
      const h = [0, 1, 2].map((j) =>
        Math.max(
          0,
          xs.reduce((a, v, k) => a + v * w0[j * 4 + k], b0[j]),
        ),
      );
      return [0, 1].map((o) => h.reduce((a, v, j) => a + v * w1[o * 3 + j], 0));
    });
    expectClose(await read(model.forward(x)), ref, 1e-5, 'eval forward');
    model.train();
    const drop = new nn.Dropout(0.5);
    const ones = xpu.ones([1000], { device });
    const kept = (await read(drop.forward(ones))).filter((v) => v !== 0);
    expect(kept.every((v) => v === 2)).toBe(true);
    expect(kept.length).toBeGreaterThan(350);
    expect(kept.length).toBeLessThan(650);
  });

  it('LayerNorm and the activation modules match their ops', async () => {
    const x = xpu.tensor(f32(randomData(12, 2)), { shape: [3, 4], device });
    const ln = new nn.LayerNorm(4, { device });
    expect([...ln.parameters()].length).toBe(2);
    expectClose(await read(ln.forward(x)), await read(xpu.layerNorm(x, [4])), 1e-6, 'LayerNorm');
    const pairs: [{ forward(x: Tensor): Tensor }, (x: Tensor) => Tensor][] = [
      [new nn.ReLU(), xpu.relu],
      [new nn.GELU(), (t) => xpu.gelu(t)],
      [new nn.GELU('tanh'), (t) => xpu.gelu(t, { approximate: 'tanh' })],
      [new nn.SiLU(), xpu.silu],
      [new nn.Tanh(), xpu.tanh],
      [new nn.Sigmoid(), xpu.sigmoid],
      [new nn.Softmax(1), (t) => xpu.softmax(t, 1)],
      [new nn.LogSoftmax(1), (t) => xpu.logSoftmax(t, 1)],
    ];
    for (const [m, f] of pairs) expect(await read(m.forward(x))).toEqual(await read(f(x)));
  });

  it('stateDict / loadStateDict in place, and safetensors checkpoints', async () => {
    const a = new nn.Sequential(new nn.Linear(3, 2, { device }), new nn.LayerNorm(2, { device }));
    const b = new nn.Sequential(new nn.Linear(3, 2, { device }), new nn.LayerNorm(2, { device }));
    const weightB = b.getParameter('0.weight');
    expect([...a.stateDict().keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    b.loadStateDict(a.stateDict());
    expect(b.getParameter('0.weight')).toBe(weightB);
    expect(await read(weightB as Tensor)).toEqual(await read(a.getParameter('0.weight') as Tensor));
    expect(() => b.loadStateDict(new Map([['0.weight', xpu.zeros([2, 3], { device })]]))).toThrow(xpu.XpuValueError);
    expect(b.loadStateDict(new Map([['0.weight', xpu.zeros([2, 3], { device })]]), { strict: false }).missingKeys).toEqual([
      '0.bias',
      '1.weight',
      '1.bias',
    ]);
    expect(() => b.loadStateDict(new Map([['0.weight', xpu.zeros([3, 2], { device })]]), { strict: false })).toThrow(xpu.XpuShapeError);
    const dir = mkdtempSync(join(tmpdir(), 'xpu-ckpt-'));
    try {
      const path = join(dir, 'model.safetensors');
      await nn.saveCheckpoint(a, path, { metadata: { step: '3' } });
      const c = new nn.Sequential(new nn.Linear(3, 2, { device }), new nn.LayerNorm(2, { device }));
      const res = await nn.loadCheckpoint(c, path);
      expect(res.metadata.step).toBe('3');
      for (const [name, p] of a.stateDict()) expect(await read(c.getParameter(name) as Tensor)).toEqual(await read(p));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('LoRA: a fresh adapter keeps the output, gradients reach only the adapter and the input, merge folds it in', async () => {
    const model = new nn.Sequential(new nn.Linear(6, 5, { device }), new nn.SiLU(), new nn.Linear(5, 3, { device }));
    const x = xpu.tensor(f32(randomData(12, 3)), { shape: [2, 6], device, requiresGrad: true });
    const before = await read(xpu.noGrad(() => model.forward(x)));
    const adapters = nn.lora.apply(model, { rank: 2, alpha: 4, targets: ['0'] });
    expect([...adapters.keys()]).toEqual(['0']);
    expect([...model.namedParameters()].map(([n]) => n)).toEqual(['0.weight', '0.bias', '0.lora_A', '0.lora_B', '2.weight', '2.bias']);
    expect([...model.parameters()].length).toBe(2);
    expectClose(await read(model.forward(x)), before, 1e-6, 'fresh adapter');
    // Give B values, then check the gradients of A, B and x against float64 references.
    const ad = adapters.get('0') as InstanceType<typeof nn.lora.LoraLinear>;
    const bVals = f32(randomData(10, 4));
    ad.lora_B.grad = null;
    xpu.noGrad(() => xpu.copyInto(ad.lora_B, xpu.tensor(bVals, { shape: [5, 2], device })));
    const out = ad.forward(x);
    xpu.sum(out).backward();
    const [W, bias, A] = await Promise.all([ad.weight as Tensor, ad.bias as Tensor, ad.lora_A].map(read));
    const xs = await read(x);
    const s = 2; // alpha / rank
    // y = x W^T + b + s (x A^T) B^T; d sum(y): dB[o, r] = s sum_n (x A^T)[n, r]; dA[r, k] = s sum_n sum_o B[o, r] x[n, k]; dx = W^T 1 + s A^T B^T 1.
    const xa = [0, 1].map((n) => [0, 1].map((r) => xs.slice(n * 6, n * 6 + 6).reduce((acc, v, k) => acc + v * A[r * 6 + k], 0)));
    const yRef = [0, 1].flatMap((n) =>
      [0, 1, 2, 3, 4].map(
        (o) =>
          xs.slice(n * 6, n * 6 + 6).reduce((acc, v, k) => acc + v * W[o * 6 + k], bias[o]) +
          s * (xa[n][0] * bVals[o * 2] + xa[n][1] * bVals[o * 2 + 1]),
      ),
    );
    expectClose(await read(out), yRef, 1e-5, 'lora forward');
    const colB = [0, 1].map((r) => [0, 1, 2, 3, 4].reduce((acc, o) => acc + bVals[o * 2 + r], 0));
    expectClose(
      await read(ad.lora_B.grad as unknown as Tensor),
      [0, 1, 2, 3, 4].flatMap(() => [0, 1].map((r) => s * (xa[0][r] + xa[1][r]))),
      1e-5,
      'dB',
    );
    expectClose(
      await read(ad.lora_A.grad as unknown as Tensor),
      [0, 1].flatMap((r) => [0, 1, 2, 3, 4, 5].map((k) => s * colB[r] * (xs[k] + xs[6 + k]))),
      1e-5,
      'dA',
    );
    const dx = [0, 1, 2, 3, 4, 5].map(
      (k) => [0, 1, 2, 3, 4].reduce((acc, o) => acc + W[o * 6 + k], 0) + s * (colB[0] * A[k] + colB[1] * A[6 + k]),
    );
    expectClose(await read(x.grad as unknown as Tensor), [...dx, ...dx], 1e-5, 'dx');
    expect((ad.weight as Tensor).grad).toBe(null);
    // merge: the plain layer now computes the same output.
    const adapted = await read(xpu.noGrad(() => ad.forward(x)));
    nn.lora.merge(model);
    expect(ad.merged).toBe(true);
    expectClose(await read(xpu.noGrad(() => ad.forward(x))), adapted, 1e-5, 'merged');
    ad.unmerge();
    expectClose(await read(ad.weight as Tensor), W, 1e-5, 'unmerged');
  });

  it('LoRA over a quantized base: gradients flow to the adapter and the input only', async () => {
    const lin = new nn.Sequential(new nn.Linear(32, 8, { device }));
    xpu.quant.quantizeModule(lin, { scheme: 'int8_weight_only' } as never);
    const adapters = nn.lora.apply(lin, { rank: 4 });
    const ad = adapters.get('0') as InstanceType<typeof nn.lora.LoraLinear>;
    xpu.noGrad(() => xpu.copyInto(ad.lora_B, xpu.full([8, 4], 0.1, { device })));
    const x = xpu.tensor(f32(randomData(64, 5)), { shape: [2, 32], device, requiresGrad: true });
    xpu.sum(lin.forward(x)).backward();
    expect(ad.lora_A.grad).not.toBe(null);
    expect(ad.lora_B.grad).not.toBe(null);
    expect(x.grad).not.toBe(null);
    expect([...lin.parameters()].length).toBe(2);
  });

  it('an MLP trained with AdamW on a synthetic task: the loss falls by 3x', async () => {
    const losses = await trainMlp({ device, steps: device === 'cpu' ? 60 : 40, seed: 1 });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 3);
  });

  it('LoRA fine-tuning of a small Llama on a text: the loss falls by ~2x (dense base on cpu, int8 base on both)', async () => {
    const mean3 = (l: number[]) => (l[l.length - 1] + l[l.length - 2] + l[l.length - 3]) / 3;
    for (const quantize of device === 'cpu' ? [false, true] : [true]) {
      const losses = await finetuneLlamaLora({ device, steps: device === 'cpu' ? 40 : 30, quantize });
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(mean3(losses), `quantize ${quantize}: ${losses.map((v) => v.toFixed(2)).join(' ')}`).toBeLessThan(0.55 * losses[0]);
    }
  });
});

describe('nn training errors', () => {
  it('typed errors', () => {
    expect(() => new nn.Dropout(2)).toThrow(xpu.XpuValueError);
    expect(() => new nn.LayerNorm(0)).toThrow(xpu.XpuValueError);
    expect(() => new nn.Sequential({} as never)).toThrow(xpu.XpuTypeError);
    expect(() => nn.lora.apply(new nn.Sequential(new nn.ReLU()))).toThrow(xpu.XpuValueError);
    expect(() => nn.lora.apply(new nn.Linear(2, 2), { rank: 0 })).toThrow(xpu.XpuValueError);
  });
});
