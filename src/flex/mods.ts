import { XpuValueError } from '../errors.js';
import { fmtValue } from '../format_value.js';
import { tensorArg } from '../ops/common.js';
import { Tensor } from '../tensor/tensor.js';
import { IDENT, RESERVED, type Expr } from './ast.js';
import { checkedExpr, exprKey } from './check.js';
import { parseExpr } from './parser.js';

/**
 * Score and mask modifications for flexAttention, PyTorch's score_mod(score, b, h, q_idx, kv_idx)
 * and mask_mod(b, h, q_idx, kv_idx), written once in the expression language (text or a tree from
 * the builder) and compiled for both devices. Captured tensors (per-head ALiBi slopes, document
 * ids...) are named in `captures` and indexed in the expression as name[i] or name[i, j].
 */
export interface FlexMod {
  readonly kind: 'score' | 'mask';
  /** The checked tree. */
  readonly expr: Expr;
  readonly captures: ReadonlyMap<string, Tensor>;
  /** Canonical text: identifies the modification in pipeline caches. */
  readonly key: string;
}

export type Captures = Record<string, Tensor>;
const MAX_CAPTURES = 4;
const MAX_CAPTURE_RANK = 4;

/** Validates one captured tensor (a name the expression may use, a live tensor of 1 to 4 dims). */
function checkCapture(op: string, name: unknown, t: unknown): Tensor {
  if (typeof name !== 'string' || !IDENT.test(name) || RESERVED.has(name)) {
    throw new XpuValueError('bad name for a captured tensor', {
      op,
      arg: 'captures',
      expected: `an identifier (at most 32 characters) other than ${[...RESERVED].join(', ')}`,
      got: fmtValue(name),
    });
  }
  const x = tensorArg(op, `captures.${name}`, t);
  if (x.ndim < 1 || x.ndim > MAX_CAPTURE_RANK || x.numel === 0) {
    throw new XpuValueError('a captured tensor needs 1 to 4 dims and at least one element', {
      op,
      arg: `captures.${name}`,
      expected: `1 to ${MAX_CAPTURE_RANK} dims, non-empty`,
      got: `shape [${x.shape.join(', ')}]`,
    });
  }
  return x;
}

/** Snapshots and checks `tree` against the captures and builds the frozen FlexMod. */
function finishMod(op: string, kind: 'score' | 'mask', map: Map<string, Tensor>, tree: unknown): FlexMod {
  if (map.size > MAX_CAPTURES)
    throw new XpuValueError('too many captured tensors', {
      op,
      arg: 'captures',
      expected: `at most ${MAX_CAPTURES}`,
      got: String(map.size),
    });
  const { expr, type } = checkedExpr(tree, { op, allowScore: kind === 'score', captures: new Map([...map].map(([n, t]) => [n, t.ndim])) });
  const want = kind === 'score' ? 'number' : 'bool';
  if (type !== want) {
    throw new XpuValueError(`a ${op} expression must give a ${want}`, {
      op,
      arg: 'expression',
      expected: kind === 'score' ? 'a number (the new score)' : 'a bool (true = attend)',
      got: `a ${type}: ${exprKey(expr)}`,
    });
  }
  return Object.freeze({ kind, expr, captures: map, key: exprKey(expr) });
}

function makeMod(kind: 'score' | 'mask', source: string | Expr, captures: Captures | undefined): FlexMod {
  const op = kind === 'score' ? 'scoreMod' : 'maskMod';
  const map = new Map<string, Tensor>();
  if (captures !== undefined && (typeof captures !== 'object' || captures === null || Array.isArray(captures))) {
    throw new XpuValueError('captures must be an object of tensors', {
      op,
      arg: 'captures',
      expected: '{ name: Tensor, ... }',
      got: Array.isArray(captures) ? 'an array' : typeof captures,
    });
  }
  for (const [name, t] of Object.entries(captures ?? {})) map.set(name, checkCapture(op, name, t));
  return finishMod(op, kind, map, typeof source === 'string' ? parseExpr(op, source) : source);
}

/**
 * A modification as an op receives it (from scoreMod/maskMod, or forged, or with getters): its
 * captures and its tree are each read once, validated again, and the tree is snapshotted, so the
 * op checks and compiles one frozen copy. The key is recomputed from that copy, never trusted.
 * The caller has checked that `mod` looks like a FlexMod of `kind` (isFlexMod).
 */
export function checkedMod(op: string, mod: FlexMod, kind: 'score' | 'mask'): FlexMod {
  const captures: unknown = mod.captures;
  if (!(captures instanceof Map))
    throw new XpuValueError('captures must be a Map of tensors', {
      op,
      arg: 'captures',
      expected: 'Map<string, Tensor>',
      got: fmtValue(captures),
    });
  const map = new Map<string, Tensor>();
  for (const [name, t] of captures) map.set(name as string, checkCapture(op, name, t));
  return finishMod(op, kind, map, mod.expr);
}

/** score_mod: an expression over score, b, h, q_idx, kv_idx (and captured tensors) giving the new score. */
export function scoreMod(source: string | Expr, captures?: Captures): FlexMod {
  return makeMod('score', source, captures);
}

/** mask_mod: a bool expression over b, h, q_idx, kv_idx (and captured tensors): true = attend. */
export function maskMod(source: string | Expr, captures?: Captures): FlexMod {
  return makeMod('mask', source, captures);
}

export function isFlexMod(x: unknown, kind: 'score' | 'mask'): x is FlexMod {
  return (
    typeof x === 'object' &&
    x !== null &&
    (x as FlexMod).kind === kind &&
    typeof (x as FlexMod).key === 'string' &&
    (x as FlexMod).captures instanceof Map
  );
}
