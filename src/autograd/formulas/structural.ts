import { XpuValueError } from '../../errors.js';
import { arange, zeros } from '../../ops/creation.js';
import { div, mul } from '../../ops/math.js';
import { cumsum } from '../../ops/scan.js';
import { pad } from '../../ops/pad.js';
import { sum } from '../../ops/reduce.js';
import { scatter, scatterAdd } from '../../ops/scatter.js';
import { flip } from '../../ops/shape_ops.js';
import { cat, gather, triu, tril } from '../../ops/structural.js';
import { expand, narrow, permute, reshape, unsqueeze } from '../../ops/views.js';
import type { Tensor } from '../../tensor/tensor.js';
import { defineGrad, type SavedContext } from '../record.js';

/**
 * Gradients of views and structural ops. View gradients are views or pads of the incoming
 * gradient; the gathers (indexSelect, gather, embedding) scatter-add it back, and the scatters
 * gather it.
 */

type T = Tensor;
type A = Record<string, unknown>;
const at = (c: SavedContext): A => c.attrs as A;

defineGrad('alias', { backward: ([g]) => [g] });
defineGrad('reshape', { backward: ([g], c) => [reshape(g as T, (at(c).shape as number[]).slice())] });
defineGrad('expand', { backward: ([g]) => [g] }); // the engine sums over the expanded dims
defineGrad('permute', {
  backward: ([g], c) => {
    const dims = at(c).dims as number[];
    const inverse = dims.map((_, i) => dims.indexOf(i));
    return [permute(g as T, inverse)];
  },
});
defineGrad('flip', { backward: ([g], c) => [flip(g as T, at(c).dims as number[])] });
defineGrad('triu', { backward: ([g], c) => [triu(g as T, at(c).diagonal as number)] });
defineGrad('tril', { backward: ([g], c) => [tril(g as T, at(c).diagonal as number)] });

/** Zero-pads `g` along `dim` to `before + size + after`. */
function padDim(g: T, dim: number, before: number, after: number): T {
  const amounts = new Array<number>(2 * (g.ndim - dim)).fill(0);
  amounts[2 * (g.ndim - 1 - dim)] = before;
  amounts[2 * (g.ndim - 1 - dim) + 1] = after;
  return pad(g, amounts);
}

/** The gradient of x[..., start : start + step * len : step, ...]: g placed at those positions, zeros elsewhere. */
function embedSlice(g: T, shape: readonly number[], dim: number, start: number, step: number): T {
  const size = shape[dim];
  const len = g.shape[dim];
  let spread = g;
  if (step > 1 && len > 0) {
    // [.., len, ..] -> [.., len, step, ..] (the step - 1 gaps as zeros) -> [.., len * step, ..], cut to fit.
    const wide = padDim(unsqueeze(g, dim + 1), dim + 1, 0, step - 1);
    const merged = reshape(wide, [...g.shape.slice(0, dim), len * step, ...g.shape.slice(dim + 1)]);
    spread = narrow(merged, dim, 0, Math.min(len * step, size - start));
  }
  return padDim(spread, dim, start, size - start - spread.shape[dim]);
}

defineGrad('slice', {
  backward: ([g], c) => {
    const a = at(c);
    return [embedSlice(g as T, a.shape as number[], a.dim as number, a.start as number, a.step as number)];
  },
});
defineGrad('select', {
  backward: ([g], c) => {
    const a = at(c);
    return [embedSlice(unsqueeze(g as T, a.dim as number), a.shape as number[], a.dim as number, a.index as number, 1)];
  },
});

// repeat: the gradient of each copy summed; the padded input shape interleaved with the repeats.
defineGrad('repeat', {
  backward: ([g], c) => {
    const reps = at(c).reps as number[];
    const shape = at(c).shape as number[];
    const padded = [...new Array<number>(reps.length - shape.length).fill(1), ...shape];
    const split = reshape(
      g as T,
      reps.flatMap((r, i) => [r, padded[i]]),
    );
    const summed = sum(
      split,
      reps.map((_, i) => 2 * i),
      false,
    );
    return [reshape(summed, shape.slice())];
  },
});

// split: the pieces' gradients side by side (zeros for a piece that got none).
defineGrad('split', {
  backward: (gs, c) => {
    const { dim, sizes, shape } = at(c) as { dim: number; sizes: number[]; shape: number[] };
    const first = gs.find((g): g is T => g !== null)!;
    const parts = gs.map(
      (g, i) =>
        g ??
        zeros(
          shape.map((n, k) => (k === dim ? sizes[i] : n)),
          { device: first.device, dtype: first.dtype },
        ),
    );
    return [parts.length === 1 ? parts[0] : cat(parts, dim)];
  },
});

defineGrad('cat', {
  backward: ([g], c) => {
    const { dim, sizes } = at(c) as { dim: number; sizes: number[] };
    let start = 0;
    return sizes.map((s, i) => {
      if (s < 0 || !c.needs[i]) {
        start += Math.max(0, s);
        return null;
      }
      const part = narrow(g as T, dim, start, s);
      start += s;
      return part;
    });
  },
});

/** An index along `dim` shaped to address every element of `like` (a view). */
function indexAlong(index: T, dim: number, like: T): T {
  const shape = like.shape.map((_, j) => (j === dim ? index.numel : 1));
  return expand(reshape(index, shape), like.shape.slice());
}

defineGrad('indexSelect', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const { dim, shape } = at(c) as { dim: number; shape: number[] };
    const g = g0 as T;
    if (shape.length === 0) return [g, null];
    const index = c.inputs[1] as T;
    return [scatterAdd(zeros(shape.slice(), { dtype: g.dtype, device: g.device }), dim, indexAlong(index, dim, g), g), null];
  },
});
defineGrad('gather', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const { dim, shape } = at(c) as { dim: number; shape: number[] };
    const g = g0 as T;
    return [scatterAdd(zeros(shape.slice(), { dtype: g.dtype, device: g.device }), dim, c.inputs[1] as T, g), null];
  },
});
defineGrad('embedding', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const shape = at(c).shape as number[];
    const ids = c.inputs[0] as T;
    const width = shape[1];
    const rows = reshape(g0 as T, [ids.numel, width]);
    const index = expand(reshape(ids, [ids.numel, 1]), [ids.numel, width]);
    return [null, scatterAdd(zeros(shape.slice(), { dtype: rows.dtype, device: rows.device }), 0, index, rows)];
  },
});
defineGrad('scatterAdd', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const dim = at(c).dim as number;
    const index = c.inputs[1] as T;
    return [c.needs[0] ? g0 : null, null, c.needs[2] ? gather(g0 as T, dim, index) : null];
  },
});
// scatter: the overwritten positions of input get no gradient.
defineGrad('scatter', {
  save: { inputs: true },
  backward: ([g0], c) => {
    const dim = at(c).dim as number;
    const index = c.inputs[1] as T;
    return [c.needs[0] ? scatter(g0 as T, dim, index, 0) : null, null, c.needs[2] ? gather(g0 as T, dim, index) : null];
  },
});

// pad: constant padding's gradient is the opposite padding (crop, and zeros where it cropped);
// reflect / replicate scatter-add each padded dim back through the positions they copied.
defineGrad('pad', {
  backward: ([g0], c) => {
    const { amounts, mode } = at(c) as { amounts: number[]; mode: 'constant' | 'reflect' | 'replicate' };
    let g = g0 as T;
    if (mode === 'constant')
      return [
        pad(
          g,
          amounts.map((v) => -v),
        ),
      ];
    for (let j = 0; j < amounts.length / 2; j++) {
      const dim = g.ndim - 1 - j;
      const [before, after] = [amounts[2 * j], amounts[2 * j + 1]];
      const n = g.shape[dim] - before - after;
      const source = pad(arange(n, undefined, 1, { device: g.device }), [before, after], { mode });
      const shape = g.shape.slice();
      shape[dim] = n;
      g = scatterAdd(zeros(shape, { dtype: g.dtype, device: g.device }), dim, indexAlong(source, dim, g), g);
    }
    return [g];
  },
});

// Scans: cumsum's gradient is the reversed cumulative sum; cumprod's is that of g * out, over x
// (x must be nonzero: torch's zero handling is not reproduced).
const reverseCumsum = (g: T, dim: number): T => flip(cumsum(flip(g, [dim]), dim), [dim]);
defineGrad('cumsum', { backward: ([g], c) => [reverseCumsum(g as T, at(c).dim as number)] });
defineGrad('cumprod', {
  save: { inputs: true, outputs: true },
  backward: ([g], c) => [div(reverseCumsum(mul(g as T, c.outputs[0]), at(c).dim as number), c.inputs[0] as T)],
});
defineGrad('dropout', { backward: ([g], c) => [mul(g as T, at(c).noise as T)] });
// A move between devices: the gradient would have to move back, which from xpu to cpu is a
// read-back (async); the synchronous engine cannot.
defineGrad('toDevice', {
  backward: ([g]) => {
    throw new XpuValueError('backward through a move between devices is not supported', {
      op: 'to',
      arg: 'device',
      expected: 'tensors that require grad created on the device they are used on',
      got: `a gradient on ${(g as T).device}`,
    });
  },
});
