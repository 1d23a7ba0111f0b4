import type { MapContext, MapKernel } from '../backends/backend.js';
import { INT4_QMAX, INT8_QMAX, roundHalfEven } from './formats.js';

/**
 * Quantize and dequantize as `map` kernels (a WGSL body and its JavaScript twin), so both devices
 * run the same rule through the existing primitive and quantize() stays synchronous (no read-back
 * on xpu). Each kernel's comment says how its operands are laid out; the scalars are read with
 * su(k) / si(k) (u32 / i32) and ctx.scalars[k]. The twins compute in float64 on float32 inputs;
 * the GPU in float32, so a value within float32 rounding of a .5 tie may round the other way.
 */

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/**
 * Symmetric per-row scale: out[r] = max_j |x[r, j]| / 127. Input 0 is strided over [rows] (its row
 * stride); scalars: 0 = K (u32), 1 = the stride along K (i32).
 */
export const INT8_ROW_SCALE: MapKernel = {
  name: 'quant_int8_row_scale',
  lazy: true,
  wgsl: `var m = 0.0;
  for (var j = 0u; j < su(0u); j++) {
    m = max(m, abs(ld0(e0 + i32(j) * si(1u))));
  }
  return m / ${INT8_QMAX}.0;`,
  js: (_x, ctx) => {
    const [k, sk] = ctx.scalars;
    let m = 0;
    for (let j = 0; j < k; j++) m = Math.max(m, Math.abs(ctx.load(0, ctx.e[0] + j * sk)));
    return m / INT8_QMAX;
  },
};

/**
 * q[r, j] = clamp(round(x / scale[r]), -127, 127) into [rows, rowStride], zeros for j >= K.
 * Input 0: x strided over [rows, rowStride]; input 1: the scales, strides [1, 0]. Scalar 0 = K.
 */
export const INT8_QUANTIZE: MapKernel = {
  name: 'quant_int8_quantize',
  lazy: true,
  usesCoords: true,
  wgsl: `if (c[1] >= su(0u)) {
    return 0;
  }
  let s = ld1(e1);
  if (s == 0.0) {
    return 0;
  }
  return i32(clamp(round(ld0(e0) / s), -${INT8_QMAX}.0, ${INT8_QMAX}.0));`,
  js: (_x, ctx) => {
    if (ctx.coords[1] >= ctx.scalars[0]) return 0;
    const s = ctx.load(1, ctx.e[1]);
    if (s === 0) return 0;
    return clamp(roundHalfEven(ctx.load(0, ctx.e[0]) / s), -INT8_QMAX, INT8_QMAX);
  },
};

/** w = q * scale[r]. Input 0: q [N, K] (strides of the padded rows); input 1: scales, [1, 0]. */
export const INT8_DEQUANTIZE: MapKernel = {
  name: 'quant_int8_dequantize',
  wgsl: 'return x0 * x1;',
  js: (x) => x[0] * x[1],
};

/** lo = min(min x, 0), hi = max(max x, 0) over the group starting at e0 (scalars 0 = size, 1 = stride). */
const GROUP_RANGE_WGSL = `var lo = 0.0;
  var hi = 0.0;
  for (var j = 0u; j < su(0u); j++) {
    let x = ld0(e0 + i32(j) * si(1u));
    lo = min(lo, x);
    hi = max(hi, x);
  }`;

function groupRange(ctx: MapContext): { lo: number; hi: number } {
  const [size, stride] = ctx.scalars;
  let lo = 0;
  let hi = 0;
  for (let j = 0; j < size; j++) {
    const x = ctx.load(0, ctx.e[0] + j * stride);
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  return { lo, hi };
}

/**
 * Asymmetric group scale: (hi - lo) / 15, [N, G]. Input 0: x strided over [N, G] (row stride,
 * groupSize * K stride); scalars: 0 = group size, 1 = the stride along K.
 */
export const INT4_GROUP_SCALE: MapKernel = {
  name: 'quant_int4_group_scale',
  lazy: true,
  wgsl: `${GROUP_RANGE_WGSL}
  return (hi - lo) / ${INT4_QMAX}.0;`,
  js: (_x, ctx) => {
    const { lo, hi } = groupRange(ctx);
    return (hi - lo) / INT4_QMAX;
  },
};

/** zero = clamp(round(-lo / scale), 0, 15) (0 when scale is 0). Input 0 as INT4_GROUP_SCALE; input 1: scales [N, G]. */
export const INT4_GROUP_ZERO: MapKernel = {
  name: 'quant_int4_group_zero',
  lazy: true,
  wgsl: `${GROUP_RANGE_WGSL}
  let s = ld1(e1);
  if (s == 0.0) {
    return 0u;
  }
  return u32(clamp(round(-lo / s), 0.0, ${INT4_QMAX}.0));`,
  js: (_x, ctx) => {
    const { lo } = groupRange(ctx);
    const s = ctx.load(1, ctx.e[1]);
    return s === 0 ? 0 : clamp(roundHalfEven(-lo / s), 0, INT4_QMAX);
  },
};

/**
 * One packed int4 word: q = clamp(round(x / s) + zero, 0, 15) for k = 8j .. 8j+7, in the
 * src/quant/pack.ts layout (byte b: k = 8j+b low nibble, 8j+4+b high nibble). Output uint32
 * [N, K / 8]. Input 0: x strided over [N, K / 8] (row stride, 8 * K stride); inputs 1, 2: scales
 * and zeros [N, G], contiguous from 0. Scalars: 0 = K stride (i32), 1 = group size, 2 = G.
 */
export const INT4_PACK: MapKernel = {
  name: 'quant_int4_pack',
  lazy: true,
  usesCoords: true,
  wgsl: `let grp = i32(c[0] * su(2u) + (c[1] * 8u) / su(1u));
  let s = ld1(grp);
  let z = ld2(grp);
  var word = 0u;
  if (s != 0.0) {
    for (var b = 0u; b < 8u; b++) {
      let q = u32(clamp(round(ld0(e0 + i32(b) * si(0u)) / s) + z, 0.0, ${INT4_QMAX}.0));
      word |= q << select(8u * b, 8u * (b - 4u) + 4u, b >= 4u);
    }
  }
  return word;`,
  js: (_x, ctx) => {
    const [sk, gs, groups] = ctx.scalars;
    const grp = ctx.coords[0] * groups + Math.floor((ctx.coords[1] * 8) / gs);
    const s = ctx.load(1, grp);
    const z = ctx.load(2, grp);
    if (s === 0) return 0;
    let word = 0;
    for (let b = 0; b < 8; b++) {
      const q = clamp(roundHalfEven(ctx.load(0, ctx.e[0] + b * sk) / s) + z, 0, INT4_QMAX);
      word |= q << (b >= 4 ? 8 * (b - 4) + 4 : 8 * b);
    }
    return word >>> 0;
  },
};

/**
 * w[n, k] = (q - zero) * scale from the packed layout. Output [N, K]; inputs: 0 = words (loaded as
 * u32), 1 = scales, 2 = zeros, all contiguous from 0. Scalars: 0 = K, 1 = G, 2 = group size.
 */
export const INT4_DEQUANTIZE: MapKernel = {
  name: 'quant_int4_dequantize',
  lazy: true,
  usesCoords: true,
  wgsl: `let k = c[1];
  let w = ld0(i32(c[0] * (su(0u) / 8u) + k / 8u));
  let b = k % 8u;
  let q = f32((w >> select(8u * b, 8u * (b - 4u) + 4u, b >= 4u)) & 15u);
  let g = i32(c[0] * su(1u) + k / su(2u));
  return (q - ld2(g)) * ld1(g);`,
  js: (_x, ctx) => {
    const [k, groups, gs] = ctx.scalars;
    const [n, kk] = ctx.coords;
    const w = ctx.load(0, n * (k / 8) + Math.floor(kk / 8)) >>> 0;
    const b = kk % 8;
    const q = (w >>> (b >= 4 ? 8 * (b - 4) + 4 : 8 * b)) & 15;
    const g = n * groups + Math.floor(kk / gs);
    return (q - ctx.load(2, g)) * ctx.load(1, g);
  },
};
