import { XpuValueError } from '../errors.js';
import { tensorArg } from '../ops/common.js';
import { Tensor } from '../tensor/tensor.js';
import { IDENT, RESERVED, type Expr } from './ast.js';
import { checkExpr, exprKey } from './check.js';
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

function makeMod(kind: 'score' | 'mask', source: string | Expr, captures: Captures | undefined): FlexMod {
  const op = kind === 'score' ? 'scoreMod' : 'maskMod';
  const map = new Map<string, Tensor>();
  if (captures !== undefined && (typeof captures !== 'object' || captures === null || Array.isArray(captures))) {
    throw new XpuValueError('captures must be an object of tensors', { op, arg: 'captures', expected: '{ name: Tensor, ... }', got: Array.isArray(captures) ? 'an array' : typeof captures });
  }
  for (const [name, t] of Object.entries(captures ?? {})) {
    if (!IDENT.test(name) || RESERVED.has(name)) {
      throw new XpuValueError('bad name for a captured tensor', { op, arg: 'captures', expected: `an identifier (at most 32 characters) other than ${[...RESERVED].join(', ')}`, got: JSON.stringify(name) });
    }
    tensorArg(op, `captures.${name}`, t);
    if (t.ndim < 1 || t.ndim > MAX_CAPTURE_RANK || t.numel === 0) {
      throw new XpuValueError('a captured tensor needs 1 to 4 dims and at least one element', { op, arg: `captures.${name}`, expected: `1 to ${MAX_CAPTURE_RANK} dims, non-empty`, got: `shape [${t.shape.join(', ')}]` });
    }
    map.set(name, t);
  }
  if (map.size > MAX_CAPTURES) throw new XpuValueError('too many captured tensors', { op, arg: 'captures', expected: `at most ${MAX_CAPTURES}`, got: String(map.size) });
  const expr = typeof source === 'string' ? parseExpr(op, source) : source;
  const type = checkExpr(expr, { op, allowScore: kind === 'score', captures: new Map([...map].map(([n, t]) => [n, t.ndim])) });
  const want = kind === 'score' ? 'number' : 'bool';
  if (type !== want) {
    throw new XpuValueError(`a ${op} expression must give a ${want}`, { op, arg: 'expression', expected: kind === 'score' ? 'a number (the new score)' : 'a bool (true = attend)', got: `a ${type}: ${exprKey(expr)}` });
  }
  return Object.freeze({ kind, expr, captures: map, key: exprKey(expr) });
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
  return typeof x === 'object' && x !== null && (x as FlexMod).kind === kind && typeof (x as FlexMod).key === 'string' && (x as FlexMod).captures instanceof Map;
}
