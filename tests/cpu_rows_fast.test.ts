import { describe, expect, it } from 'vitest';
import type { DType } from '../src/tensor/dtype.js';
import { xpu } from './helpers.js';
import { exactValues, flatValues, hostTensor, numelOf, permuteH, sliceH, transposeH, type HostTensor } from './host_tensor.js';

/**
 * The cpu reduce / rows / rotary fast paths (src/backends/cpu/reduce_fast.ts, rows_fast.ts,
 * rotary_fast.ts) on the layouts they take (a contiguous last dim, every element, one strided
 * dim, transposed and offset views) and the ones they hand back to the generic path (reduced or
 * row dims that do not merge), on float32, float16 and integer inputs with NaN and infinities,
 * against float64 references written here.
 */

const device = 'cpu';

/** float16 rounding (to nearest even) of an f32 value. */
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

const round = (dtype: DType, x: number): number => (dtype === 'float16' ? f16(x) : Math.fround(x));

/** Each element within `ulps` float32 ulps (relative) of the reference, NaN where it is NaN, equal infinities. */
function expectNear(out: ArrayLike<number>, ref: ArrayLike<number>, rel: number, what: string): void {
  expect(out.length, `${what}: length`).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const o = out[i];
    const r = ref[i];
    const ok = Number.isNaN(r)
      ? Number.isNaN(o)
      : !Number.isFinite(r)
        ? o === r
        : Math.abs(o - r) <= rel * Math.max(Math.abs(r), 1e-30) + 1e-30;
    if (!ok) throw new Error(`${what}: element ${i} is ${o}, expected ${r}`);
  }
}

function values(dtype: DType, n: number, seed: number, specials = true): number[] {
  const v = exactValues(dtype, n, seed);
  if (specials && (dtype === 'float32' || dtype === 'float16')) {
    // A NaN in one row, an infinity in another; the remaining rows stay finite.
    if (n > 5) v[5] = NaN;
    if (n > 70) v[70] = Infinity;
  }
  return v;
}

function make(dtype: DType, shape: number[], seed: number, specials = true): { t: xpu.Tensor; h: HostTensor } {
  const v = values(dtype, numelOf(shape), seed, specials);
  return { t: xpu.tensor(Float64Array.from(v), { device, dtype, shape }), h: hostTensor(shape, v) };
}

/** Groups of the host tensor's values along `dims` (reduced), one per kept index in row-major order. */
function reduceGroups(h: HostTensor, dims: number[]): number[][] {
  const kept = h.shape.map((_, d) => d).filter((d) => !dims.includes(d));
  const perm = [...kept, ...dims];
  const p = permuteH(h, perm);
  const flat = flatValues(p);
  const r = numelOf(dims.map((d) => h.shape[d]));
  const out: number[][] = [];
  for (let i = 0; i < flat.length; i += r) out.push(flat.slice(i, i + r));
  return out;
}

const REDUCE_REF: Record<string, (g: number[]) => number> = {
  sum: (g) => g.reduce((a, b) => a + b, 0),
  mean: (g) => g.reduce((a, b) => a + b, 0) / g.length,
  max: (g) => (g.some(Number.isNaN) ? NaN : Math.max(...g)),
  min: (g) => (g.some(Number.isNaN) ? NaN : Math.min(...g)),
  argmax: (g) => {
    const nan = g.findIndex(Number.isNaN);
    return nan >= 0 ? nan : g.indexOf(Math.max(...g));
  },
  var: (g) => {
    const m = g.reduce((a, b) => a + b, 0) / g.length;
    return g.reduce((a, b) => a + (b - m) ** 2, 0) / (g.length - 1);
  },
};

const reduceCall = (op: string, t: xpu.Tensor, dims: number[] | undefined): xpu.Tensor => {
  if (op === 'argmax') return xpu.argmax(t, dims?.[0]);
  if (op === 'var') return xpu.var(t, dims);
  return (xpu as unknown as Record<string, (x: xpu.Tensor, d?: number[]) => xpu.Tensor>)[op](t, dims);
};

/** Views of a [6, 7, 40] tensor and the dims reduced over them. */
const REDUCE_LAYOUTS: {
  name: string;
  view: (b: { t: xpu.Tensor; h: HostTensor }) => { t: xpu.Tensor; h: HostTensor };
  dims: number[] | undefined;
}[] = [
  { name: 'last dim, contiguous', view: (b) => b, dims: [2] },
  { name: 'every element', view: (b) => b, dims: undefined },
  { name: 'trailing dims that merge', view: (b) => b, dims: [1, 2] },
  { name: 'one strided dim (dim 0)', view: (b) => b, dims: [0] },
  { name: 'middle dim', view: (b) => b, dims: [1] },
  { name: 'dims that do not merge (generic path)', view: (b) => b, dims: [0, 2] },
  { name: 'last dim of a transposed view', view: (b) => ({ t: b.t.transpose(1, 2), h: transposeH(b.h, 1, 2) }), dims: [2] },
  { name: 'last dim of an offset slice', view: (b) => ({ t: b.t.narrow(2, 3, 30), h: sliceH(b.h, 2, 3, 33) }), dims: [2] },
];

describe('cpu reduction fast paths', () => {
  for (const dtype of ['float32', 'float16'] as DType[]) {
    it.each(['sum', 'mean', 'max', 'min', 'argmax', 'var'])(`%s of ${dtype} over every layout matches float64`, async (op) => {
      const b = make(dtype, [6, 7, 40], 3);
      for (const l of REDUCE_LAYOUTS) {
        if (op === 'argmax' && (l.dims === undefined ? false : l.dims.length > 1)) continue; // one dim or none
        const v = l.view(b);
        const dims = op === 'argmax' && l.dims === undefined ? undefined : l.dims;
        const out = reduceCall(op, v.t, dims);
        const groups = reduceGroups(v.h, dims ?? v.h.shape.map((_, d) => d));
        const outDtype = op === 'argmax' ? 'int32' : dtype;
        expect(out.dtype, `${op} ${l.name}`).toBe(outDtype);
        const ref = groups.map((g) => (op === 'argmax' ? REDUCE_REF[op](g) : round(outDtype, REDUCE_REF[op](g))));
        // Float64 sums in another order: a rounding apart at most (float16: one float16 rounding).
        expectNear(await out.data(), ref, outDtype === 'float16' ? 2 ** -10 : 2 ** -22, `${op} ${dtype} ${l.name}`);
      }
    });
  }

  it.each(['int32', 'int8', 'uint8', 'bool'] as DType[])('sum, max and argmax of %s rows, contiguous and strided', async (dtype) => {
    const b = make(dtype, [5, 70], 9);
    for (const [name, v] of [
      ['rows', b],
      ['columns', { t: b.t.transpose(0, 1), h: transposeH(b.h, 0, 1) }],
    ] as const) {
      const groups = reduceGroups(v.h, [1]);
      const s = xpu.sum(v.t, [1]);
      expect(s.dtype).toBe('int32');
      expect(Array.from(await s.data()), `sum ${dtype} ${name}`).toEqual(groups.map((g) => g.reduce((a, c) => (a + c) | 0, 0)));
      if (dtype !== 'bool') {
        expect(Array.from(await xpu.max(v.t, [1]).data()), `max ${dtype} ${name}`).toEqual(groups.map((g) => Math.max(...g)));
      }
      expect(Array.from(await xpu.argmax(v.t, 1).data()), `argmax ${dtype} ${name}`).toEqual(groups.map((g) => g.indexOf(Math.max(...g))));
    }
  });

  it('sums of many elements keep float64 accuracy (1M float32 near 1.5)', async () => {
    const n = 1 << 20;
    const host = new Float32Array(n);
    for (let i = 0; i < n; i++) host[i] = 1.5 + ((i * 7919) % 1000) * 1e-4;
    let ref = 0;
    for (let i = 0; i < n; i++) ref += host[i];
    const t = xpu.tensor(host, { device });
    expectNear(await t.sum().data(), [Math.fround(ref)], 2 ** -23, 'sum of 1M');
    expectNear(
      await t.reshape([1024, 1024]).mean(1).data(),
      Array.from({ length: 1024 }, (_, r) => {
        let s = 0;
        for (let j = 0; j < 1024; j++) s += host[r * 1024 + j];
        return Math.fround(s / 1024);
      }),
      2 ** -23,
      'row means',
    );
  });
});

/** Float64 references of the row ops. */
function rowRef(op: string, x: number[], eps: number, w?: number[], b?: number[]): number[] {
  if (op === 'softmax' || op === 'logSoftmax') {
    let m = Math.max(...x);
    if (m === -Infinity) m = 0;
    const e = x.map((v) => Math.exp(v - m));
    const s = e.reduce((a, c) => a + c, 0);
    return op === 'softmax' ? e.map((v) => v / s) : x.map((v) => v - m - Math.log(s));
  }
  const mean = op === 'layerNorm' ? x.reduce((a, c) => a + c, 0) / x.length : 0;
  const v = x.reduce((a, c) => a + (c - mean) ** 2, 0) / x.length;
  const inv = 1 / Math.sqrt(v + eps);
  return x.map((c, i) => (c - mean) * inv * (w ? w[i] : 1) + (b ? b[i] : 0));
}

describe('cpu row-op fast paths', () => {
  const D = 48;
  for (const dtype of ['float32', 'float16'] as DType[]) {
    it(`softmax, logSoftmax, layerNorm and rmsNorm of ${dtype} rows: contiguous, strided dim, views, NaN and -inf rows`, async () => {
      const b = make(dtype, [4, 5, D], 13, false);
      const host = flatValues(b.h);
      // Row 0: a NaN; row 1: all -inf (softmax NaN, as PyTorch); row 2: one +inf.
      host[3] = NaN;
      for (let j = 0; j < D; j++) host[D + j] = -Infinity;
      host[2 * D + 7] = Infinity;
      const t = xpu.tensor(Float64Array.from(host), { device, dtype, shape: [4, 5, D] });
      const h = hostTensor([4, 5, D], host);
      const w = make('float32', [D], 14, false);
      const bias = make('float32', [D], 15, false);
      const wv = flatValues(w.h);
      const bv = flatValues(bias.h);
      const views: [string, xpu.Tensor, HostTensor][] = [
        ['contiguous', t, h],
        ['transposed (rows strided)', t.transpose(0, 1), transposeH(h, 0, 1)],
        ['offset slice', t.narrow(2, 0, D).narrow(1, 1, 3), sliceH(h, 1, 1, 4)],
      ];
      const tol = dtype === 'float16' ? 2 ** -10 : 2 ** -21;
      for (const [name, v, vh] of views) {
        const rows = reduceGroups(vh, [vh.shape.length - 1]);
        const cases: [string, xpu.Tensor, number[][]][] = [
          ['softmax', xpu.softmax(v, -1), rows.map((r) => rowRef('softmax', r, 0))],
          ['logSoftmax', xpu.logSoftmax(v, -1), rows.map((r) => rowRef('logSoftmax', r, 0))],
          [
            'layerNorm',
            xpu.layerNorm(v, [D], { weight: w.t, bias: bias.t, eps: 1e-5 }),
            rows.map((r) => rowRef('layerNorm', r, 1e-5, wv, bv)),
          ],
          ['layerNorm (no affine)', xpu.layerNorm(v, [D]), rows.map((r) => rowRef('layerNorm', r, 1e-5))],
          ['rmsNorm', xpu.rmsNorm(v, [D], { weight: w.t, eps: 1e-6 }), rows.map((r) => rowRef('rmsNorm', r, 1e-6, wv))],
        ];
        for (const [op, out, ref] of cases) {
          expect(out.dtype).toBe(dtype);
          expectNear(
            await out.data(),
            ref.flat().map((x) => round(dtype, x)),
            tol,
            `${op} ${dtype} ${name}`,
          );
        }
      }
      // Softmax over a dim that is not last: each row is strided in the input and the output.
      const s0 = xpu.softmax(t, 0);
      const ref0 = new Array<number>(4 * 5 * D);
      for (let i = 0; i < 5; i++)
        for (let j = 0; j < D; j++) {
          const col = [0, 1, 2, 3].map((k) => h.at([k, i, j]));
          rowRef('softmax', col, 0).forEach((y, k) => (ref0[(k * 5 + i) * D + j] = round(dtype, y)));
        }
      expectNear(await s0.data(), ref0, tol, `softmax over dim 0 ${dtype}`);
      // layerNorm over two trailing dims of a permuted view: the row's dims do not merge (generic path).
      const p = t.permute([1, 0, 2]);
      const ln = xpu.layerNorm(p, [4, D]);
      const ph = permuteH(h, [1, 0, 2]);
      expectNear(
        await ln.data(),
        reduceGroups(ph, [1, 2])
          .flatMap((r) => rowRef('layerNorm', r, 1e-5))
          .map((x) => round(dtype, x)),
        tol,
        `layerNorm over [4, D] of a permuted view ${dtype}`,
      );
    });
  }
});

describe('cpu rotary fast path', () => {
  for (const dtype of ['float32', 'float16'] as DType[]) {
    it(`applyRotary on ${dtype}: contiguous and transposed x, broadcast tables, NaN kept to its pair`, async () => {
      const [B, L, H, D] = [2, 5, 3, 16];
      const x = make(dtype, [B, L, H, D], 21, false);
      const xs = flatValues(x.h);
      xs[D + 2] = NaN; // row (0, 0, 1): element 2 and its partner 10 become NaN, nothing else
      const xt = xpu.tensor(Float64Array.from(xs), { device, dtype, shape: [B, L, H, D] });
      const xh = hostTensor([B, L, H, D], xs);
      const cos = make(dtype, [L, D], 22, false);
      const sin = make(dtype, [L, D], 23, false);
      const c4 = cos.t.reshape([1, L, 1, D]);
      const s4 = sin.t.reshape([1, L, 1, D]);
      for (const [name, v, vh] of [
        ['contiguous', xt, xh],
        ['transposed heads', xt.transpose(1, 2), transposeH(xh, 1, 2)],
      ] as const) {
        const out = xpu.applyRotary(v, name === 'contiguous' ? c4 : c4.transpose(1, 2), name === 'contiguous' ? s4 : s4.transpose(1, 2));
        expect(out.dtype).toBe(dtype);
        const ref: number[] = [];
        const lDim = name === 'contiguous' ? 1 : 2;
        const shape = vh.shape;
        for (let i = 0; i < numelOf(shape); i++) {
          const c: number[] = [];
          let rem = i;
          for (let d = shape.length - 1; d >= 0; d--) {
            c[d] = rem % shape[d];
            rem = Math.floor(rem / shape[d]);
          }
          const j = c[3];
          const first = j < D / 2;
          const partner = vh.at([c[0], c[1], c[2], first ? j + D / 2 : j - D / 2]);
          const pos = c[lDim];
          ref.push(round(dtype, vh.at(c) * cos.h.at([pos, j]) + (first ? -partner : partner) * sin.h.at([pos, j])));
        }
        expectNear(await out.data(), ref, dtype === 'float16' ? 2 ** -10 : 2 ** -23, `rotary ${dtype} ${name}`);
      }
    });
  }
});
