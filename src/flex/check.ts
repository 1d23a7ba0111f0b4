import { XpuValueError } from '../errors.js';
import { BINARY_OPS, FUNCTIONS, IDENT, UNARY_OPS, type Expr, type ExprType } from './ast.js';

/** Largest finite float32: literals beyond it would not survive the trip to the GPU. */
const F32_MAX = 3.4028234663852886e38;

export interface CheckContext {
  op: string;
  /** Whether `score` may appear (scoreMod) or not (maskMod). */
  allowScore: boolean;
  /** Captured tensors by name: their rank (an index per dim). */
  captures: ReadonlyMap<string, number>;
}

const bad = (ctx: CheckContext, why: string, expected: string, got: string): never => {
  throw new XpuValueError(`invalid expression: ${why}`, { op: ctx.op, arg: 'expression', expected, got });
};

/**
 * Checks a tree node by node (it may come from the builder or from user code that made the
 * objects itself, so nothing about it is trusted) and returns its type. Every node kind, operator,
 * function and name must be one of the closed sets in ast.ts, numbers must be float32-finite
 * (or the literal inf), and operand types must fit the operator.
 */
export function checkExpr(e: unknown, ctx: CheckContext, depth = 0): ExprType {
  if (depth > 200) bad(ctx, 'nesting is too deep', 'at most 200 levels', String(depth));
  if (typeof e !== 'object' || e === null) return bad(ctx, 'not an expression node', 'an Expr object', String(e));
  const n = e as Expr;
  const want = (x: unknown, t: ExprType, what: string): void => {
    const got = checkExpr(x, ctx, depth + 1);
    if (got !== t) bad(ctx, `${what} must be a ${t}`, `a ${t} expression`, `a ${got}`);
  };
  switch (n.kind) {
    case 'num':
      if (typeof n.value !== 'number' || Number.isNaN(n.value) || (Number.isFinite(n.value) ? Math.abs(n.value) > F32_MAX : n.value !== Infinity)) {
        bad(ctx, 'a number literal must be finite in float32 (or inf)', `|x| <= ${F32_MAX}`, String(n.value));
      }
      return 'number';
    case 'bool':
      if (typeof n.value !== 'boolean') bad(ctx, 'a bool literal must be true or false', 'true or false', String((n as { value: unknown }).value));
      return 'bool';
    case 'var':
      if (n.name === 'score') {
        if (!ctx.allowScore) bad(ctx, 'score is not available in a mask modification', 'b, h, q_idx, kv_idx or a captured tensor', 'score');
        return 'number';
      }
      if (n.name !== 'b' && n.name !== 'h' && n.name !== 'q_idx' && n.name !== 'kv_idx') bad(ctx, 'unknown variable', 'score, b, h, q_idx or kv_idx', String(n.name));
      return 'number';
    case 'capture': {
      if (typeof n.name !== 'string' || !IDENT.test(n.name)) return bad(ctx, 'bad captured tensor name', 'an identifier', String(n.name));
      const rank = ctx.captures.get(n.name);
      if (rank === undefined) bad(ctx, `unknown captured tensor '${n.name}'`, ctx.captures.size ? `one of ${[...ctx.captures.keys()].join(', ')} (pass tensors in the captures argument)` : 'a tensor passed in the captures argument', n.name);
      if (!Array.isArray(n.index) || n.index.length !== rank) bad(ctx, `captured tensor '${n.name}' needs one index per dim`, `${rank} indices`, String(Array.isArray(n.index) ? n.index.length : n.index));
      n.index.forEach((x, i) => want(x, 'number', `index ${i} of ${n.name}`));
      return 'number';
    }
    case 'unary':
      if (!(UNARY_OPS as readonly string[]).includes(n.op)) bad(ctx, 'unknown unary operator', UNARY_OPS.join(' '), String(n.op));
      want(n.arg, n.op === '!' ? 'bool' : 'number', `the operand of ${n.op}`);
      return n.op === '!' ? 'bool' : 'number';
    case 'binary': {
      if (!(BINARY_OPS as readonly string[]).includes(n.op)) bad(ctx, 'unknown binary operator', BINARY_OPS.join(' '), String(n.op));
      if (n.op === '&&' || n.op === '||') {
        want(n.left, 'bool', `the left operand of ${n.op}`);
        want(n.right, 'bool', `the right operand of ${n.op}`);
        return 'bool';
      }
      if (n.op === '==' || n.op === '!=') {
        const l = checkExpr(n.left, ctx, depth + 1);
        const r = checkExpr(n.right, ctx, depth + 1);
        if (l !== r) bad(ctx, `both sides of ${n.op} must have the same type`, `${l} ${n.op} ${l}`, `${l} ${n.op} ${r}`);
        return 'bool';
      }
      want(n.left, 'number', `the left operand of ${n.op}`);
      want(n.right, 'number', `the right operand of ${n.op}`);
      return ['<', '<=', '>', '>='].includes(n.op) ? 'bool' : 'number';
    }
    case 'call': {
      if (typeof n.fn !== 'string' || !Object.prototype.hasOwnProperty.call(FUNCTIONS, n.fn)) return bad(ctx, 'unknown function', Object.keys(FUNCTIONS).join(', '), String(n.fn));
      const arity = FUNCTIONS[n.fn];
      if (!Array.isArray(n.args) || n.args.length !== arity) bad(ctx, `${n.fn} takes ${arity} argument(s)`, String(arity), String(Array.isArray(n.args) ? n.args.length : n.args));
      n.args.forEach((x, i) => want(x, 'number', `argument ${i + 1} of ${n.fn}`));
      return 'number';
    }
    case 'select': {
      want(n.cond, 'bool', 'the condition of ?: / where');
      const a = checkExpr(n.then, ctx, depth + 1);
      const b = checkExpr(n.otherwise, ctx, depth + 1);
      if (a !== b) bad(ctx, 'both branches of ?: / where must have the same type', `${a} and ${a}`, `${a} and ${b}`);
      return a;
    }
    default:
      return bad(ctx, 'unknown node kind', 'num, bool, var, capture, unary, binary, call, select', String((n as { kind: unknown }).kind));
  }
}

/** A canonical text of a checked tree (the pipeline cache key, and what error messages show). */
export function exprKey(e: Expr): string {
  switch (e.kind) {
    case 'num': return e.value === Infinity ? 'inf' : String(e.value);
    case 'bool': return String(e.value);
    case 'var': return e.name;
    case 'capture': return `${e.name}[${e.index.map(exprKey).join(',')}]`;
    case 'unary': return `(${e.op}${exprKey(e.arg)})`;
    case 'binary': return `(${exprKey(e.left)}${e.op}${exprKey(e.right)})`;
    case 'call': return `${e.fn}(${e.args.map(exprKey).join(',')})`;
    case 'select': return `(${exprKey(e.cond)}?${exprKey(e.then)}:${exprKey(e.otherwise)})`;
  }
}
