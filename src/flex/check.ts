import { XpuError, XpuValueError } from '../errors.js';
import { fmtValue, typeName } from '../format_value.js';
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

const bad = (ctx: { op: string }, why: string, expected: string, got: string): never => {
  throw new XpuValueError(`invalid expression: ${why}`, { op: ctx.op, arg: 'expression', expected, got });
};

/** Each node kind's fields; the ones that hold a node or a list of nodes are copied recursively. */
const NODE_FIELDS: Record<string, readonly string[]> = {
  num: ['value'],
  bool: ['value'],
  var: ['name'],
  capture: ['name', 'index'],
  unary: ['op', 'arg'],
  binary: ['op', 'left', 'right'],
  call: ['fn', 'args'],
  select: ['cond', 'then', 'otherwise'],
};
const CHILD_FIELDS = new Set(['arg', 'left', 'right', 'cond', 'then', 'otherwise']);
const LIST_FIELDS = new Set(['index', 'args']);
/** Nodes per tree: bounds the copy of a tree that shares subtrees (a DAG doubles per level). */
const MAX_NODES = 10_000;
const MAX_DEPTH = 200;

/**
 * A deep copy of a user's tree as fresh, frozen plain data, reading every field exactly once.
 * The checker and the emitters (wgsl.ts, js.ts, exprKey) then all read this copy, so a tree whose
 * getters or Proxy traps answer differently on each read cannot show the checker one expression
 * and the shader another. Only own data properties are read: an accessor is refused without
 * being run, and so is any object or function where a literal belongs. Node shapes (kind, the
 * fields of that kind, arrays of nodes) are validated here; values, names and types in checkExpr.
 */
export function snapshotExpr(e: unknown, ctx: Pick<CheckContext, 'op'>): Expr {
  let nodes = 0;
  const read = (o: object, key: string, what: string): unknown => {
    let d: PropertyDescriptor | undefined;
    try {
      d = Object.getOwnPropertyDescriptor(o, key);
    } catch (err) {
      if (err instanceof XpuError) throw err;
      return bad(ctx, `${what} could not be read`, 'plain data', typeName(o));
    }
    if (d === undefined) return bad(ctx, `${what} has no '${key}'`, `a '${key}' field`, 'none');
    if (!('value' in d))
      return bad(ctx, 'expression nodes must be plain data', `a data property '${key}' (no getter)`, `an accessor for '${key}'`);
    return d.value;
  };
  const list = (x: unknown, depth: number, what: string): Expr[] => {
    if (!Array.isArray(x)) return bad(ctx, `${what} must be an array of nodes`, 'an array', typeName(x));
    const n = read(x, 'length', what);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_NODES)
      return bad(ctx, `${what} has a bad length`, `at most ${MAX_NODES} nodes`, fmtValue(n));
    return Object.freeze(Array.from({ length: n }, (_, i) => copy(read(x, String(i), what), depth + 1))) as Expr[];
  };
  const copy = (x: unknown, depth: number): Expr => {
    if (depth > MAX_DEPTH) bad(ctx, 'nesting is too deep', `at most ${MAX_DEPTH} levels`, String(depth));
    if (++nodes > MAX_NODES) bad(ctx, 'too many nodes', `at most ${MAX_NODES} nodes`, `more than ${MAX_NODES}`);
    if (typeof x !== 'object' || x === null || Array.isArray(x)) return bad(ctx, 'not an expression node', 'an Expr object', typeName(x));
    const kind = read(x, 'kind', 'an expression node');
    if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(NODE_FIELDS, kind)) {
      return bad(ctx, 'unknown node kind', 'num, bool, var, capture, unary, binary, call, select', fmtValue(kind));
    }
    const out: Record<string, unknown> = { kind };
    for (const f of NODE_FIELDS[kind]) {
      const v = read(x, f, `a ${kind} node`);
      if (CHILD_FIELDS.has(f)) out[f] = copy(v, depth + 1);
      else if (LIST_FIELDS.has(f)) out[f] = list(v, depth, `'${f}' of a ${kind} node`);
      else if ((typeof v === 'object' && v !== null) || typeof v === 'function')
        bad(ctx, `'${f}' of a ${kind} node must be a literal`, 'a number, boolean or string', typeName(v));
      else out[f] = v;
    }
    return Object.freeze(out) as unknown as Expr;
  };
  return copy(e, 0);
}

/** The one entry for a user's tree: snapshot it, check the snapshot, return both. */
export function checkedExpr(e: unknown, ctx: CheckContext): { expr: Expr; type: ExprType } {
  const expr = snapshotExpr(e, ctx);
  return { expr, type: checkExpr(expr, ctx) };
}

/**
 * Checks a tree node by node (it may come from the builder or from user code that made the
 * objects itself, so nothing about it is trusted) and returns its type. Call it on a snapshot
 * (checkedExpr does both): what it checks must be what the emitters later read. Every node kind, operator,
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
      if (
        typeof n.value !== 'number' ||
        Number.isNaN(n.value) ||
        (Number.isFinite(n.value) ? Math.abs(n.value) > F32_MAX : n.value !== Infinity)
      ) {
        bad(ctx, 'a number literal must be finite in float32 (or inf)', `|x| <= ${F32_MAX}`, String(n.value));
      }
      return 'number';
    case 'bool':
      if (typeof n.value !== 'boolean')
        bad(ctx, 'a bool literal must be true or false', 'true or false', String((n as { value: unknown }).value));
      return 'bool';
    case 'var':
      if (n.name === 'score') {
        if (!ctx.allowScore) bad(ctx, 'score is not available in a mask modification', 'b, h, q_idx, kv_idx or a captured tensor', 'score');
        return 'number';
      }
      if (n.name !== 'b' && n.name !== 'h' && n.name !== 'q_idx' && n.name !== 'kv_idx')
        bad(ctx, 'unknown variable', 'score, b, h, q_idx or kv_idx', String(n.name));
      return 'number';
    case 'capture': {
      if (typeof n.name !== 'string' || !IDENT.test(n.name)) return bad(ctx, 'bad captured tensor name', 'an identifier', String(n.name));
      const rank = ctx.captures.get(n.name);
      if (rank === undefined)
        bad(
          ctx,
          `unknown captured tensor '${n.name}'`,
          ctx.captures.size
            ? `one of ${[...ctx.captures.keys()].join(', ')} (pass tensors in the captures argument)`
            : 'a tensor passed in the captures argument',
          n.name,
        );
      if (!Array.isArray(n.index) || n.index.length !== rank)
        bad(
          ctx,
          `captured tensor '${n.name}' needs one index per dim`,
          `${rank} indices`,
          String(Array.isArray(n.index) ? n.index.length : n.index),
        );
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
      if (typeof n.fn !== 'string' || !Object.prototype.hasOwnProperty.call(FUNCTIONS, n.fn))
        return bad(ctx, 'unknown function', Object.keys(FUNCTIONS).join(', '), String(n.fn));
      const arity = FUNCTIONS[n.fn];
      if (!Array.isArray(n.args) || n.args.length !== arity)
        bad(ctx, `${n.fn} takes ${arity} argument(s)`, String(arity), String(Array.isArray(n.args) ? n.args.length : n.args));
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
    case 'num':
      return e.value === Infinity ? 'inf' : String(e.value);
    case 'bool':
      return String(e.value);
    case 'var':
      return e.name;
    case 'capture':
      return `${e.name}[${e.index.map(exprKey).join(',')}]`;
    case 'unary':
      return `(${e.op}${exprKey(e.arg)})`;
    case 'binary':
      return `(${exprKey(e.left)}${e.op}${exprKey(e.right)})`;
    case 'call':
      return `${e.fn}(${e.args.map(exprKey).join(',')})`;
    case 'select':
      return `(${exprKey(e.cond)}?${exprKey(e.then)}:${exprKey(e.otherwise)})`;
  }
}
