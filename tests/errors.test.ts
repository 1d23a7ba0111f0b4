import { describe, expect, it } from 'vitest';
import { fmtValue, typeName } from '../src/format_value.js';
import { testDevices, xpu, caught } from './helpers.js';

describe.each(testDevices())('typed errors on %s', (device) => {
  it('shape mismatch names the op and both shapes, and harms no tensor', async () => {
    const a = xpu.tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { device },
    );
    const e = caught(() => a.add(xpu.ones([4], { device })), xpu.XpuShapeError);
    expect(e.op).toBe('add');
    expect(e.message).toMatch(/add\(\).*\[2, 3\] and \[4\]/);
    expect(await a.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(await a.add(1).toArray()).toEqual([
      [2, 3, 4],
      [5, 6, 7],
    ]);
  });

  it('unsupported or unknown dtypes', () => {
    const e = caught(() => xpu.zeros([2], { device, dtype: 'int64' as never }), xpu.XpuDTypeError);
    expect(e.got).toBe('int64');
    caught(() => xpu.matmul(xpu.ones([2, 2], { device, dtype: 'int32' }), xpu.ones([2, 2], { device, dtype: 'int32' })), xpu.XpuDTypeError);
    caught(() => xpu.ones([2], { device, dtype: 'bool' }).sub(xpu.ones([2], { device, dtype: 'bool' })), xpu.XpuDTypeError);
    caught(() => xpu.where(xpu.ones([2], { device }), 1, 2), xpu.XpuDTypeError);
  });

  it('dim out of range', () => {
    const a = xpu.ones([2, 3], { device });
    const e = caught(() => a.transpose(0, 5), xpu.XpuIndexError);
    expect(e.arg).toBe('dim1');
    expect(e.expected).toContain('[-2, 1]');
    caught(() => a.narrow(1, 2, 5), xpu.XpuIndexError);
    caught(() => a.select(0, 2), xpu.XpuIndexError);
  });

  it('use after dispose', () => {
    const a = xpu.ones([2], { device });
    a.dispose();
    const e = caught(() => a.add(1), xpu.XpuDisposedError);
    expect(e.op).toBe('add');
    caught(() => a.reshape([2, 1]), xpu.XpuDisposedError);
    return expect(a.data()).rejects.toBeInstanceOf(xpu.XpuDisposedError);
  });

  it('invalid shapes and reshapes', () => {
    caught(() => xpu.zeros([2, -1], { device }), xpu.XpuShapeError);
    caught(() => xpu.ones([2, 3], { device }).reshape([4, 2]), xpu.XpuShapeError);
    caught(() => xpu.ones([2, 3], { device }).T.view([6]), xpu.XpuShapeError);
    caught(() => xpu.tensor([[1, 2], [3]], { device }), xpu.XpuShapeError);
  });

  it('an allocation above the device limits', async () => {
    const huge = device === 'xpu' ? [1 << 20, 1 << 10] : [1 << 30, 1 << 12];
    const e = caught(() => xpu.zeros(huge, { device }), xpu.XpuOutOfMemoryError);
    expect(e.message).toMatch(/bytes|elements/);
    expect(await xpu.ones([2], { device }).add(1).toArray()).toEqual([2, 2]);
  });
});

describe('devices', () => {
  it.runIf(testDevices().includes('xpu'))('mixing devices without .to() is an XpuDeviceError', async () => {
    const a = xpu.ones([2], { device: 'cpu' });
    const b = xpu.ones([2], { device: 'xpu' });
    const e = caught(() => a.add(b), xpu.XpuDeviceError);
    expect(e.message).toMatch(/cpu.*xpu:0|xpu:0.*cpu/);
    expect(await a.to('xpu').add(b).toArray()).toEqual([2, 2]);
  });

  it('unknown device names', () => {
    caught(() => xpu.zeros([1], { device: 'cuda' }), xpu.XpuDeviceError);
    caught(() => xpu.zeros([1], { device: 'xpu:7' }), xpu.XpuDeviceError);
  });
});

/*
 * Bad input gets a typed error, always (issue 13). Every public op is called once per tensor
 * argument with null, undefined, a number, a plain object, a string and a BigInt in that
 * argument's place, and must throw XpuTypeError naming the op and the argument. The ops come from
 * the exports themselves: a function, class method or Tensor method that appears in neither the
 * table of calls below nor a list of things without tensor arguments fails the test, so a new op
 * cannot be forgotten.
 */

type Slot = 'tensor' | 'optional' | 'operand' | 'parameter' | 'bound';
/** Supplies argument `arg` of a call: the valid value, or the bad value under test. */
type Pick = <T>(arg: string, valid: T, slot?: Slot) => T;

/** Small valid inputs on one device. */
function fixtures(device: string) {
  const f32 = (shape: number[], seed: number) =>
    xpu.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7 + seed) % 5) / 5 - 0.4),
      { device, shape },
    );
  const rope = new xpu.nn.RotaryEmbedding(4, 8, 10000);
  return {
    a: f32([2, 3], 1), // [2, 3]
    b: f32([3, 4], 2), // [3, 4]
    v3: f32([3], 3),
    v4: f32([4], 4),
    o24: f32([2, 4], 5),
    w43: f32([4, 3], 6),
    w432: f32([4, 32], 7),
    z23: xpu.zeros([2, 3], { device }),
    one: xpu.tensor([5], { device }),
    b223: f32([2, 2, 3], 8),
    b234: f32([2, 3, 4], 9),
    q: f32([1, 1, 4, 4], 10),
    x124: f32([1, 2, 4], 11),
    x1214: f32([1, 2, 1, 4], 12),
    x1114: f32([1, 1, 1, 4], 13),
    cond: xpu.tensor(
      [
        [true, false, true],
        [false, true, false],
      ],
      { device },
    ),
    mask44: xpu.tril(xpu.ones([4, 4], { device, dtype: 'bool' })),
    idx: xpu.tensor([0, 1], { device, dtype: 'int32' }),
    idx23: xpu.zeros([2, 3], { device, dtype: 'int32' }),
    probs: xpu.ones([3], { device }),
    lin: new xpu.nn.Linear(3, 4, { device }),
    emb: new xpu.nn.Embedding(2, 3, { device }),
    rms: new xpu.nn.RMSNorm(3, { device }),
    mlp: new xpu.nn.SwiGLU(3, 4, { device }),
    gqa: new xpu.nn.GroupedQueryAttention({ hiddenSize: 4, numHeads: 1, numKvHeads: 1, headDim: 4, device }),
    kv: new xpu.nn.KVCache(1, 1, 4, 1, 4, { device }),
    rope,
    mod: xpu.flex.maskMod('kv_idx <= q_idx'),
    module: () => new xpu.nn.Linear(32, 4, { device }),
    seq: new xpu.nn.Sequential(new xpu.nn.ReLU()),
    ln: new xpu.nn.LayerNorm(3, { device }),
    idx2: xpu.tensor([0, 1], { device, dtype: 'int32' }),
    lora: xpu.nn.lora.apply(new xpu.nn.Sequential(new xpu.nn.Linear(3, 4, { device })), { rank: 2 }).get('0')!,
    int4: () => xpu.quant.quantize(f32([8, 32], 14), { scheme: 'int4_weight_only', groupSize: 32 }),
  };
}
type F = ReturnType<typeof fixtures>;

interface Entry {
  /** The op name the error must carry. */
  op: string;
  call: (f: F, p: Pick) => unknown;
  /** What `expected` must mention (default 'Tensor'). */
  expected?: string;
}

const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
const UNARY = ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'silu', 'gelu'] as const;
const REDUCTIONS = ['sum', 'prod', 'mean', 'max', 'min', 'argmax', 'argmin', 'var', 'std'] as const;
/** Issue 15's one-tensor ops (float input is valid for each). */
const UNARY_OPS = [
  'floor',
  'ceil',
  'trunc',
  'round',
  'sign',
  'erf',
  'log1p',
  'expm1',
  'reciprocal',
  'square',
  'isnan',
  'isinf',
  'isfinite',
  'logicalNot',
  'hardswish',
  'mish',
  'leakyRelu',
  'elu',
  'softplus',
  'any',
  'all',
  'norm',
] as const;
const LOGICAL = ['logicalAnd', 'logicalOr', 'logicalXor'] as const;
const DIVISIONS = ['floorDivide', 'remainder', 'fmod'] as const;
const ONE_TENSOR_VIEWS: Record<string, (t: xpu.Tensor) => unknown> = {
  view: (t) => xpu.view(t, [6]),
  reshape: (t) => xpu.reshape(t, [3, 2]),
  permute: (t) => xpu.permute(t, [1, 0]),
  transpose: (t) => xpu.transpose(t, 0, 1),
  t: (t) => xpu.t(t),
  narrow: (t) => xpu.narrow(t, 1, 0, 2),
  slice: (t) => xpu.slice(t, 1, 0, 2),
  select: (t) => xpu.select(t, 0, 1),
  squeeze: (t) => xpu.squeeze(t),
  unsqueeze: (t) => xpu.unsqueeze(t, 0),
  flatten: (t) => xpu.flatten(t),
  contiguous: (t) => xpu.contiguous(t),
  clone: (t) => xpu.clone(t),
  triu: (t) => xpu.triu(t),
  tril: (t) => xpu.tril(t),
  softmax: (t) => xpu.softmax(t, 1),
  logSoftmax: (t) => xpu.logSoftmax(t, 1),
  zerosLike: (t) => xpu.zerosLike(t),
  onesLike: (t) => xpu.onesLike(t),
  fullLike: (t) => xpu.fullLike(t, 2),
  to: (t) => xpu.to(t, 'float16'),
  keep: (t) => xpu.keep(t),
  data: (t) => xpu.data(t),
  toArray: (t) => xpu.toArray(t),
  toAsync: (t) => xpu.toAsync(t, 'cpu'),
};

/** Top-level exports (and namespaced functions and methods) that take tensors: one valid call each. */
const CALLS: Record<string, Entry> = {
  ...Object.fromEntries(
    BINARY.map((n) => [n, { op: n, call: (f: F, p: Pick) => xpu[n](p('input', f.a, 'operand'), p('other', f.a, 'operand')) }]),
  ),
  ...Object.fromEntries(UNARY.map((n) => [n, { op: n, call: (f: F, p: Pick) => xpu[n](p('input', f.a)) }])),
  ...Object.fromEntries(REDUCTIONS.map((n) => [n, { op: n, call: (f: F, p: Pick) => xpu[n](p('input', f.a)) }])),
  ...Object.fromEntries(Object.entries(ONE_TENSOR_VIEWS).map(([n, fn]) => [n, { op: n, call: (f: F, p: Pick) => fn(p('input', f.a)) }])),
  ...Object.fromEntries(UNARY_OPS.map((n) => [n, { op: n, call: (f: F, p: Pick) => xpu[n](p('input', f.a)) }])),
  ...Object.fromEntries(LOGICAL.map((n) => [n, { op: n, call: (f: F, p: Pick) => xpu[n](p('input', f.a), p('other', f.a)) }])),
  ...Object.fromEntries(
    DIVISIONS.map((n) => [n, { op: n, call: (f: F, p: Pick) => xpu[n](p('input', f.a, 'operand'), p('other', f.a, 'operand')) }]),
  ),
  clamp: { op: 'clamp', call: (f, p) => xpu.clamp(p('input', f.a), p('min', f.a, 'bound'), p('max', f.a, 'bound')) },
  clip: { op: 'clip', call: (f, p) => xpu.clip(p('input', f.a), p('min', f.a, 'bound'), p('max', f.a, 'bound')) },
  lerp: { op: 'lerp', call: (f, p) => xpu.lerp(p('input', f.a), p('end', f.a), p('weight', f.a, 'operand')) },
  maskedFill: { op: 'maskedFill', call: (f, p) => xpu.maskedFill(p('input', f.a), p('mask', f.cond), p('value', 2, 'operand')) },
  isclose: { op: 'isclose', call: (f, p) => xpu.isclose(p('input', f.a), p('other', f.a)) },
  allclose: { op: 'allclose', call: (f, p) => xpu.allclose(p('input', f.a), p('other', f.a)) },
  logsumexp: { op: 'logsumexp', call: (f, p) => xpu.logsumexp(p('input', f.a), 1) },
  split: { op: 'split', call: (f, p) => xpu.split(p('input', f.a), 1) },
  chunk: { op: 'chunk', call: (f, p) => xpu.chunk(p('input', f.a), 2) },
  repeat: { op: 'repeat', call: (f, p) => xpu.repeat(p('input', f.a), [2, 1]) },
  tile: { op: 'tile', call: (f, p) => xpu.tile(p('input', f.a), [2]) },
  flip: { op: 'flip', call: (f, p) => xpu.flip(p('input', f.a), [0]) },
  roll: { op: 'roll', call: (f, p) => xpu.roll(p('input', f.a), 1, 0) },
  pad: { op: 'pad', call: (f, p) => xpu.pad(p('input', f.a), [1, 1]) },
  cumsum: { op: 'cumsum', call: (f, p) => xpu.cumsum(p('input', f.a), 1) },
  cumprod: { op: 'cumprod', call: (f, p) => xpu.cumprod(p('input', f.a), 1) },
  sort: { op: 'sort', call: (f, p) => xpu.sort(p('input', f.a)) },
  argsort: { op: 'argsort', call: (f, p) => xpu.argsort(p('input', f.a)) },
  topk: { op: 'topk', call: (f, p) => xpu.topk(p('input', f.a), 2) },
  scatter: { op: 'scatter', call: (f, p) => xpu.scatter(p('input', f.a), 1, p('index', f.idx23), p('src', f.a, 'operand')) },
  scatterAdd: { op: 'scatterAdd', call: (f, p) => xpu.scatterAdd(p('input', f.a), 1, p('index', f.idx23), p('src', f.a)) },
  oneHot: { op: 'oneHot', call: (f, p) => xpu.oneHot(p('input', f.idx), 3) },
  dropout: { op: 'dropout', call: (f, p) => xpu.dropout(p('input', f.a), 0.5) },
  multinomial: { op: 'multinomial', call: (f, p) => xpu.multinomial(p('input', f.probs), 2, true) },
  einsum: { op: 'einsum', call: (f, p) => xpu.einsum('ij,jk->ik', p('operands[0]', f.a), p('operands[1]', f.b)) },
  outer: { op: 'outer', call: (f, p) => xpu.outer(p('input', f.v3), p('vec2', f.v4)) },
  dot: { op: 'dot', call: (f, p) => xpu.dot(p('input', f.v3), p('other', f.v3)) },
  expand: { op: 'expand', call: (f, p) => xpu.expand(p('input', f.v3), [2, 3]) },
  item: { op: 'item', call: (f, p) => xpu.item(p('input', f.one)) },
  where: { op: 'where', call: (f, p) => xpu.where(p('condition', f.cond), p('input', f.a, 'operand'), p('other', f.a, 'operand')) },
  matmul: { op: 'matmul', call: (f, p) => xpu.matmul(p('input', f.a), p('other', f.b)) },
  mm: { op: 'mm', call: (f, p) => xpu.mm(p('input', f.a), p('mat2', f.b)) },
  bmm: { op: 'bmm', call: (f, p) => xpu.bmm(p('input', f.b223), p('mat2', f.b234)) },
  addmm: { op: 'addmm', call: (f, p) => xpu.addmm(p('input', f.o24), p('mat1', f.a), p('mat2', f.b)) },
  linear: {
    op: 'linear',
    call: (f, p) =>
      xpu.linear(p('input', f.a), p('weight', f.w43), { bias: p('bias', f.v4, 'optional'), residual: p('residual', f.o24, 'optional') }),
  },
  layerNorm: {
    op: 'layerNorm',
    call: (f, p) => xpu.layerNorm(p('input', f.a), [3], { weight: p('weight', f.v3, 'optional'), bias: p('bias', f.v3, 'optional') }),
  },
  rmsNorm: { op: 'rmsNorm', call: (f, p) => xpu.rmsNorm(p('input', f.a), [3], { weight: p('weight', f.v3, 'optional') }) },
  cat: { op: 'cat', call: (f, p) => xpu.cat([p('tensors[0]', f.a), p('tensors[1]', f.a)], 1) },
  stack: { op: 'stack', call: (f, p) => xpu.stack([p('tensors[0]', f.a), p('tensors[1]', f.a)]) },
  indexSelect: { op: 'indexSelect', call: (f, p) => xpu.indexSelect(p('input', f.a), 1, p('index', f.idx)) },
  gather: { op: 'gather', call: (f, p) => xpu.gather(p('input', f.a), 1, p('index', f.idx23)) },
  embedding: { op: 'embedding', call: (f, p) => xpu.embedding(p('input', f.idx), p('weight', f.a)) },
  copyInto: { op: 'copyInto', call: (f, p) => xpu.copyInto(p('dst', f.z23), p('src', f.a)) },
  applyRotary: { op: 'applyRotary', call: (f, p) => xpu.applyRotary(p('input', f.q), p('cos', f.v4), p('sin', f.v4)) },
  scaledDotProductAttention: {
    op: 'scaledDotProductAttention',
    call: (f, p) =>
      xpu.scaledDotProductAttention(p('query', f.q), p('key', f.q), p('value', f.q), { attnMask: p('attnMask', f.mask44, 'optional') }),
  },
  flexAttention: { op: 'flexAttention', call: (f, p) => xpu.flexAttention(p('query', f.q), p('key', f.q), p('value', f.q)) },
  createBlockMask: { op: 'createBlockMask', expected: 'maskMod', call: (f, p) => xpu.createBlockMask(p('maskMod', f.mod), 1, 1, 4, 4) },
  'nn.attention': {
    op: 'scaledDotProductAttention',
    call: (f, p) => xpu.nn.attention(p('query', f.q), p('key', f.q), p('value', f.q), { attnMask: p('attnMask', f.mask44, 'optional') }),
  },
  'nn.attentionFallback': {
    op: 'attention',
    call: (f, p) => xpu.nn.attentionFallback(p('q', f.q), p('k', f.q), p('v', f.q), { attnMask: p('attnMask', f.mask44, 'optional') }),
  },
  'nn.Linear.forward': {
    op: 'Linear.forward',
    call: (f, p) => f.lin.forward(p('input', f.a), { residual: p('residual', f.o24, 'optional') }),
  },
  'nn.Embedding.forward': { op: 'Embedding.forward', call: (f, p) => f.emb.forward(p('input', f.idx)) },
  'nn.RMSNorm.forward': { op: 'RMSNorm.forward', call: (f, p) => f.rms.forward(p('input', f.a)) },
  'nn.SwiGLU.forward': { op: 'SwiGLU.forward', call: (f, p) => f.mlp.forward(p('input', f.a), p('residual', f.a, 'optional')) },
  'nn.GroupedQueryAttention.forward': {
    op: 'GroupedQueryAttention.forward',
    call: (f, p) => f.gqa.forward(p('input', f.x124), f.rope, 0, undefined, p('residual', f.x124, 'optional')),
  },
  'nn.RotaryEmbedding.apply': { op: 'rope', call: (f, p) => f.rope.apply(p('input', f.x1214), 0) },
  'nn.KVCache.update': { op: 'KVCache.update', call: (f, p) => f.kv.update(0, p('k', f.x1114), p('v', f.x1114), 0) },
  ...Object.fromEntries(
    (['ReLU', 'GELU', 'SiLU', 'Tanh', 'Sigmoid', 'Dropout'] as const).map((n) => [
      `nn.${n}.forward`,
      { op: `${n}.forward`, call: (_f: F, p: Pick) => new xpu.nn[n]().forward(p('input', _f.a)) },
    ]),
  ),
  ...Object.fromEntries(
    (['Softmax', 'LogSoftmax'] as const).map((n) => [
      `nn.${n}.forward`,
      { op: `${n}.forward`, call: (_f: F, p: Pick) => new xpu.nn[n](1).forward(p('input', _f.a)) },
    ]),
  ),
  'autograd.backward': {
    op: 'backward',
    call: (_f, p) => xpu.autograd.backward(p('tensors', xpu.tensor([1, 2], { requiresGrad: true }).sum())),
  },
  'autograd.grad': {
    op: 'grad',
    call: (_f, p) => {
      const x = xpu.tensor([1, 2], { requiresGrad: true });
      return xpu.autograd.grad(p('outputs', x.sum()), p('inputs', x));
    },
  },
  'autograd.gradcheck': {
    op: 'gradcheck',
    call: (_f, p) => xpu.autograd.gradcheck((t: xpu.Tensor) => t.mul(2), [p('inputs[0]', xpu.tensor([1], { requiresGrad: true }))]),
  },
  'optim.clipGradNorm': { op: 'clipGradNorm', call: (f, p) => xpu.optim.clipGradNorm([p('params[0]', f.a)], 1) },
  'optim.Adam': { op: 'Adam.addParamGroup', call: (f, p) => new xpu.optim.Adam([p('params[0]', f.a)]) },
  'optim.AdamW': { op: 'AdamW.addParamGroup', call: (f, p) => new xpu.optim.AdamW([p('params[0]', f.a)]) },
  'nn.functional.crossEntropy': {
    op: 'crossEntropy',
    call: (f, p) => xpu.nn.functional.crossEntropy(p('input', f.a), p('target', f.idx2)),
  },
  'nn.functional.mseLoss': { op: 'mseLoss', call: (f, p) => xpu.nn.functional.mseLoss(p('input', f.a), p('target', f.a)) },
  'nn.functional.l1Loss': { op: 'l1Loss', call: (f, p) => xpu.nn.functional.l1Loss(p('input', f.a), p('target', f.a)) },
  'nn.functional.binaryCrossEntropyWithLogits': {
    op: 'binaryCrossEntropyWithLogits',
    call: (f, p) =>
      xpu.nn.functional.binaryCrossEntropyWithLogits(p('input', f.a), p('target', f.a), {
        weight: p('weight', f.a, 'optional'),
        posWeight: p('posWeight', f.v3, 'optional'),
      }),
  },
  'nn.lora.LoraLinear.forward': {
    op: 'LoraLinear.forward',
    call: (f, p) => f.lora.forward(p('input', f.a), { residual: p('residual', f.o24, 'optional') }),
  },
  'nn.Sequential.forward': { op: 'Sequential.forward', call: (f, p) => f.seq.forward(p('input', f.a)) },
  'nn.LayerNorm.forward': { op: 'LayerNorm.forward', call: (f, p) => f.ln.forward(p('input', f.a)) },
  'nn.Module.setParameter': { op: 'Module', call: (f, p) => f.lin.setParameter('bias', p('bias', f.v4, 'parameter')) },
  'nn.Module.registerBuffer': {
    op: 'Module.registerBuffer',
    call: (f, p) => new xpu.nn.Module().registerBuffer('running', p('tensor', f.v4, 'parameter')),
  },
  'quant.quantize': { op: 'quantize', call: (f, p) => xpu.quant.quantize(p('weight', f.w432), { scheme: 'int8_weight_only' }) },
  'quant.quantizeModule': {
    op: 'quantizeModule',
    expected: 'Module',
    call: (f, p) => xpu.quant.quantizeModule(p('module', f.module()), { scheme: 'int8_weight_only' }),
  },
  'quant.toMatMulNBits': {
    op: 'toMatMulNBits',
    expected: 'QuantizedTensor',
    call: (f, p) => xpu.quant.toMatMulNBits(p('weight', f.int4())),
  },
  'quant.toGptq': { op: 'toGptq', expected: 'QuantizedTensor', call: (f, p) => xpu.quant.toGptq(p('weight', f.int4())) },
  'flex.scoreMod': { op: 'scoreMod', call: (f, p) => xpu.flex.scoreMod('score + s[h]', { s: p('captures.s', f.v4) }) },
  'flex.maskMod': { op: 'maskMod', call: (f, p) => xpu.flex.maskMod('s[h] > 0', { s: p('captures.s', f.v4) }) },
  'flex.createBlockMask': {
    op: 'createBlockMask',
    expected: 'maskMod',
    call: (f, p) => xpu.flex.createBlockMask(p('maskMod', f.mod), 1, 1, 4, 4),
  },
};

/** Tensor methods whose arguments include other tensors: `this` is always valid. */
const METHOD_CALLS: Record<string, Entry> = {
  ...Object.fromEntries(BINARY.map((n) => [n, { op: n, call: (f: F, p: Pick) => f.a[n](p('other', f.a, 'operand')) }])),
  where: { op: 'where', call: (f, p) => f.a.where(p('condition', f.cond), p('other', f.a, 'operand')) },
  ...Object.fromEntries(LOGICAL.map((n) => [n, { op: n, call: (f: F, p: Pick) => f.a[n](p('other', f.a)) }])),
  ...Object.fromEntries(DIVISIONS.map((n) => [n, { op: n, call: (f: F, p: Pick) => f.a[n](p('other', f.a, 'operand')) }])),
  clamp: { op: 'clamp', call: (f, p) => f.a.clamp(p('min', f.a, 'bound'), p('max', f.a, 'bound')) },
  clip: { op: 'clip', call: (f, p) => f.a.clip(p('min', f.a, 'bound'), p('max', f.a, 'bound')) },
  lerp: { op: 'lerp', call: (f, p) => f.a.lerp(p('end', f.a), p('weight', f.a, 'operand')) },
  maskedFill: { op: 'maskedFill', call: (f, p) => f.a.maskedFill(p('mask', f.cond), p('value', 2, 'operand')) },
  isclose: { op: 'isclose', call: (f, p) => f.a.isclose(p('other', f.a)) },
  scatter: { op: 'scatter', call: (f, p) => f.a.scatter(1, p('index', f.idx23), p('src', f.a, 'operand')) },
  scatterAdd: { op: 'scatterAdd', call: (f, p) => f.a.scatterAdd(1, p('index', f.idx23), p('src', f.a)) },
  outer: { op: 'outer', call: (f, p) => f.v3.outer(p('vec2', f.v4)) },
  dot: { op: 'dot', call: (f, p) => f.v3.dot(p('other', f.v3)) },
  allclose: { op: 'allclose', call: (f, p) => f.a.allclose(p('other', f.a)) },
  matmul: { op: 'matmul', call: (f, p) => f.a.matmul(p('other', f.b)) },
  backward: {
    op: 'backward',
    call: (_f, p) =>
      xpu
        .tensor([1, 2], { requiresGrad: true })
        .sum()
        .backward(p('grad', xpu.tensor(1), 'optional')),
  },
  mm: { op: 'mm', call: (f, p) => f.a.mm(p('mat2', f.b)) },
  bmm: { op: 'bmm', call: (f, p) => f.b223.bmm(p('mat2', f.b234)) },
  addmm: { op: 'addmm', call: (f, p) => f.o24.addmm(p('mat1', f.a), p('mat2', f.b)) },
  linear: {
    op: 'linear',
    call: (f, p) => f.a.linear(p('weight', f.w43), { bias: p('bias', f.v4, 'optional'), residual: p('residual', f.o24, 'optional') }),
  },
  indexSelect: { op: 'indexSelect', call: (f, p) => f.a.indexSelect(1, p('index', f.idx)) },
  gather: { op: 'gather', call: (f, p) => f.a.gather(1, p('index', f.idx23)) },
  expandAs: { op: 'expandAs', call: (f, p) => f.v3.expandAs(p('other', f.a)) },
  layerNorm: {
    op: 'layerNorm',
    call: (f, p) => f.a.layerNorm([3], { weight: p('weight', f.v3, 'optional'), bias: p('bias', f.v3, 'optional') }),
  },
  rmsNorm: { op: 'rmsNorm', call: (f, p) => f.a.rmsNorm([3], { weight: p('weight', f.v3, 'optional') }) },
};

/** Exported functions and classes that take no tensor argument (creation from sizes, predicates, classes of errors...). */
const NO_TENSOR_ARGS = new Set([
  'tensor',
  'zeros',
  'ones',
  'full',
  'empty',
  'arange',
  'linspace',
  'eye',
  'rand',
  'randn',
  'manualSeed',
  'getRngState',
  'randint',
  'randperm',
  // compile takes a function (tests/compile.test.ts checks its arguments).
  'compile',
  // A rotary module's cos/sin tables for a device and dtype (no tensor argument).
  'nn.RotaryEmbedding.tables',
  // Grad mode takes a function.
  'noGrad',
  'enableGrad',
  'isGradEnabled',
  'autograd.noGrad',
  'autograd.enableGrad',
  'autograd.isGradEnabled',
  'scope',
  'isTensor',
  'device',
  'defaultDevice',
  'ready',
  'nativeInfo',
  'Tensor',
  'Device',
  'BlockMask',
  'nn.ropeInvFreq',
  'nn.isQuantizedLike',
  'quant.isQuantizedTensor',
  'quant.int8RowStride',
  'quant.roundHalfEven',
  'quant.packInt4',
  'quant.unpackInt4',
  'quant.padInt8Rows',
  'quant.unpadInt8Rows',
  'quant.fromMatMulNBits',
  'quant.fromGptq',
  'flex.parseExpr',
  'flex.BlockMask',
  'nn.ModuleList',
  // Learning-rate schedules: an optimizer and numbers.
  'optim.lrScheduler.linearWarmup',
  'optim.lrScheduler.warmupCosine',
  // LoRA: modules in, adapters out.
  'nn.lora.apply',
  'nn.lora.merge',
  // Checkpoints: a module and a path.
  'nn.saveCheckpoint',
  'nn.loadCheckpoint',
  // GGUF blocks are bytes in, a Float32Array out.
  'quant.dequantizeGguf',
  'quant.canDequantize',
  'quant.ggmlByteSize',
  'quant.ggmlTypeById',
  'quant.ggmlTypeByName',
  // GGUF weight formats: format descriptors, raw block bytes and their word-aligned planes.
  'quant.ggufFormatInfo',
  'quant.ggufWeightFormatOf',
  'quant.isGgufWeightFormat',
  'quant.toGgufPlanes',
  'quant.toGgufBytes',
  'quant.dequantizeGgufPlanes',
  'quant.quantizedFromGguf',
]);
/** Class methods without tensor arguments (constructors take sizes; the rest read or free the object itself). */
const METHODS_WITHOUT_TENSOR_ARGS =
  /^(nn\.\w+\.(namedModules|namedParameters|getParameter|resolveParameter|to|dispose|onMoved|onDispose|registerParameter|registerModule|registerModuleList|parameters|requiresGrad_|train|eval|stateDict|loadStateDict|namedChildren|setModule|namedBuffers|buffers)|nn\.lora\.LoraLinear\.(merge|unmerge)|nn\.lora\.LoraLinear\.(merge|unmerge)|optim\.(\w+\.)?\w+\.(addParamGroup|zeroGrad|step|stateDict|loadStateDict|dispose|stateNames|checkOptions|hyper|apply|getLastLr|lrAt)|quant\.QuantizedTensor\.\w+|(flex\.)?BlockMask\.\w+|Device\.\w+)$/;
/** Namespaces outside this table: their own tests cover argument errors (dist, io), or they take no tensors. */
const OTHER_NAMESPACES = new Set(['accelerator', 'profiler', 'dist', 'io', 'llama', 'llm', 'flex.build']);
/** Tensor methods whose only tensor is `this` (checked by the op they call, see CALLS). */
const TENSOR_METHODS_WITHOUT_TENSOR_ARGS = new Set([
  'constructor',
  'isContiguous',
  'dispose',
  'check',
  'toString',
  'data',
  'toArray',
  'item',
  'to',
  'toAsync',
  'cpu',
  ...UNARY,
  'view',
  'reshape',
  'permute',
  'transpose',
  't',
  'expand',
  'narrow',
  'slice',
  'select',
  'squeeze',
  'unsqueeze',
  'flatten',
  'contiguous',
  'clone',
  ...REDUCTIONS,
  'softmax',
  'logSoftmax',
  'triu',
  'tril',
  ...UNARY_OPS.filter((n) => !['hardswish', 'mish', 'leakyRelu', 'elu', 'softplus'].includes(n)),
  'logsumexp',
  'split',
  'chunk',
  'repeat',
  'tile',
  'flip',
  'roll',
  'cumsum',
  'cumprod',
  'sort',
  'argsort',
  'topk',
  'multinomial',
  'size',
  'dim',
  'float',
  'half',
  'detach',
  'requiresGrad_',
  'retainGrad',
]);

const isClass = (v: unknown): boolean => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v));

/** Every public function, class method and namespace export, by dotted name. */
function publicNames(): { functions: string[]; namespaces: string[] } {
  const functions: string[] = [];
  const namespaces: string[] = [];
  const walk = (prefix: string, ns: Record<string, unknown>): void => {
    for (const [name, v] of Object.entries(ns)) {
      const full = prefix + name;
      if (/^Xpu\w*Error$/.test(name) && isClass(v)) continue; // the error classes themselves
      if (typeof v === 'function') {
        functions.push(full);
        // A class's own methods (inherited ones are listed under the exported base class;
        // Tensor's methods are checked against METHOD_CALLS below).
        if (isClass(v) && v !== xpu.Tensor) {
          const proto = (v as { prototype: object }).prototype;
          for (const m of Object.getOwnPropertyNames(proto)) {
            const d = Object.getOwnPropertyDescriptor(proto, m)!;
            if (m !== 'constructor' && typeof d.value === 'function') functions.push(`${full}.${m}`);
          }
        }
      } else if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === null) {
        namespaces.push(full); // a module namespace object (export * as ...)
        if (!OTHER_NAMESPACES.has(full)) walk(`${full}.`, v as Record<string, unknown>);
      }
    }
  };
  walk('', xpu as unknown as Record<string, unknown>);
  return { functions: [...new Set(functions)], namespaces };
}

const BAD: Record<Slot, unknown[]> = {
  tensor: [null, undefined, 3, {}, 'x', 1n],
  // null and undefined mean "absent" for an optional tensor; 0 must not be taken for absent.
  optional: [0, 3, {}, 'x', 1n],
  // A number or a boolean is a valid scalar operand.
  operand: [null, undefined, {}, 'x', 1n],
  // A module parameter may be set to undefined (an absent optional bias), nothing else but a tensor.
  parameter: [null, 3, {}, 'x', 1n],
  // clamp's bounds: a tensor, a number, or absent (null / undefined).
  bound: [{}, 'x', 1n],
};

/** The error a call throws or rejects with, or undefined if it returned. */
async function outcome(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return e;
  }
}

/** Runs the valid call on cpu fixtures, recording which arguments go through p(). */
async function slotsOf(entry: Entry, f: F): Promise<{ slots: [string, Slot][]; error: unknown }> {
  const slots: [string, Slot][] = [];
  const error = await outcome(() => entry.call(f, (arg, valid, slot = 'tensor') => (slots.push([arg, slot]), valid)));
  return { slots, error };
}

async function expectTypedErrors(name: string, entry: Entry, f: F, slots: [string, Slot][]): Promise<number> {
  let checked = 0;
  for (const [arg, slot] of slots) {
    for (const bad of BAD[slot]) {
      const e = await outcome(() => entry.call(f, (a, valid) => (a === arg ? bad : valid) as never));
      const what = `${name}: ${arg} = ${typeName(bad)}`;
      expect(e, what).toBeInstanceOf(xpu.XpuTypeError);
      const err = e as xpu.XpuTypeError;
      expect([err.op, err.arg], what).toEqual([entry.op, arg]);
      expect(err.expected, what).toContain(entry.expected ?? 'Tensor');
      expect(err.got, what).toBe(typeName(bad));
      expect(err.message, what).toContain(`${entry.op}()`);
      checked++;
    }
  }
  return checked;
}

describe('every public op checks its tensor arguments', () => {
  it('every exported function, class method and Tensor method is in the table or listed as taking no tensors', () => {
    const { functions, namespaces } = publicNames();
    const known = (n: string) => n in CALLS || NO_TENSOR_ARGS.has(n) || METHODS_WITHOUT_TENSOR_ARGS.test(n);
    const classes = new Set(functions.filter((n) => functions.some((m) => m.startsWith(`${n}.`))));
    expect(
      functions.filter((n) => !known(n) && !classes.has(n)),
      'new exports: add each to CALLS in tests/errors.test.ts if it takes a tensor, else to NO_TENSOR_ARGS',
    ).toEqual([]);
    expect(
      namespaces.filter(
        (n) =>
          !['nn', 'quant', 'flex', 'optim', 'optim.lrScheduler', 'autograd', 'nn.functional', 'nn.lora'].includes(n) &&
          !OTHER_NAMESPACES.has(n),
      ),
      'a new namespace: walk it here or add it to OTHER_NAMESPACES',
    ).toEqual([]);
    const methods = Object.getOwnPropertyNames(xpu.Tensor.prototype).filter(
      (m) => typeof Object.getOwnPropertyDescriptor(xpu.Tensor.prototype, m)!.value === 'function',
    );
    expect(
      methods.filter((m) => !(m in METHOD_CALLS) && !TENSOR_METHODS_WITHOUT_TENSOR_ARGS.has(m)),
      'new Tensor methods: add each to METHOD_CALLS or TENSOR_METHODS_WITHOUT_TENSOR_ARGS',
    ).toEqual([]);
    // The lists must not name things that no longer exist either.
    expect(Object.keys(CALLS).filter((n) => !functions.includes(n))).toEqual([]);
    expect(Object.keys(METHOD_CALLS).filter((m) => !methods.includes(m))).toEqual([]);
  });

  it('each table entry is a valid call on cpu that passes at least one tensor through the table', async () => {
    const f = fixtures('cpu');
    for (const [name, entry] of [...Object.entries(CALLS), ...Object.entries(METHOD_CALLS).map(([n, e]) => [`Tensor.${n}`, e] as const)]) {
      const { slots, error } = await slotsOf(entry, f);
      expect(error, `${name}'s valid call threw`).toBeUndefined();
      expect(slots.length, name).toBeGreaterThan(0);
    }
  });
});

describe.each(testDevices())('XpuTypeError for a non-tensor argument on %s', (device) => {
  const cpu = fixtures('cpu');
  const f = device === 'cpu' ? cpu : fixtures(device);
  for (const [name, entry] of Object.entries(CALLS)) {
    it(name, async () => {
      const { slots } = await slotsOf(entry, cpu);
      expect(await expectTypedErrors(name, entry, f, slots)).toBeGreaterThan(0);
    });
  }
  for (const [name, entry] of Object.entries(METHOD_CALLS)) {
    it(`Tensor.${name}`, async () => {
      const { slots } = await slotsOf(entry, cpu);
      expect(await expectTypedErrors(`Tensor.${name}`, entry, f, slots)).toBeGreaterThan(0);
    });
  }

  it("matmul(null, t) names the op and the argument (the issue's reproduction)", () => {
    const e = caught(() => xpu.matmul(null as never, f.b), xpu.XpuTypeError);
    expect(e.message).toBe("matmul(): argument 'input': not a tensor; expected Tensor, got null");
    // XpuTypeError is an XpuValueError: code that caught that for a non-tensor still does.
    expect(e).toBeInstanceOf(xpu.XpuValueError);
  });
});

/*
 * Every numeric argument (sizes, shapes, dims, indices, steps, counts, scalars) goes through one
 * check (intArg / numberArg / checkShape in src/tensor/shape.ts): a value of the wrong type is an
 * XpuTypeError, NaN / an infinity / a fraction where an integer belongs is another XpuError, and
 * formatting the error never throws (BigInt, symbols, objects without a prototype, cycles).
 */

type NumKind = 'int' | 'optionalInt' | 'finite' | 'optionalFinite' | 'number' | 'shape' | 'optionalShape';
type NPick = <T>(arg: string, valid: T, kind: NumKind) => T;

const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;
/** Wrong types: each must give XpuTypeError. */
const WRONG_TYPES: unknown[] = [1n, '1', Symbol('s'), {}, Object.create(null), cyclic];
const NON_FINITE = [NaN, Infinity, -Infinity];
/** [bad value, whether it is a wrong type (else a wrong number)] per kind. */
const NUM_BAD: Record<NumKind, [unknown, boolean][]> = {
  // (An array is a valid dim list where an optional dim is, as in sum and squeeze.)
  int: [
    ...WRONG_TYPES.map((v) => [v, true] as [unknown, boolean]),
    [null, true],
    [[1], true],
    ...[...NON_FINITE, 1.5].map((v) => [v, false] as [unknown, boolean]),
  ],
  optionalInt: [
    ...WRONG_TYPES.map((v) => [v, true] as [unknown, boolean]),
    ...[...NON_FINITE, 1.5].map((v) => [v, false] as [unknown, boolean]),
  ],
  finite: [
    ...WRONG_TYPES.map((v) => [v, true] as [unknown, boolean]),
    [null, true],
    ...NON_FINITE.map((v) => [v, false] as [unknown, boolean]),
  ],
  optionalFinite: [...WRONG_TYPES.map((v) => [v, true] as [unknown, boolean]), ...NON_FINITE.map((v) => [v, false] as [unknown, boolean])],
  number: [...WRONG_TYPES.map((v) => [v, true] as [unknown, boolean]), [null, true]],
  shape: [
    [null, true],
    [3, true],
    ['2', true],
    [{}, true],
    [[1n], true],
    [['2'], true],
    [[Symbol('s')], true],
    [[NaN], false],
    [[-2], false],
    [[1.5], false],
    [[Infinity], false],
  ],
  optionalShape: [
    [3, true],
    ['2', true],
    [{}, true],
    [[1n], true],
    [[NaN], false],
    [[-2], false],
    [[1.5], false],
  ],
};

interface NumEntry {
  op: string;
  call: (f: F, n: NPick) => unknown;
}

const NUMERIC: Record<string, NumEntry> = {
  zeros: { op: 'zeros', call: (_f, n) => xpu.zeros(n('shape', [2, 3], 'shape')) },
  ones: { op: 'ones', call: (_f, n) => xpu.ones(n('shape', [2, 3], 'shape')) },
  empty: { op: 'empty', call: (_f, n) => xpu.empty(n('shape', [2, 3], 'shape')) },
  full: { op: 'full', call: (_f, n) => xpu.full(n('shape', [2], 'shape'), n('value', 1, 'number')) },
  fullLike: { op: 'fullLike', call: (f, n) => xpu.fullLike(f.a, n('value', 2, 'number')) },
  tensor: { op: 'tensor', call: (_f, n) => xpu.tensor(new Float32Array(6), { shape: n('shape', [2, 3], 'optionalShape') }) },
  rand: {
    op: 'rand',
    call: (_f, n) => xpu.rand(n('shape', [2], 'shape'), { low: n('low', 0, 'optionalFinite'), high: n('high', 1, 'optionalFinite') }),
  },
  randn: {
    op: 'randn',
    call: (_f, n) => xpu.randn(n('shape', [2], 'shape'), { mean: n('mean', 0, 'optionalFinite'), std: n('std', 1, 'optionalFinite') }),
  },
  'arange(end)': { op: 'arange', call: (_f, n) => xpu.arange(n('end', 5, 'finite')) },
  'arange(start, end, step)': {
    op: 'arange',
    call: (_f, n) => xpu.arange(n('start', 0, 'finite'), n('end', 5, 'optionalFinite'), n('step', 2, 'finite')),
  },
  linspace: { op: 'linspace', call: (_f, n) => xpu.linspace(n('start', 0, 'number'), n('end', 1, 'number'), n('steps', 5, 'int')) },
  eye: { op: 'eye', call: (_f, n) => xpu.eye(n('n', 2, 'int'), n('m', 3, 'optionalInt')) },
  manualSeed: { op: 'manualSeed', call: (_f, n) => xpu.manualSeed(n('seed', 7, 'int')) },
  view: { op: 'view', call: (f, n) => xpu.view(f.a, n('shape', [6], 'shape')) },
  reshape: { op: 'reshape', call: (f, n) => xpu.reshape(f.a, n('shape', [3, 2], 'shape')) },
  expand: { op: 'expand', call: (f, n) => xpu.expand(f.v3, [n('shape', 2, 'int'), 3]) },
  permute: { op: 'permute', call: (f, n) => xpu.permute(f.a, [n('dims', 1, 'int'), 0]) },
  transpose: { op: 'transpose', call: (f, n) => xpu.transpose(f.a, n('dim0', 0, 'int'), n('dim1', 1, 'int')) },
  narrow: { op: 'narrow', call: (f, n) => xpu.narrow(f.a, n('dim', 1, 'int'), n('start', 0, 'int'), n('length', 2, 'int')) },
  slice: {
    op: 'slice',
    call: (f, n) => xpu.slice(f.a, n('dim', 1, 'int'), n('start', 0, 'int'), n('end', 2, 'optionalInt'), n('step', 1, 'int')),
  },
  select: { op: 'select', call: (f, n) => xpu.select(f.a, n('dim', 0, 'int'), n('index', 1, 'int')) },
  squeeze: { op: 'squeeze', call: (f, n) => xpu.squeeze(f.a, n('dim', 0, 'optionalInt')) },
  unsqueeze: { op: 'unsqueeze', call: (f, n) => xpu.unsqueeze(f.a, n('dim', 0, 'int')) },
  flatten: { op: 'flatten', call: (f, n) => xpu.flatten(f.a, n('startDim', 0, 'int'), n('endDim', -1, 'int')) },
  sum: { op: 'sum', call: (f, n) => xpu.sum(f.a, n('dim', 1, 'optionalInt')) },
  argmax: { op: 'argmax', call: (f, n) => xpu.argmax(f.a, n('dim', 1, 'optionalInt')) },
  var: { op: 'var', call: (f, n) => xpu.var(f.a, 1, { correction: n('correction', 1, 'optionalFinite') }) },
  softmax: { op: 'softmax', call: (f, n) => xpu.softmax(f.a, n('dim', 1, 'int')) },
  layerNorm: {
    op: 'layerNorm',
    call: (f, n) => xpu.layerNorm(f.a, n('normalizedShape', [3], 'shape'), { eps: n('eps', 1e-5, 'optionalFinite') }),
  },
  rmsNorm: { op: 'rmsNorm', call: (f, n) => xpu.rmsNorm(f.a, [3], { eps: n('eps', 1e-5, 'optionalFinite') }) },
  cat: { op: 'cat', call: (f, n) => xpu.cat([f.a, f.a], n('dim', 0, 'int')) },
  stack: { op: 'stack', call: (f, n) => xpu.stack([f.a, f.a], n('dim', 0, 'int')) },
  indexSelect: { op: 'indexSelect', call: (f, n) => xpu.indexSelect(f.a, n('dim', 1, 'int'), f.idx) },
  gather: { op: 'gather', call: (f, n) => xpu.gather(f.a, n('dim', 1, 'int'), f.idx23) },
  triu: { op: 'triu', call: (f, n) => xpu.triu(f.a, n('diagonal', 0, 'int')) },
  round: { op: 'round', call: (f, n) => xpu.round(f.a, { decimals: n('decimals', 2, 'optionalInt') }) },
  leakyRelu: { op: 'leakyRelu', call: (f, n) => xpu.leakyRelu(f.a, n('negativeSlope', 0.1, 'number')) },
  elu: { op: 'elu', call: (f, n) => xpu.elu(f.a, n('alpha', 1, 'number')) },
  softplus: { op: 'softplus', call: (f, n) => xpu.softplus(f.a, n('beta', 1, 'number'), n('threshold', 20, 'number')) },
  lerp: { op: 'lerp', call: (f, n) => xpu.lerp(f.a, f.a, n('weight', 0.5, 'number')) },
  maskedFill: { op: 'maskedFill', call: (f, n) => xpu.maskedFill(f.a, f.cond, n('value', 2, 'number')) },
  isclose: {
    op: 'isclose',
    call: (f, n) => xpu.isclose(f.a, f.a, { rtol: n('rtol', 1e-5, 'optionalFinite'), atol: n('atol', 1e-8, 'optionalFinite') }),
  },
  any: { op: 'any', call: (f, n) => xpu.any(f.a, n('dim', 1, 'optionalInt')) },
  logsumexp: { op: 'logsumexp', call: (f, n) => xpu.logsumexp(f.a, n('dim', 1, 'optionalInt')) },
  norm: { op: 'norm', call: (f, n) => xpu.norm(f.a, n('p', 2, 'number'), n('dim', 1, 'optionalInt')) },
  split: { op: 'split', call: (f, n) => xpu.split(f.a, n('splitSizeOrSections', 1, 'optionalInt'), n('dim', 1, 'int')) },
  chunk: { op: 'chunk', call: (f, n) => xpu.chunk(f.a, n('chunks', 2, 'int'), n('dim', 1, 'int')) },
  repeat: { op: 'repeat', call: (f, n) => xpu.repeat(f.a, [n('repeats', 2, 'int'), 1]) },
  tile: { op: 'tile', call: (f, n) => xpu.tile(f.a, [n('dims', 2, 'int')]) },
  flip: { op: 'flip', call: (f, n) => xpu.flip(f.a, [n('dims', 0, 'int')]) },
  roll: { op: 'roll', call: (f, n) => xpu.roll(f.a, n('shifts', 1, 'optionalInt'), n('dims', 0, 'optionalInt')) },
  pad: { op: 'pad', call: (f, n) => xpu.pad(f.a, [n('pad', 1, 'int'), 1]) },
  cumsum: { op: 'cumsum', call: (f, n) => xpu.cumsum(f.a, n('dim', 1, 'int')) },
  sort: { op: 'sort', call: (f, n) => xpu.sort(f.a, n('dim', 1, 'optionalInt')) },
  topk: { op: 'topk', call: (f, n) => xpu.topk(f.a, n('k', 2, 'int'), { dim: n('dim', 1, 'optionalInt') }) },
  scatter: { op: 'scatter', call: (f, n) => xpu.scatter(f.a, n('dim', 1, 'int'), f.idx23, n('src', 2, 'number')) },
  oneHot: { op: 'oneHot', call: (f, n) => xpu.oneHot(f.idx, n('numClasses', 3, 'optionalInt')) },
  dropout: { op: 'dropout', call: (f, n) => xpu.dropout(f.a, n('p', 0.5, 'number')) },
  // (an array where high goes is torch's short form, randint(high, shape): a valid call)
  randint: { op: 'randint', call: (_f, n) => xpu.randint(n('low', 0, 'int'), n('high', 5, 'optionalInt'), n('shape', [2], 'shape')) },
  randperm: { op: 'randperm', call: (_f, n) => xpu.randperm(n('n', 4, 'int')) },
  multinomial: { op: 'multinomial', call: (f, n) => xpu.multinomial(f.probs, n('numSamples', 2, 'int'), true) },
  addmm: {
    op: 'addmm',
    call: (f, n) => xpu.addmm(f.o24, f.a, f.b, { alpha: n('alpha', 1, 'optionalFinite'), beta: n('beta', 1, 'optionalFinite') }),
  },
  scaledDotProductAttention: {
    op: 'scaledDotProductAttention',
    call: (f, n) => xpu.scaledDotProductAttention(f.q, f.q, f.q, { scale: n('scale', 0.5, 'optionalFinite') }),
  },
  flexAttention: { op: 'flexAttention', call: (f, n) => xpu.flexAttention(f.q, f.q, f.q, { scale: n('scale', 0.5, 'optionalFinite') }) },
  createBlockMask: {
    op: 'createBlockMask',
    call: (f, n) =>
      xpu.createBlockMask(f.mod, n('B', 1, 'optionalInt'), n('H', 1, 'optionalInt'), n('L', 4, 'int'), n('S', 4, 'int'), {
        blockSize: n('blockSize', 16, 'optionalInt'),
      }),
  },
  'nn.RotaryEmbedding.apply': { op: 'rope', call: (f, n) => f.rope.apply(f.x1214, n('start', 0, 'int')) },
  'nn.KVCache.update': { op: 'KVCache.update', call: (f, n) => f.kv.update(n('layer', 0, 'int'), f.x1114, f.x1114, n('start', 0, 'int')) },
  'nn.GroupedQueryAttention.forward': {
    op: 'GroupedQueryAttention.forward',
    call: (f, n) => f.gqa.forward(f.x124, f.rope, n('start', 0, 'int')),
  },
};

describe('numeric arguments: one check, typed errors', () => {
  it('each numeric table entry is a valid call on cpu', async () => {
    const f = fixtures('cpu');
    for (const [name, entry] of Object.entries(NUMERIC)) {
      const kinds: string[] = [];
      const error = await outcome(() => entry.call(f, (arg, valid) => (kinds.push(arg), valid)));
      expect(error, `${name}'s valid call threw`).toBeUndefined();
      expect(kinds.length, name).toBeGreaterThan(0);
    }
  });
});

describe.each(testDevices())('numeric arguments on %s', (device) => {
  const cpu = fixtures('cpu');
  const f = device === 'cpu' ? cpu : fixtures(device);
  for (const [name, entry] of Object.entries(NUMERIC)) {
    it(name, async () => {
      const slots: [string, NumKind][] = [];
      await outcome(() => entry.call(cpu, (arg, valid, kind) => (slots.push([arg, kind]), valid)));
      let checked = 0;
      for (const [arg, kind] of slots) {
        for (const [bad, wrongType] of NUM_BAD[kind]) {
          const e = await outcome(() => entry.call(f, (a, valid) => (a === arg ? bad : valid) as never));
          const what = `${name}: ${arg} = ${fmtValue(bad)}`;
          expect(e, what).toBeInstanceOf(xpu.XpuError);
          const err = e as xpu.XpuError;
          expect([err.op, err.arg], what).toEqual([entry.op, arg]);
          // A wrong type is an XpuTypeError; a number that does not fit is another XpuError.
          expect(err instanceof xpu.XpuTypeError, what).toBe(wrongType);
          expect(typeof err.got, what).toBe('string');
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(0);
    });
  }

  it("the issue's reproductions: slice(t, 0, NaN), arange(NaN), select on a 0-d tensor", async () => {
    const t = xpu.arange(0, 6, 1, { device });
    expect(caught(() => xpu.slice(t, 0, NaN), xpu.XpuValueError).arg).toBe('start');
    expect(caught(() => xpu.slice(t, 0, 0, NaN), xpu.XpuValueError).arg).toBe('end');
    expect(caught(() => xpu.arange(NaN), xpu.XpuValueError).arg).toBe('end');
    expect(caught(() => xpu.arange(NaN, 3, 1, { device }), xpu.XpuValueError).arg).toBe('start');
    expect(caught(() => xpu.arange(0, Infinity), xpu.XpuValueError).arg).toBe('end');
    expect(caught(() => xpu.linspace(0, 1, NaN), xpu.XpuValueError).arg).toBe('steps');
    expect(caught(() => xpu.full([2, NaN], 1, { device }), xpu.XpuShapeError).got).toBe('[2, NaN]');
    const scalar = xpu.tensor(3, { device });
    for (const [op, fn] of [
      ['select', () => xpu.select(scalar, 0, 0)],
      ['narrow', () => xpu.narrow(scalar, 0, 0, 1)],
      ['slice', () => xpu.slice(scalar, 0, 0, 1)],
    ] as const) {
      expect(caught(fn, xpu.XpuIndexError).op).toBe(op);
    }
    // Valid calls still work: Python-style slices with a missing end, a negative start.
    expect(await xpu.slice(t, 0, -2, null as never).toArray()).toEqual([4, 5]);
    expect(await xpu.slice(t, 0, 1, undefined, 2).toArray()).toEqual([1, 3, 5]);
  });
});

describe('error formatting never throws', () => {
  it('formats BigInt, symbols, cycles, prototype-less objects and hostile objects', () => {
    expect(fmtValue(12n)).toBe('12n');
    expect(typeName(12n)).toBe('bigint 12n');
    expect(fmtValue(Symbol('s'))).toBe('Symbol(s)');
    expect(typeName(Symbol('s'))).toBe('symbol Symbol(s)');
    expect(fmtValue(cyclic)).toBe('{a: 1, self: [cycle]}');
    expect(fmtValue(Object.create(null))).toBe('{}');
    expect(typeName(Object.create(null))).toBe('an object with no prototype');
    expect(fmtValue([1, [2n, 'x'], -0])).toBe('[1, [2n, "x"], -0]');
    expect(typeName(new Map())).toBe('an instance of Map');
    expect(typeName({})).toBe('a plain object');
    expect(typeName(null)).toBe('null');
    let reads = 0;
    const getter = {
      get x() {
        reads++;
        throw new Error('getter ran');
      },
    };
    expect(fmtValue(getter)).toBe('{x: [getter]}');
    expect(reads).toBe(0);
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('trap');
        },
        ownKeys() {
          throw new Error('trap');
        },
        getOwnPropertyDescriptor() {
          throw new Error('trap');
        },
      },
    );
    expect(typeof fmtValue(hostile)).toBe('string');
    expect(typeof typeName(hostile)).toBe('string');
    const badToString = {
      toString() {
        throw new Error('toString ran');
      },
      [Symbol.toPrimitive]() {
        throw new Error('toPrimitive ran');
      },
    };
    expect(typeof fmtValue(badToString)).toBe('string');
    expect(fmtValue('x'.repeat(500), 20)).toHaveLength(20);
  });

  it('an error built with a BigInt, a symbol or a cyclic object in its details still constructs', () => {
    for (const got of [5n, Symbol('s'), cyclic, Object.create(null)]) {
      const e = new xpu.XpuValueError('bad', { op: 'op', arg: 'x', expected: 'a number', got: got as never });
      expect(e.message).toMatch(/^op\(\): argument 'x': bad; expected a number, got /);
    }
  });

  it.each(testDevices())(
    "a BigInt anywhere in an op's arguments gives an XpuError, never a TypeError from the error path (%s)",
    (device) => {
      const t = xpu.ones([2, 3], { device });
      const calls: [string, () => unknown][] = [
        ['zeros', () => xpu.zeros([2n, 3] as never, { device })],
        ['tensor', () => xpu.tensor([1n] as never, { device })],
        ['reshape', () => t.reshape([6n] as never)],
        ['permute', () => t.permute([1n, 0] as never)],
        ['sum', () => t.sum([1n] as never)],
        ['sum', () => t.sum(1, 1n as never)],
        ['add', () => t.add(1n as never)],
        ['layerNorm', () => t.layerNorm([3n] as never)],
        ['var', () => t.var(1, { correction: 1n } as never)],
        ['squeeze', () => t.squeeze([0n] as never)],
        ['expandAs', () => t.expandAs(1n as never)],
        ['rope', () => xpu.nn.ropeInvFreq(4, 10000n as never)],
        // An options argument that is not an object.
        ['layerNorm', () => t.layerNorm([3], null as never)],
        ['rmsNorm', () => t.rmsNorm([3], 5n as never)],
        ['linear', () => t.linear(xpu.ones([4, 3], { device }), null as never)],
        ['addmm', () => xpu.ones([2, 4], { device }).addmm(t, xpu.ones([3, 4], { device }), null as never)],
      ];
      for (const [op, fn] of calls) {
        const e = caught(fn, xpu.XpuError);
        expect(e.op, op).toBe(op);
        expect(e.message.startsWith(`${op}(): `), e.message).toBe(true);
      }
    },
  );
});
