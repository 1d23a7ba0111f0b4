import type { MapKernel } from '../backends/backend.js';
import { resolveDevice } from '../device/registry.js';
import { XpuDTypeError, XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { fmtValue, typeName } from '../format_value.js';
import { checkDType, dtypeInfo, isFloating, type DType, type HostArray } from '../tensor/dtype.js';
import { checkShape, fmtShape, intArg, numberArg, numel } from '../tensor/shape.js';
import { makeView, type Tensor } from '../tensor/tensor.js';
import { copyAs, operand, runMap, tensorArg } from './common.js';
import { full, type CreateOptions } from './creation.js';
import { StridedWalker } from '../backends/cpu/indexing.js';
import { philoxAt, philoxScalars } from './random.js';
import { cumsum } from './scan.js';
import { argsort, topk } from './sort.js';
import { recordOp, track } from '../autograd/record.js';
import { isGradEnabled } from '../autograd/grad_mode.js';
import { keep as keepTensor } from '../tensor/scope.js';

/**
 * Random ops on the Philox generator rand uses (random.ts: the same key, and counters that
 * continue from rand's offset, so both devices draw the same numbers): dropout, randint,
 * randperm, multinomial. Each map kernel draws one Philox block per element i (counter offset +
 * i); scalars 0-3 are the key and the counter base (philoxScalars).
 */

/** WGSL: the Philox block r of this element's counter (the carry into the high word as rand's). */
const DRAW =
  'let ctr = su(2u) + i;\n  let r = philox(vec4<u32>(ctr, su(3u) + select(0u, 1u, ctr < i), 0u, 0u), vec2<u32>(su(0u), su(1u)));';
/** 24 random bits as a float in [0, 1), exact in float32 (both devices get the same value). */
const U24_WGSL = 'f32(r.x >> 8u) * 5.9604644775390625e-8';
const u24 = (x: number): number => (x >>> 8) * 5.9604644775390625e-8;

/** x * (u < 1 - p ? 1 / (1 - p) : 0): scalars 4 = 1 - p, 5 = 1 / (1 - p) (float32). */
const DROPOUT: MapKernel = {
  name: 'dropout',
  wgsl: `${DRAW}\n  return x0 * select(0.0, sf(5u), ${U24_WGSL} < sf(4u));`,
  js: (x, c) => x[0] * (u24(philoxAt(c.scalars, c.i)[0]) < c.scalars[4] ? c.scalars[5] : 0),
};

/**
 * Dropout (torch.nn.functional.dropout): in training, each element is zeroed with probability p
 * and the others scaled by 1 / (1 - p); as torch, out = x * noise, so a dropped NaN or inf gives
 * NaN. Not training, or p = 0: x itself (a view of it). Float inputs only.
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  const op = 'dropout';
  tensorArg(op, 'input', x);
  numberArg(op, 'p', p);
  if (!(p >= 0 && p <= 1))
    throw new XpuValueError('dropout probability must be in [0, 1]', { op, arg: 'p', expected: 'a number in [0, 1]', got: fmtValue(p) });
  if (typeof training !== 'boolean')
    throw new XpuTypeError('must be a boolean', { op, arg: 'training', expected: 'boolean', got: typeName(training) });
  if (!isFloating(x.dtype))
    throw new XpuDTypeError('needs a floating point input', { op, arg: 'input', expected: 'float32 or float16', got: x.dtype });
  if (!training || p === 0 || x.numel === 0) return track('alias', x, makeView(x, x.shape, x.strides, x.offset));
  const keep = Math.fround(1 - p);
  const scalars = [
    ...philoxScalars(x.numel),
    { kind: 'f32' as const, value: keep },
    { kind: 'f32' as const, value: Math.fround(1 / keep) },
  ];
  const out = runMap({
    device: x.device,
    kernel: DROPOUT,
    inputs: [operand(x, x.shape)],
    outShape: x.shape,
    outDtype: x.dtype,
    argKind: 'f32',
    scalars,
  });
  if (x.requiresGrad && isGradEnabled()) {
    // The backward needs the noise (0 or 1 / (1 - p)): the same draws over ones.
    const one = full(x.shape.slice(), 1, { dtype: x.dtype, device: x.device });
    const noise = runMap({
      device: x.device,
      kernel: DROPOUT,
      inputs: [operand(one, x.shape)],
      outShape: x.shape,
      outDtype: x.dtype,
      argKind: 'f32',
      scalars,
    });
    one.dispose();
    recordOp(op, [x], out, { noise: keepTensor(noise) });
  }
  return out;
}

/** low + (32 random bits mod range), in u32 arithmetic: scalar 4 = low (i32), 5 = range (u32). */
const RANDINT = new Map<string, MapKernel>();
function randintKernel(kind: 'f32' | 'i32' | 'u32'): MapKernel {
  let k = RANDINT.get(kind);
  if (k) return k;
  const ret = kind === 'f32' ? 'f32(bitcast<i32>(v))' : kind === 'i32' ? 'bitcast<i32>(v)' : 'v';
  k = {
    name: `randint_${kind}`,
    wgsl: `${DRAW}\n  let v = bitcast<u32>(si(4u)) + r.x % su(5u);\n  return ${ret};`,
    js: (_x, c) => {
      const v = ((c.scalars[4] >>> 0) + (philoxAt(c.scalars, c.i)[0] % c.scalars[5])) >>> 0;
      return kind === 'u32' ? v : v | 0;
    },
  };
  RANDINT.set(kind, k);
  return k;
}

const RANGE: Partial<Record<DType, [number, number]>> = { int8: [-128, 127], uint8: [0, 255], bool: [0, 1], uint32: [0, 2 ** 32 - 1] };

/**
 * Uniform integers in [low, high) of `shape` (torch.randint): randint(low, high, shape) or
 * randint(high, shape). int32 by default (torch: int64); any dtype that holds [low, high).
 */
export function randint(low: number, high: number | number[], shape?: number[] | CreateOptions, options: CreateOptions = {}): Tensor {
  const op = 'randint';
  // randint(high, shape, options?): torch's short form.
  if (Array.isArray(high)) return randint(0, low, high, (shape ?? {}) as CreateOptions);
  const s = checkShape(op, 'shape', shape);
  const dtype = checkDType(op, 'dtype', options.dtype ?? 'int32');
  const [min, max] = RANGE[dtype] ?? [-(2 ** 31), 2 ** 31 - 1];
  intArg(op, 'low', low, { min, max });
  intArg(op, 'high', high, { min: min + 1, max: max + 1 });
  if (!(low < high))
    throw new XpuValueError('low must be below high', { op, arg: 'high', expected: `a number > low (${low})`, got: fmtValue(high) });
  if (high - low > 2 ** 32 - 1)
    throw new XpuValueError('the range is too wide', { op, arg: 'high', expected: 'high - low < 2^32', got: fmtValue(high - low) });
  const device = resolveDevice(op, options.device);
  const kind = dtypeInfo(dtype).compute;
  return runMap({
    device,
    kernel: randintKernel(kind),
    inputs: [],
    outShape: s,
    outDtype: dtype,
    argKind: kind,
    scalars: [...philoxScalars(numel(s)), { kind: 'i32', value: low | 0 }, { kind: 'u32', value: high - low }],
  });
}

/** 32 random bits per element. */
const RANDBITS: MapKernel = { name: 'randbits', wgsl: `${DRAW}\n  return r.x;`, js: (_x, c) => philoxAt(c.scalars, c.i)[0] };

/**
 * A random permutation of 0..n-1 (torch.randperm): the stable argsort of n random 32-bit keys.
 * int32 by default (torch: int64), or options.dtype.
 */
export function randperm(n: number, options: CreateOptions = {}): Tensor {
  const op = 'randperm';
  intArg(op, 'n', n, { min: 0, max: 2 ** 31 - 1 });
  const dtype = checkDType(op, 'dtype', options.dtype ?? 'int32');
  const device = resolveDevice(op, options.device);
  const keys = runMap({
    device,
    kernel: RANDBITS,
    inputs: [],
    outShape: [n],
    outDtype: 'uint32',
    argKind: 'u32',
    scalars: philoxScalars(n),
  });
  const order = argsort(keys);
  keys.dispose();
  if (dtype === 'int32') return order;
  const cast = copyAs(op, order, dtype);
  order.dispose();
  return cast;
}

/** Without replacement: the key p / E with E ~ Exp(1) = -log(u), u in (0, 1) (24 bits, never 0 or 1). */
const EXP_KEYS: MapKernel = {
  name: 'multinomial_keys',
  wgsl: `${DRAW}\n  return x0 / -log_f32((f32(r.x >> 8u) + 0.5) * 5.9604644775390625e-8);`,
  js: (x, c) => x[0] / -Math.log(((philoxAt(c.scalars, c.i)[0] >>> 8) + 0.5) * 5.9604644775390625e-8),
};

/**
 * With replacement: u * total (u in [0, 1), total the row's last cumulative sum) located by binary
 * search in the row's cumulative sums: the first j with cdf[j] > t, so a zero-probability class
 * (cdf[j] = cdf[j - 1]) is never drawn; if rounding put t at the total, the first j that reaches
 * it. Input 0 is the cdf with e0 at the row's start; scalar 4 = n, 5 = the cdf's stride.
 */
const DRAW_CDF: MapKernel = {
  name: 'multinomial_draw',
  lazy: true,
  wgsl: `${DRAW}
  let n = i32(su(4u));
  let st = si(5u);
  let total = ld0(e0 + (n - 1) * st);
  let t = ${U24_WGSL} * total;
  var lo = 0;
  var hi = n;
  while (lo < hi) {
    let mid = (lo + hi) / 2;
    if (ld0(e0 + mid * st) > t) { hi = mid; } else { lo = mid + 1; }
  }
  if (lo == n) {
    lo = 0;
    hi = n - 1;
    while (lo < hi) {
      let mid = (lo + hi) / 2;
      if (ld0(e0 + mid * st) >= total) { hi = mid; } else { lo = mid + 1; }
    }
  }
  return lo;`,
  js: (_x, c) => {
    const [n, st] = [c.scalars[4], c.scalars[5]];
    const at = (j: number): number => c.load(0, c.e[0] + j * st);
    const total = at(n - 1);
    const t = Math.fround(u24(philoxAt(c.scalars, c.i)[0]) * total);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (at(mid) > t) hi = mid;
      else lo = mid + 1;
    }
    if (lo === n) {
      lo = 0;
      hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (at(mid) >= total) hi = mid;
        else lo = mid + 1;
      }
    }
    return lo;
  },
};

/** torch's checks of a distribution, where the values can be read now (cpu). */
function checkProbsOnCpu(op: string, probs: Tensor): void {
  if (probs.device.type !== 'cpu') return;
  const data = (probs.ref.storage as unknown as { data: HostArray }).data;
  const n = probs.shape[probs.ndim - 1];
  const walker = new StridedWalker(probs.shape, [probs.strides], [probs.offset]);
  let rowSum = 0;
  for (let i = 0; i < probs.numel; i++, walker.next()) {
    const v = data[walker.e[0]];
    if (!(v >= 0 && v < Infinity))
      throw new XpuValueError('probabilities must be finite and >= 0', {
        op,
        arg: 'input',
        expected: 'finite values >= 0',
        got: `${v} at position ${i}`,
      });
    rowSum += v;
    if ((i + 1) % n === 0) {
      if (!(rowSum > 0))
        throw new XpuValueError('a distribution sums to 0', {
          op,
          arg: 'input',
          expected: 'rows with a positive sum',
          got: `row ${Math.floor(i / n)}`,
        });
      rowSum = 0;
    }
  }
}

/**
 * numSamples class indices (int32; torch: int64) per row of a 1-D or 2-D tensor of non-negative
 * weights (torch.multinomial). With replacement: inverse-CDF draws; without: the classes of the
 * numSamples largest keys p / E, E ~ Exp(1) (torch's algorithm, so zero-weight classes come last).
 * On cpu an invalid distribution throws as in torch; on xpu it is not read back (unchecked).
 */
export function multinomial(probs: Tensor, numSamples: number, replacement = false): Tensor {
  const op = 'multinomial';
  tensorArg(op, 'input', probs);
  if (typeof replacement !== 'boolean')
    throw new XpuTypeError('must be a boolean', { op, arg: 'replacement', expected: 'boolean', got: typeName(replacement) });
  if (probs.ndim !== 1 && probs.ndim !== 2)
    throw new XpuShapeError('probabilities must be 1-D or 2-D', { op, arg: 'input', expected: '1 or 2 dims', got: fmtShape(probs.shape) });
  if (!isFloating(probs.dtype))
    throw new XpuDTypeError('needs floating point probabilities', { op, arg: 'input', expected: 'float32 or float16', got: probs.dtype });
  const n = probs.shape[probs.ndim - 1];
  if (n === 0)
    throw new XpuShapeError('no classes to draw from', { op, arg: 'input', expected: 'at least one class', got: fmtShape(probs.shape) });
  intArg(op, 'numSamples', numSamples, {
    min: 1,
    max: replacement ? 2 ** 31 - 1 : n,
    expected: replacement ? 'an integer >= 1' : `an integer in [1, ${n}] (no more samples than classes without replacement)`,
  });
  checkProbsOnCpu(op, probs);
  const rows = probs.ndim === 1 ? 1 : probs.shape[0];
  const outShape = probs.ndim === 1 ? [numSamples] : [rows, numSamples];
  const p = probs.dtype === 'float32' ? probs : copyAs(op, probs, 'float32');
  try {
    if (!replacement) {
      const keys = runMap({
        device: p.device,
        kernel: EXP_KEYS,
        inputs: [operand(p, p.shape)],
        outShape: p.shape,
        outDtype: 'float32',
        argKind: 'f32',
        scalars: philoxScalars(p.numel),
      });
      const { values, indices } = topk(keys, numSamples, { dim: -1 });
      keys.dispose();
      values.dispose();
      return indices;
    }
    const cdf = cumsum(p, -1);
    const rowStride = probs.ndim === 1 ? 0 : cdf.strides[0];
    const out = runMap({
      device: p.device,
      kernel: DRAW_CDF,
      outShape,
      outDtype: 'int32',
      argKind: 'f32',
      inputs: [{ storage: cdf.ref.storage, dtype: 'float32', strides: probs.ndim === 1 ? [0] : [rowStride, 0], offset: cdf.offset }],
      scalars: [...philoxScalars(rows * numSamples), { kind: 'u32', value: n }, { kind: 'i32', value: cdf.strides[cdf.ndim - 1] }],
    });
    cdf.dispose();
    return out;
  } finally {
    if (p !== probs) p.dispose();
  }
}
