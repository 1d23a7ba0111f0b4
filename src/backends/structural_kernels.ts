import type { MapKernel } from './backend.js';
import { identity } from './copy_kernel.js';

/**
 * The map kernels behind cat, indexSelect/gather/embedding and triu/tril, each a WGSL body and
 * its JavaScript twin. All are lazy: a body loads only the input it returns, so an operand whose
 * storage index is out of its range for this output element (the inputs of cat that do not own
 * the element) is never read.
 */

const CAT = new Map<number, MapKernel>();

/**
 * cat of k inputs. Every input's strides are in the output's coordinates and its offset is
 * shifted back by its start along the cat dim, so the output coordinate indexes each input
 * directly; the coordinate along the dim picks the input. Scalars: 0 = the cat dim (u32),
 * k = the start of input k (i32), for k = 1..n-1.
 */
export function catKernel(n: number): MapKernel {
  let k = CAT.get(n);
  if (k) return k;
  if (n === 1) {
    // One input is a plain (converting) copy: no coordinates, so contiguous dims merge.
    k = {
      name: 'cat1',
      lazy: true,
      wgsl: 'return ld0(e0);',
      js: (_x, ctx) => identity(ctx.load(0, ctx.e[0])),
      pure: { fn: identity, slots: [{ tensor: true, index: 0 }], copy: true },
    };
  } else {
    const branches: string[] = [];
    for (let j = 0; j < n - 1; j++) branches.push(`if (cd < si(${j + 1}u)) { return ld${j}(e${j}); }`);
    k = {
      name: `cat${n}`,
      lazy: true,
      usesCoords: true,
      wgsl: `let cd = i32(c[su(0u)]);\n  ${branches.join('\n  ')}\n  return ld${n - 1}(e${n - 1});`,
      js: (_x, ctx) => {
        const cd = ctx.coords[ctx.scalars[0]];
        let j = 0;
        while (j < n - 1 && cd >= ctx.scalars[j + 1]) j++;
        return ctx.load(j, ctx.e[j]);
      },
    };
  }
  CAT.set(n, k);
  return k;
}

/**
 * out = x[..., index, ...]: input 0 is the index (loaded as i32), input 1 is x with stride 0
 * along the indexed dim. Scalars: 0 = x's stride along that dim, 1 = its size.
 *
 * An index outside [0, size) is an error. On xpu the index data is not readable synchronously, so
 * the op cannot check it before the kernel runs: the kernel never reads out of range, writes 0,
 * and raises a device-side assert (index_error) that the next read or synchronize turns into
 * XpuIndexError, marking this output failed. The CPU twin gives 0 (the ops check cpu indices
 * first and throw, so on cpu this path is only reached where no check applies). Negative indices
 * are never wrapped: a uint32 index above 2^31 - 1 reads as negative, which is out of range too.
 */
export const TAKE_KERNEL: MapKernel = {
  name: 'take',
  lazy: true,
  assertsIndex: true,
  wgsl: 'let j = ld0(e0);\n  if (j < 0 || j >= si(1u)) {\n    index_error(j);\n    return R(0);\n  }\n  return ld1(e1 + j * si(0u));',
  js: (_x, ctx) => {
    const j = ctx.load(0, ctx.e[0]);
    if (j < 0 || j >= ctx.scalars[1]) return 0;
    return ctx.load(1, ctx.e[1] + j * ctx.scalars[0]);
  },
};

/** triu (upper) / tril: keep where col - row >= diagonal (<= for tril). Scalars: 0 = diagonal, 1 = the row dim. */
function triangleKernel(upper: boolean): MapKernel {
  const cmp = upper ? '>=' : '<=';
  return {
    name: upper ? 'triu' : 'tril',
    lazy: true,
    usesCoords: true,
    wgsl: `let r = su(1u);\n  if (i32(c[r + 1u]) - i32(c[r]) ${cmp} si(0u)) { return ld0(e0); }\n  return R(0);`,
    js: (_x, ctx) => {
      const r = ctx.scalars[1];
      const d = ctx.coords[r + 1] - ctx.coords[r];
      return (upper ? d >= ctx.scalars[0] : d <= ctx.scalars[0]) ? ctx.load(0, ctx.e[0]) : 0;
    },
  };
}

export const TRIU_KERNEL = triangleKernel(true);
export const TRIL_KERNEL = triangleKernel(false);
