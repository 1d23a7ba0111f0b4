import { XpuDTypeError, XpuShapeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { isFloating } from '../tensor/dtype.js';
import { makeView, Tensor } from '../tensor/tensor.js';
import { checkSameDevice, tensorArg } from './common.js';
import { mul } from './math.js';
import { matmul } from './matmul.js';
import { sum } from './reduce.js';
import { expand, permute, reshape } from './views.js';

/**
 * einsum, outer and dot, reduced to views (permute, diagonal strides, reshape), sum and matmul.
 *
 * einsum: the equation is parsed into one label per dim ('...' stands for broadcast dims, aligned
 * from the right across operands); a label repeated within an operand takes the diagonal (a view
 * with the strides added); labels found in one operand only and not in the output are summed
 * there; then operands are contracted left to right: labels of both that are still needed (in the
 * output or a later operand) are batch dims, the others are contracted by one batched matmul
 * ([batch, M, K] x [batch, K, N]), or, with nothing to contract or for integer dtypes (no integer
 * GEMM), by a broadcast product and a sum. Finally the dims are permuted into the output's order.
 */

type Labels = string[];

interface Term {
  t: Tensor;
  labels: Labels;
}

const LETTER = /^[a-zA-Z]$/;

function parseTerm(op: string, term: string, ndim: number, which: number): Labels {
  const dots = term.indexOf('...');
  if (term.split('...').length > 2)
    throw new XpuValueError('more than one ellipsis in a term', {
      op,
      arg: 'equation',
      expected: "at most one '...' per operand",
      got: `operand ${which}: '${term}'`,
    });
  const chars = (dots < 0 ? term : term.replace('...', '')).split('');
  const bad = chars.find((c) => !LETTER.test(c));
  if (bad !== undefined)
    throw new XpuValueError('invalid subscript', {
      op,
      arg: 'equation',
      expected: "letters a-z, A-Z and '...'",
      got: `'${bad}' in '${term}'`,
    });
  const e = ndim - chars.length;
  if (dots < 0 ? e !== 0 : e < 0) {
    throw new XpuShapeError("the subscripts do not match the operand's dims", {
      op,
      arg: `operands[${which}]`,
      expected: `${chars.length}${dots < 0 ? '' : ' or more'} dims for '${term}'`,
      got: `${ndim} dims`,
    });
  }
  if (dots < 0) return chars;
  const before = term.slice(0, dots).length;
  // Broadcast dims are labelled by their position from the right: '.0' is the last one.
  const ell = Array.from({ length: e }, (_, i) => `.${e - 1 - i}`);
  return [...chars.slice(0, before), ...ell, ...chars.slice(before)];
}

/** The diagonal over repeated labels, as a view: the repeated dims merge into one with their strides added. */
function diagonal(op: string, term: Term, which: number): Term {
  const { t, labels } = term;
  const out: Labels = [];
  const shape: number[] = [];
  const strides: number[] = [];
  labels.forEach((l, d) => {
    const j = out.indexOf(l);
    if (j < 0) {
      out.push(l);
      shape.push(t.shape[d]);
      strides.push(t.strides[d]);
      return;
    }
    if (shape[j] !== t.shape[d]) {
      throw new XpuShapeError('a repeated subscript must have equal sizes', {
        op,
        arg: `operands[${which}]`,
        expected: `size ${shape[j]} for '${l}'`,
        got: `size ${t.shape[d]}`,
      });
    }
    strides[j] += t.strides[d];
  });
  return out.length === labels.length ? term : { t: makeView(t, shape, strides, t.offset), labels: out };
}

/** Sums the dims whose labels are not in `keep` (none: the term itself). */
function sumOut(term: Term, keep: Set<string>, owned: Tensor[]): Term {
  const dims = term.labels.map((l, d) => (keep.has(l) ? -1 : d)).filter((d) => d >= 0);
  if (dims.length === 0) return term;
  const t = sum(term.t, dims);
  owned.push(t);
  return { t, labels: term.labels.filter((l) => keep.has(l)) };
}

/** The term's dims in the order of `order` (labels it lacks become size-1 dims). */
function arrange(term: Term, order: Labels, owned: Tensor[]): Tensor {
  const present = order.filter((l) => term.labels.includes(l));
  const p = permute(
    term.t,
    present.map((l) => term.labels.indexOf(l)),
  );
  owned.push(p);
  const shape = order.map((l) => (term.labels.includes(l) ? term.t.shape[term.labels.indexOf(l)] : 1));
  const r = reshape(p, shape);
  owned.push(r);
  return r;
}

function contract(a: Term, b: Term, keep: Set<string>, owned: Tensor[]): Term {
  const inB = new Set(b.labels);
  const inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && keep.has(l));
  const inner = a.labels.filter((l) => inB.has(l) && !keep.has(l));
  const aOnly = a.labels.filter((l) => !inB.has(l));
  const bOnly = b.labels.filter((l) => !inA.has(l));
  const size = (l: string): number =>
    Math.max(a.labels.includes(l) ? a.t.shape[a.labels.indexOf(l)] : 1, b.labels.includes(l) ? b.t.shape[b.labels.indexOf(l)] : 1);
  const labels = [...batch, ...aOnly, ...bOnly];
  if (inner.length === 0 || !isFloating(a.t.dtype)) {
    // A broadcast product over [batch, aOnly, bOnly, inner], then the sum over inner.
    const order = [...labels, ...inner];
    const p = mul(arrange(a, order, owned), arrange(b, order, owned));
    owned.push(p);
    if (inner.length === 0) return { t: p, labels };
    const s = sum(
      p,
      inner.map((_, i) => labels.length + i),
    );
    owned.push(s);
    return { t: s, labels };
  }
  // One batched GEMM: [batch, M, K] x [batch, K, N], K's broadcast (size-1) dims expanded first.
  const bs = batch.map(size);
  const m = aOnly.reduce((acc, l) => acc * size(l), 1);
  const n = bOnly.reduce((acc, l) => acc * size(l), 1);
  const k = inner.reduce((acc, l) => acc * size(l), 1);
  const full = (term: Term, order: Labels): Tensor => {
    const t = arrange(term, order, owned);
    const e = expand(
      t,
      order.map((l) => (inner.includes(l) ? size(l) : t.shape[order.indexOf(l)])),
    );
    owned.push(e);
    return e;
  };
  const at = full(a, [...batch, ...aOnly, ...inner]);
  const bt = full(b, [...batch, ...inner, ...bOnly]);
  const a3 = reshape(at, [...at.shape.slice(0, batch.length), m, k]);
  const b3 = reshape(bt, [...bt.shape.slice(0, batch.length), k, n]);
  owned.push(a3, b3);
  const c = matmul(a3, b3);
  owned.push(c);
  const r = reshape(c, [...bs, ...aOnly.map(size), ...bOnly.map(size)]);
  owned.push(r);
  return { t: r, labels };
}

/**
 * Einstein summation (torch.einsum): einsum('ij,jk->ik', a, b), implicit outputs ('ij,jk':
 * labels seen once, in ASCII order, after the '...' dims), '...' broadcasting, repeated labels
 * (diagonals, traces). Operands share one dtype (as torch); contractions of floats run as GEMMs.
 */
export function einsum(equation: string, ...operands: Tensor[] | [Tensor[]]): Tensor {
  const op = 'einsum';
  if (typeof equation !== 'string')
    throw new XpuTypeError('equation must be a string', {
      op,
      arg: 'equation',
      expected: "a string such as 'ij,jk->ik'",
      got: typeName(equation),
    });
  const list = (operands.length === 1 && Array.isArray(operands[0]) ? operands[0] : operands) as unknown[];
  const ts = list.map((t, i) => tensorArg(op, `operands[${i}]`, t));
  if (ts.length === 0)
    throw new XpuValueError('needs at least one operand', { op, arg: 'operands', expected: 'one tensor per term', got: 'none' });
  checkSameDevice(
    op,
    ts,
    ts.map((_, i) => `operands[${i}]`),
  );
  const bad = ts.findIndex((t) => t.dtype !== ts[0].dtype);
  if (bad >= 0)
    throw new XpuDTypeError('operands must share one dtype', { op, arg: `operands[${bad}]`, expected: ts[0].dtype, got: ts[bad].dtype });
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs, ...rest] = eq.split('->');
  if (rest.length) throw new XpuValueError("more than one '->'", { op, arg: 'equation', expected: "at most one '->'", got: equation });
  const terms = lhs.split(',');
  if (terms.length !== ts.length)
    throw new XpuValueError('one term per operand', {
      op,
      arg: 'equation',
      expected: `${ts.length} comma-separated terms`,
      got: `${terms.length} in '${equation}'`,
    });
  const ellipsis = Math.max(0, ...terms.map((term, i) => (term.includes('...') ? ts[i].ndim - term.replace('...', '').length : 0)));
  const parsed: Term[] = terms.map((term, i) => ({ t: ts[i], labels: parseTerm(op, term, ts[i].ndim, i) }));
  const ellLabels = Array.from({ length: ellipsis }, (_, i) => `.${ellipsis - 1 - i}`);
  // Every label's size; size-1 dims broadcast as torch allows.
  const sizes = new Map<string, number>();
  parsed.forEach(({ t, labels }, i) =>
    labels.forEach((l, d) => {
      const s = sizes.get(l);
      if (s === undefined || s === 1) sizes.set(l, t.shape[d]);
      else if (t.shape[d] !== s && t.shape[d] !== 1) {
        throw new XpuShapeError('a subscript has sizes that do not broadcast', {
          op,
          arg: `operands[${i}]`,
          expected: `size ${s} (or 1) for '${l.startsWith('.') ? '...' : l}'`,
          got: `size ${t.shape[d]}`,
        });
      }
    }),
  );
  let output: Labels;
  if (rhs === undefined) {
    const counts = new Map<string, number>();
    for (const { labels } of parsed) for (const l of labels) if (!l.startsWith('.')) counts.set(l, (counts.get(l) ?? 0) + 1);
    output = [
      ...ellLabels,
      ...[...counts]
        .filter(([, c]) => c === 1)
        .map(([l]) => l)
        .sort(),
    ];
  } else {
    if (rhs.split('...').length > 2)
      throw new XpuValueError('more than one ellipsis in the output', { op, arg: 'equation', expected: "at most one '...'", got: rhs });
    const chars = rhs.replace('...', '').split('');
    const badOut = chars.find((c) => !LETTER.test(c) || !sizes.has(c));
    if (badOut !== undefined)
      throw new XpuValueError('an output subscript appears in no input', {
        op,
        arg: 'equation',
        expected: 'output subscripts taken from the inputs',
        got: `'${badOut}'`,
      });
    if (new Set(chars).size !== chars.length)
      throw new XpuValueError('an output subscript repeats', { op, arg: 'equation', expected: 'each output subscript once', got: rhs });
    // Without '...' in the output, the broadcast dims are summed (torch: '...i->i').
    const dots = rhs.indexOf('...');
    output = dots < 0 ? chars : [...chars.slice(0, dots), ...ellLabels, ...chars.slice(dots)];
  }
  const owned: Tensor[] = [];
  try {
    const outSet = new Set(output);
    let terms2 = parsed.map((term, i) => diagonal(op, term, i));
    for (const t of terms2) if (!ts.includes(t.t)) owned.push(t.t);
    // Labels needed after operand i: the output's, and those of every other operand.
    const neededBeside = (i: number): Set<string> => new Set([...outSet, ...terms2.flatMap((t, j) => (j === i ? [] : t.labels))]);
    terms2 = terms2.map((t, i) => sumOut(t, neededBeside(i), owned));
    let acc = terms2[0];
    for (let i = 1; i < terms2.length; i++) {
      const later = new Set([...outSet, ...terms2.slice(i + 1).flatMap((t) => t.labels)]);
      acc = contract(acc, terms2[i], later, owned);
    }
    acc = sumOut(acc, outSet, owned);
    const result = arrange(acc, output, owned);
    owned.splice(owned.indexOf(result), 1); // the views it was made through go; it stays
    return result;
  } finally {
    for (const t of owned) t.dispose();
  }
}

function vectorArg(op: string, arg: string, t: Tensor): void {
  if (t.ndim !== 1) throw new XpuShapeError('expects a 1-D tensor', { op, arg, expected: '1 dim', got: `${t.ndim} dims` });
}

/** The outer product a[i] * b[j] of two 1-D tensors (dtypes promote as mul's). */
export function outer(a: Tensor, b: Tensor): Tensor {
  const op = 'outer';
  tensorArg(op, 'input', a);
  tensorArg(op, 'vec2', b);
  vectorArg(op, 'input', a);
  vectorArg(op, 'vec2', b);
  const col = reshape(a, [a.shape[0], 1]);
  try {
    return mul(col, b);
  } finally {
    col.dispose();
  }
}

/**
 * The dot product of two 1-D tensors of one dtype and length (torch.dot): a GEMV for floats
 * (float32 accumulation), a product and a sum for integers (int32, wrapping).
 */
export function dot(a: Tensor, b: Tensor): Tensor {
  const op = 'dot';
  tensorArg(op, 'input', a);
  tensorArg(op, 'other', b);
  vectorArg(op, 'input', a);
  vectorArg(op, 'other', b);
  checkSameDevice(op, [a, b], ['input', 'other']);
  if (a.dtype !== b.dtype)
    throw new XpuDTypeError('both vectors must have the same dtype', { op, arg: 'other', expected: a.dtype, got: b.dtype });
  if (a.shape[0] !== b.shape[0])
    throw new XpuShapeError('vectors must have the same length', {
      op,
      arg: 'other',
      expected: `${a.shape[0]} elements`,
      got: `${b.shape[0]} elements`,
    });
  if (isFloating(a.dtype) && a.shape[0] > 0) return matmul(a, b);
  // An empty float dot is 0 in the dtype; integers sum to int32 (torch: int64).
  const p = mul(a, b);
  const s = sum(p);
  p.dispose();
  return s;
}
