import { describe, expect, it } from 'vitest';
import type { DType } from '../src/tensor/dtype.js';
import { rng, xpu } from './helpers.js';
import { exactValues, flatValues, hostTensor, numelOf, sliceH, transposeH, type HostTensor } from './host_tensor.js';

/**
 * The cpu map's fast paths (src/backends/cpu/map_fast.ts: generated typed-array loops per pure
 * kernel, TypedArray.set / fill for copies and fills) on every layout they distinguish, contiguous,
 * scalar (JS number, 0-d tensor), row and column broadcast, strided and offset views, and on
 * every dtype, NaN and infinities included, against float64 references with torch's cast rules,
 * written here. Results must match exactly: a fast path that reads the wrong element, converts
 * through the wrong kind or stores with the wrong cast fails.
 */

const DTYPES: DType[] = ['float32', 'float16', 'int32', 'uint32', 'int8', 'uint8', 'bool'];
const FLOATS = new Set<DType>(['float32', 'float16']);

/** float16 rounding of an f32 value, to nearest even, as the runtime stores float16 (after f32). */
function f16(x: number): number {
  const f = Math.fround(x);
  if (Number.isNaN(f) || f === 0 || !Number.isFinite(f)) return f;
  const a = Math.abs(f);
  if (a >= 65520) return Math.sign(f) * Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const q = 2 ** (Math.max(e, -14) - 10);
  const m = a / q;
  let r = Math.floor(m);
  if (m - r > 0.5 || (m - r === 0.5 && r % 2 === 1)) r++;
  return Math.sign(f) * r * q;
}

const wrap = (x: number, bits: number, signed: boolean): number => {
  const m = 2 ** bits;
  let v = ((Math.trunc(x) % m) + m) % m;
  if (signed && v >= m / 2) v -= m;
  return v;
};

/** A value stored into `dtype` (torch's casts: round floats, truncate and wrap integers, bool is != 0). */
function store(dtype: DType, x: number): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(x);
    case 'float16':
      return f16(x);
    case 'bool':
      return x !== 0 ? 1 : 0;
    default: {
      if (!Number.isFinite(x)) return 0;
      const bits = dtype === 'int8' || dtype === 'uint8' ? 8 : 32;
      return wrap(x, bits, dtype === 'int8' || dtype === 'int32');
    }
  }
}

/** A cast between dtypes: floats to integers go through a saturating int32 (the kernels' convertKind). */
function cast(from: DType, to: DType, x: number): number {
  if (to === 'bool' || FLOATS.has(to) || !FLOATS.has(from)) return store(to, x);
  if (!Number.isFinite(x)) return 0;
  return store(to, Math.min(2147483647, Math.max(-2147483648, Math.trunc(x))));
}

/** Exact values of a dtype with, for floats, NaN, the infinities and -0 among them. */
function values(dtype: DType, n: number, seed: number): number[] {
  const v = exactValues(dtype, n, seed);
  if (FLOATS.has(dtype)) {
    const specials = [NaN, Infinity, -Infinity, -0, 0];
    for (let i = 0; i < specials.length && 7 * i + 3 < n; i++) v[7 * i + 3] = specials[i];
  }
  return v;
}

function expectSame(out: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  expect(out.length, `${what}: length`).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    if (!Object.is(out[i], ref[i])) throw new Error(`${what}: element ${i} is ${out[i]}, expected ${ref[i]}`);
  }
}

const device = 'cpu';

/** A device tensor of `shape` built as a view of another layout, and its host twin. */
interface Case {
  name: string;
  make(dtype: DType, seed: number): { t: xpu.Tensor; h: HostTensor };
}

const R = 6;
const C = 40;

function base(dtype: DType, shape: number[], seed: number): { t: xpu.Tensor; h: HostTensor } {
  const v = values(dtype, numelOf(shape), seed);
  return { t: xpu.tensor(Float64Array.from(v), { device, dtype, shape }), h: hostTensor(shape, v) };
}

/** Layouts of an operand broadcast to [R, C]. */
const LAYOUTS: Case[] = [
  { name: 'contiguous', make: (d, s) => base(d, [R, C], s) },
  { name: 'row broadcast [C]', make: (d, s) => base(d, [C], s) },
  { name: 'column broadcast [R, 1]', make: (d, s) => base(d, [R, 1], s) },
  { name: '0-d tensor', make: (d, s) => base(d, [], s) },
  {
    name: 'transposed',
    make: (d, s) => {
      const b = base(d, [C, R], s);
      return { t: b.t.transpose(0, 1), h: transposeH(b.h, 0, 1) };
    },
  },
  {
    name: 'stepped slice',
    make: (d, s) => {
      const b = base(d, [R, 2 * C + 1], s);
      return { t: b.t.slice(1, 1, 2 * C + 1, 2), h: sliceH(b.h, 1, 1, 2 * C + 1, 2) };
    },
  },
  {
    name: 'offset narrow',
    make: (d, s) => {
      const b = base(d, [R + 3, C], s);
      return { t: b.t.narrow(0, 2, R), h: sliceH(b.h, 0, 2, 2 + R) };
    },
  },
];

/** The host value of an operand at output coordinates [i, j] (broadcast by its own shape). */
function at(h: HostTensor, i: number, j: number): number {
  const c = [i, j].slice(2 - h.shape.length).map((v, d) => (h.shape[d] === 1 ? 0 : v));
  return h.at(c);
}

type Kind = 'f' | 'i' | 'u';
const kindOf = (d: DType): Kind => (FLOATS.has(d) ? 'f' : d === 'int32' || d === 'int8' ? 'i' : 'u');
const NUM = (k: Kind, f: (a: number, b: number) => number, i: (a: number, b: number) => number) => (a: number, b: number) =>
  k === 'f' ? f(a, b) : i(a, b);

/** Float64 references of the binary ops in the compute kind of `dtype` (before the store). */
function binaryRef(op: string, dtype: DType): (a: number, b: number) => number {
  const k = kindOf(dtype);
  const u = (x: number) => (k === 'u' ? x >>> 0 : x | 0);
  const max = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? b : a);
  switch (op) {
    case 'add':
      return NUM(
        k,
        (a, b) => a + b,
        (a, b) => u(a + b),
      );
    case 'sub':
      return NUM(
        k,
        (a, b) => a - b,
        (a, b) => u(a - b),
      );
    case 'mul':
      return NUM(
        k,
        (a, b) => a * b,
        (a, b) => u(Math.imul(a, b)),
      );
    case 'maximum':
      return max;
    case 'lt':
      return (a, b) => (a < b ? 1 : 0);
    case 'ne':
      return (a, b) => (a !== b ? 1 : 0);
    default:
      throw new Error(op);
  }
}

const BINARY_OPS: Record<DType, string[]> = {
  float32: ['add', 'sub', 'mul', 'maximum', 'lt', 'ne'],
  float16: ['add', 'sub', 'mul', 'maximum', 'lt', 'ne'],
  int32: ['add', 'sub', 'mul', 'maximum', 'lt', 'ne'],
  uint32: ['add', 'sub', 'mul', 'maximum', 'lt', 'ne'],
  int8: ['add', 'sub', 'mul', 'maximum', 'lt', 'ne'],
  uint8: ['add', 'sub', 'mul', 'maximum', 'lt', 'ne'],
  bool: ['mul', 'maximum', 'lt', 'ne'],
};

const call = (op: string, a: xpu.Tensor | number | boolean, b: xpu.Tensor | number | boolean): xpu.Tensor =>
  (xpu as unknown as Record<string, (x: unknown, y: unknown) => xpu.Tensor>)[op](a, b);

describe('cpu map fast paths', () => {
  it.each(DTYPES)('binary ops on %s over every layout pair match float64', async (dtype) => {
    let seed = 1;
    for (const la of LAYOUTS) {
      for (const lb of LAYOUTS) {
        if (la.name !== 'contiguous' && lb.name !== 'contiguous' && la.name !== lb.name) continue; // pairs with a contiguous side, and like with like
        const a = la.make(dtype, seed++);
        const b = lb.make(dtype, seed++);
        for (const op of BINARY_OPS[dtype]) {
          const out = call(op, a.t, b.t);
          const outShape = out.shape;
          const outDtype = op === 'lt' || op === 'ne' ? 'bool' : dtype;
          expect(out.dtype).toBe(outDtype);
          const f = binaryRef(op, dtype);
          const rows = outShape.length === 2 ? outShape[0] : 1;
          const cols = outShape.length >= 1 ? outShape[outShape.length - 1] : 1;
          const ref: number[] = [];
          for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) ref.push(store(outDtype, f(at(a.h, i, j), at(b.h, i, j))));
          expectSame(await out.data(), ref, `${dtype} ${op}: ${la.name} with ${lb.name}`);
          out.dispose();
        }
        a.t.dispose();
        b.t.dispose();
      }
    }
  });

  it.each(DTYPES)('JS scalars on either side of %s tensors (scalar broadcast)', async (dtype) => {
    const scalar: number | boolean = dtype === 'bool' ? true : FLOATS.has(dtype) ? 1.5 : 3;
    const sv = typeof scalar === 'boolean' ? 1 : store(dtype, scalar);
    for (const l of LAYOUTS.filter((x) => x.name !== 'row broadcast [C]')) {
      const a = l.make(dtype, 11);
      for (const op of BINARY_OPS[dtype]) {
        for (const swap of [false, true]) {
          const out = swap ? call(op, scalar, a.t) : call(op, a.t, scalar);
          const outDtype = op === 'lt' || op === 'ne' ? 'bool' : dtype;
          const f = binaryRef(op, dtype);
          const ref = flatValues(a.h).map((v) => store(outDtype, swap ? f(sv, v) : f(v, sv)));
          expectSame(await out.data(), ref, `${dtype} ${op} ${swap ? 'scalar, tensor' : 'tensor, scalar'} (${l.name})`);
          out.dispose();
        }
      }
      a.t.dispose();
    }
  });

  it('mixed dtypes promote and convert each operand on the fly', async () => {
    const a = base('int8', [R, C], 3);
    const b = base('float16', [C], 4);
    const c = base('uint8', [R, 1], 5);
    const ab = xpu.add(a.t, b.t); // float16
    const ac = xpu.mul(a.t, c.t); // int32
    const ad = xpu.div(a.t.transpose(0, 1), 4); // float32, a strided int8 read as f32
    expect([ab.dtype, ac.dtype, ad.dtype]).toEqual(['float16', 'int32', 'float32']);
    const refAb: number[] = [];
    const refAc: number[] = [];
    for (let i = 0; i < R; i++)
      for (let j = 0; j < C; j++) {
        refAb.push(store('float16', at(a.h, i, j) + at(b.h, 0, j)));
        refAc.push(store('int32', at(a.h, i, j) * at(c.h, i, 0)));
      }
    const refAd: number[] = [];
    for (let j = 0; j < C; j++) for (let i = 0; i < R; i++) refAd.push(store('float32', at(a.h, i, j) / 4));
    expectSame(await ab.data(), refAb, 'int8 + float16');
    expectSame(await ac.data(), refAc, 'int8 * uint8');
    expectSame(await ad.data(), refAd, 'int8^T / 4');
  });

  it.each(DTYPES)('unary ops on %s views, NaN and infinities included', async (dtype) => {
    const ops: [string, (x: number) => number, boolean][] = [
      ['exp', Math.exp, true],
      ['neg', (x) => -x, false],
      ['abs', Math.abs, false],
      ['relu', (x) => (x < 0 ? 0 : x), false],
    ];
    for (const l of LAYOUTS.filter((x) => x.name !== 'row broadcast [C]' && x.name !== 'column broadcast [R, 1]')) {
      const a = l.make(dtype, 21);
      for (const [op, f, floatOnly] of ops) {
        if (dtype === 'bool' && !floatOnly) continue; // neg/abs/relu refuse bool
        const x = a.t;
        const out = (x as unknown as Record<string, () => xpu.Tensor>)[op]();
        const outDtype = floatOnly && !FLOATS.has(dtype) ? 'float32' : dtype;
        expect(out.dtype).toBe(outDtype);
        const k = kindOf(dtype);
        const ref = flatValues(a.h).map((v) => {
          if (floatOnly) return store(outDtype, f(Math.fround(v)));
          const r = f(v);
          return store(outDtype, k === 'f' ? r : k === 'u' ? r >>> 0 : r | 0);
        });
        expectSame(await out.data(), ref, `${op} on ${dtype} (${l.name})`);
        out.dispose();
      }
      a.t.dispose();
    }
  });

  it('where selects over broadcast condition, tensor and scalar branches', async () => {
    const cond = base('bool', [R, 1], 7);
    const x = base('float16', [R, C], 8);
    const y = base('float16', [C], 9);
    const out = xpu.where(cond.t, x.t, y.t);
    const out2 = xpu.where(cond.t.expand([R, C]), x.t.transpose(0, 1).transpose(0, 1), -2.5);
    const ref: number[] = [];
    const ref2: number[] = [];
    for (let i = 0; i < R; i++)
      for (let j = 0; j < C; j++) {
        ref.push(at(cond.h, i, 0) ? at(x.h, i, j) : at(y.h, 0, j));
        ref2.push(at(cond.h, i, 0) ? at(x.h, i, j) : -2.5);
      }
    expectSame(await out.data(), ref, 'where(cond [R,1], x, y [C])');
    expectSame(await out2.data(), ref2, 'where(cond expanded, x, -2.5)');
  });

  it.each(DTYPES)('casts from %s to every dtype, contiguous and strided', async (from) => {
    for (const l of [LAYOUTS[0], LAYOUTS[4], LAYOUTS[5]]) {
      const a = l.make(from, 31);
      // Large magnitudes for the float -> integer saturation and wrap-around.
      for (const to of DTYPES) {
        const out = a.t.to(to);
        expect(out.dtype).toBe(to);
        const ref = flatValues(a.h).map((v) => cast(from, to, v));
        expectSame(await out.data(), ref, `${from} -> ${to} (${l.name})`);
        if (out !== a.t) out.dispose(); // to() of the same dtype returns the tensor itself
      }
      a.t.dispose();
    }
    if (FLOATS.has(from)) {
      const big = [1e10, -1e10, 300.7, -300.7, 65504, -1.5, 2.5, NaN];
      const t = xpu.tensor(Float64Array.from(big), { device, dtype: from });
      const src = big.map((v) => store(from, v));
      for (const to of DTYPES)
        expectSame(
          await t.to(to).data(),
          src.map((v) => cast(from, to, v)),
          `${from} -> ${to} at the edges`,
        );
    }
  });

  it.each(DTYPES)('clone and contiguous of %s views copy exactly (long rows by set(), short rows by a loop)', async (dtype) => {
    for (const shape of [
      [5, 64],
      [7, 3],
      [3, 2, 50],
    ]) {
      const b = base(dtype, shape, 41);
      const views: [string, xpu.Tensor, HostTensor][] = [
        ['clone', b.t, b.h],
        ['narrow', b.t.narrow(0, 1, shape[0] - 2), sliceH(b.h, 0, 1, shape[0] - 1)],
        ['transpose', b.t.transpose(0, shape.length - 1), transposeH(b.h, 0, shape.length - 1)],
        ['slice last', b.t.slice(-1, 1, shape[shape.length - 1]), sliceH(b.h, shape.length - 1, 1, shape[shape.length - 1])],
      ];
      for (const [name, v, h] of views) {
        const out = name === 'clone' ? v.clone() : v.contiguous();
        expect(out.isContiguous()).toBe(true);
        expectSame(
          await out.data(),
          flatValues(h).map((x) => store(dtype, x)),
          `${name} ${dtype} [${shape}]`,
        );
      }
    }
  });

  it.each(DTYPES)('full/zeros/ones fill %s with the cast value', async (dtype) => {
    const fills = FLOATS.has(dtype) ? [0, -0, 1.25, NaN, -Infinity, 1e6] : [0, 1, -1, 300, 2 ** 31 + 5];
    for (const v of fills) {
      for (const shape of [[], [1], [1000], [3, 17]]) {
        const t = xpu.full(shape, v, { device, dtype });
        expectSame(await t.data(), new Array(numelOf(shape)).fill(store(dtype, v)), `full(${v}) ${dtype} [${shape}]`);
      }
    }
    expectSame(await xpu.zeros([5], { device, dtype }).data(), [0, 0, 0, 0, 0], `zeros ${dtype}`);
    expectSame(await xpu.ones([5], { device, dtype }).data(), [1, 1, 1, 1, 1], `ones ${dtype}`);
  });

  it.each(['int32', 'uint32', 'int8', 'uint8'] as DType[])(
    'embedding, indexSelect and gather with %s indices copy the indexed elements of every dtype exactly',
    async (idt) => {
      for (const dtype of DTYPES) {
        const w = base(dtype, [9, 40], 51);
        const wv = flatValues(w.h);
        const ids = [3, 0, 8, 3, 5];
        const idx = xpu.tensor(Int32Array.from(ids), { device, dtype: idt });
        // embedding: whole rows (one set() per row); of a transposed weight: strided rows.
        expectSame(
          await xpu.embedding(idx, w.t).data(),
          ids.flatMap((i) => wv.slice(i * 40, i * 40 + 40)).map((v) => store(dtype, v)),
          `embedding ${dtype}[${idt}]`,
        );
        const wt = w.t.transpose(0, 1).contiguous().transpose(0, 1); // same values, column-major
        expectSame(
          await xpu.embedding(idx.reshape([5, 1]), wt).data(),
          ids.flatMap((i) => wv.slice(i * 40, i * 40 + 40)).map((v) => store(dtype, v)),
          `embedding of a column-major ${dtype}`,
        );
        // indexSelect along the last dim: the index changes along the row (element by element).
        const cols = [39, 0, 7, 7];
        const sel = xpu.indexSelect(w.t, 1, xpu.tensor(Int32Array.from(cols), { device, dtype: idt }));
        const want: number[] = [];
        for (let r = 0; r < 9; r++) for (const c of cols) want.push(store(dtype, wv[r * 40 + c]));
        expectSame(await sel.data(), want, `indexSelect dim 1 ${dtype}[${idt}]`);
        // gather along dim 1 with a per-element index.
        const gi = Array.from({ length: 9 * 3 }, (_, k) => (k * 7) % 40);
        const g = xpu.gather(
          w.t,
          1,
          xpu.tensor(Int32Array.from(gi), { device, dtype: idt === 'int8' || idt === 'uint8' ? 'int32' : idt, shape: [9, 3] }),
        );
        expectSame(
          await g.data(),
          gi.map((c, k) => store(dtype, wv[Math.floor(k / 3) * 40 + c])),
          `gather ${dtype}[${idt}]`,
        );
      }
    },
  );

  it('large random broadcasts in 3-d and 4-d match float64 (the odometer over outer dims)', async () => {
    const r = rng(99);
    for (let trial = 0; trial < 20; trial++) {
      const shape = Array.from({ length: 3 + (trial % 2) }, () => 1 + Math.floor(r() * 5));
      const bShape = shape.map((d) => (r() < 0.4 ? 1 : d));
      const a = base('float32', shape, 100 + trial);
      const b = base('float32', bShape, 200 + trial);
      const perm = shape.map((_, i) => i).reverse();
      const at2 = a.t.permute(perm).contiguous().permute(perm); // same values, reversed strides
      const out = xpu.sub(at2, b.t);
      const ref: number[] = [];
      const n = numelOf(shape);
      for (let i = 0; i < n; i++) {
        let rem = i;
        const c = new Array<number>(shape.length);
        for (let d = shape.length - 1; d >= 0; d--) {
          c[d] = rem % shape[d];
          rem = Math.floor(rem / shape[d]);
        }
        ref.push(store('float32', a.h.at(c) - b.h.at(c.map((v, d) => (bShape[d] === 1 ? 0 : v)))));
      }
      expectSame(await out.data(), ref, `[${shape}] - [${bShape}]`);
    }
  });
});
