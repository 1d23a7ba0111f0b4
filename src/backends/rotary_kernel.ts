import type { MapKernel } from './backend.js';

/**
 * The rotary map kernel (ops/rotary.ts applyRotary, which re-exports it) and its per-element
 * function, shared with the cpu's row loop (cpu/rotary_fast.ts): beside the backend contract, so
 * that backends do not import src/ops.
 */

/**
 * One output element: x * cos + rotate_half's partner * sin, where the partner is -x2 for an
 * element of the first half and x1 for one of the second. The cpu twin and the cpu's row loop
 * (src/backends/cpu/rotary_fast.ts) both compute through this.
 */
export const rotateHalf = (x: number, partner: number, cos: number, sin: number, first: boolean): number =>
  x * cos + (first ? -partner : partner) * sin;

/**
 * One float32 row of D = 2h values rotated into `out` at `to`: x from `x` at `xAt`, the table rows
 * from `cos` / `sin` at `cAt` / `sAt`, all unit-stride (the cpu's row loop and its decode step).
 */
export function rotateHalfRowF32(
  x: Float32Array,
  xAt: number,
  cos: Float32Array,
  cAt: number,
  sin: Float32Array,
  sAt: number,
  h: number,
  out: Float32Array,
  to: number,
): void {
  for (let j = 0; j < h; j++) {
    const a = x[xAt + j];
    const b = x[xAt + j + h];
    out[to + j] = rotateHalf(a, b, cos[cAt + j], sin[sAt + j], true);
    out[to + j + h] = rotateHalf(b, a, cos[cAt + j + h], sin[sAt + j + h], false);
  }
}

export const ROTARY_KERNEL: MapKernel = {
  name: 'rotary_half',
  lazy: true,
  usesCoords: true,
  wgsl: [
    'let j = i32(c[su(0u)]);',
    '  let h = si(1u);',
    '  let first = j < h;',
    '  let partner = ld0(e0 + select(-h, h, first) * si(2u));',
    '  let rot = select(partner, -partner, first);',
    '  return R(ld0(e0) * ld1(e1) + rot * ld2(e2));',
  ].join('\n'),
  js: (_x, ctx) => {
    const j = ctx.coords[ctx.scalars[0]];
    const h = ctx.scalars[1];
    const first = j < h;
    const partner = ctx.load(0, ctx.e[0] + (first ? h : -h) * ctx.scalars[2]);
    return rotateHalf(ctx.load(0, ctx.e[0]), partner, ctx.load(1, ctx.e[1]), ctx.load(2, ctx.e[2]), first);
  },
};
