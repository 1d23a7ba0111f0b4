import { XpuValueError } from '../errors.js';
import { FUNCTIONS, type BinaryOp, type Expr, type FunctionName, type VarName } from './ast.js';

/**
 * A recursive-descent parser for the closed grammar of modification expressions:
 *
 *   expr    := or ('?' expr ':' expr)?
 *   or      := and ('||' and)*          and := cmp ('&&' cmp)*
 *   cmp     := add (('<' | '<=' | '>' | '>=' | '==' | '!=') add)?
 *   add     := mul (('+' | '-') mul)*    mul := unary (('*' | '/' | '%') unary)*
 *   unary   := ('-' | '!') unary | primary
 *   primary := NUMBER | 'inf' | 'true' | 'false' | VAR | NAME '[' expr (',' expr)* ']'
 *            | FN '(' expr (',' expr)* ')' | 'where' '(' expr ',' expr ',' expr ')' | '(' expr ')'
 *
 * VAR is score, b, h, q_idx (or qIdx), kv_idx (or kvIdx); NAME a captured tensor. Anything else
 * is an error that points at the offending text. Names are resolved later (check.ts).
 */

type Token =
  { t: 'num'; v: number; at: number } | { t: 'id'; v: string; at: number } | { t: 'op'; v: string; at: number } | { t: 'end'; at: number };

const OPS = ['<=', '>=', '==', '!=', '&&', '||', '+', '-', '*', '/', '%', '<', '>', '!', '?', ':', '(', ')', '[', ']', ','];
const NUMBER = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const MAX_LENGTH = 2000;
const MAX_DEPTH = 64;

function fail(op: string, text: string, at: number, why: string, expected: string): never {
  const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
  throw new XpuValueError(`invalid expression: ${why} at character ${at + 1}`, {
    op,
    arg: 'expression',
    expected,
    got: JSON.stringify(shown),
  });
}

function tokenize(op: string, text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const rest = text.slice(i);
    const num = NUMBER.exec(rest);
    if (num) {
      const v = Number(num[0]);
      if (!Number.isFinite(v)) fail(op, text, i, `number ${num[0]} is out of range`, 'a finite number');
      out.push({ t: 'num', v, at: i });
      i += num[0].length;
      continue;
    }
    const name = NAME.exec(rest);
    if (name) {
      out.push({ t: 'id', v: name[0], at: i });
      i += name[0].length;
      continue;
    }
    const o = OPS.find((x) => rest.startsWith(x));
    if (!o) fail(op, text, i, `unexpected character '${c}'`, 'numbers, names, + - * / % < <= > >= == != && || ! ?: ( ) [ ] ,');
    out.push({ t: 'op', v: o, at: i });
    i += o.length;
  }
  out.push({ t: 'end', at: text.length });
  return out;
}

const ALIASES: Record<string, VarName> = {
  score: 'score',
  b: 'b',
  h: 'h',
  q_idx: 'q_idx',
  qIdx: 'q_idx',
  kv_idx: 'kv_idx',
  kvIdx: 'kv_idx',
};

/** Parses `text` into an unchecked tree (`op` names the API call for errors). */
export function parseExpr(op: string, text: string): Expr {
  if (typeof text !== 'string')
    throw new XpuValueError('an expression must be a string', { op, arg: 'expression', expected: 'a string', got: typeof text });
  if (text.length > MAX_LENGTH)
    throw new XpuValueError('expression is too long', {
      op,
      arg: 'expression',
      expected: `at most ${MAX_LENGTH} characters`,
      got: `${text.length}`,
    });
  const toks = tokenize(op, text);
  let p = 0;
  let depth = 0;
  const peek = () => toks[p];
  const isOp = (v: string) => {
    const t = toks[p];
    return t.t === 'op' && t.v === v;
  };
  const expectOp = (v: string) => {
    if (!isOp(v)) fail(op, text, peek().at, `expected '${v}'`, `'${v}'`);
    p++;
  };
  const describeTok = (t: Token) => (t.t === 'end' ? 'the end' : `'${String((t as { v: unknown }).v)}'`);

  const expr = (): Expr => {
    if (++depth > MAX_DEPTH) fail(op, text, peek().at, 'nesting is too deep', `at most ${MAX_DEPTH} levels`);
    const cond = binaryLevel(0);
    let out = cond;
    if (isOp('?')) {
      p++;
      const then = expr();
      expectOp(':');
      const otherwise = expr();
      out = { kind: 'select', cond, then, otherwise };
    }
    depth--;
    return out;
  };

  const LEVELS: BinaryOp[][] = [['||'], ['&&'], ['<', '<=', '>', '>=', '==', '!='], ['+', '-'], ['*', '/', '%']];
  const binaryLevel = (level: number): Expr => {
    if (level === LEVELS.length) return unary();
    let left = binaryLevel(level + 1);
    for (;;) {
      const t = peek();
      if (t.t !== 'op' || !(LEVELS[level] as string[]).includes(t.v)) return left;
      p++;
      const right = binaryLevel(level + 1);
      left = { kind: 'binary', op: t.v as BinaryOp, left, right };
      // Comparisons do not chain (a < b < c is almost always a mistake).
      if (level === 2) return left;
    }
  };

  const unary = (): Expr => {
    if (isOp('-') || isOp('!')) {
      const o = (peek() as { v: string }).v as '-' | '!';
      p++;
      if (++depth > MAX_DEPTH) fail(op, text, peek().at, 'nesting is too deep', `at most ${MAX_DEPTH} levels`);
      const arg = unary();
      depth--;
      return { kind: 'unary', op: o, arg };
    }
    return primary();
  };

  const args = (): Expr[] => {
    expectOp('(');
    const list = [expr()];
    while (isOp(',')) {
      p++;
      list.push(expr());
    }
    expectOp(')');
    return list;
  };

  const primary = (): Expr => {
    const t = peek();
    if (t.t === 'num') {
      p++;
      return { kind: 'num', value: t.v };
    }
    if (t.t === 'op' && t.v === '(') {
      p++;
      const e = expr();
      expectOp(')');
      return e;
    }
    if (t.t !== 'id') fail(op, text, t.at, `unexpected ${describeTok(t)}`, 'a number, a name or (');
    p++;
    const name = t.v;
    if (name === 'inf') return { kind: 'num', value: Infinity };
    if (name === 'true' || name === 'false') return { kind: 'bool', value: name === 'true' };
    if (name in ALIASES) return { kind: 'var', name: ALIASES[name] };
    if (name === 'where') {
      const at = peek().at;
      const a = args();
      if (a.length !== 3) fail(op, text, at, `where takes 3 arguments, got ${a.length}`, 'where(cond, a, b)');
      return { kind: 'select', cond: a[0], then: a[1], otherwise: a[2] };
    }
    if (Object.prototype.hasOwnProperty.call(FUNCTIONS, name)) {
      const at = peek().at;
      const a = args();
      const arity = FUNCTIONS[name as FunctionName];
      if (a.length !== arity)
        fail(
          op,
          text,
          at,
          `${name} takes ${arity} argument${arity > 1 ? 's' : ''}, got ${a.length}`,
          `${name}(${arity === 1 ? 'x' : 'x, y'})`,
        );
      return { kind: 'call', fn: name as FunctionName, args: a };
    }
    if (isOp('[')) {
      p++;
      const index = [expr()];
      while (isOp(',')) {
        p++;
        index.push(expr());
      }
      expectOp(']');
      return { kind: 'capture', name, index };
    }
    return fail(
      op,
      text,
      t.at,
      `unknown name '${name}'`,
      `score, b, h, q_idx, kv_idx, a function (${Object.keys(FUNCTIONS).join(', ')}, where) or a captured tensor indexed as name[i]`,
    );
  };

  const e = expr();
  if (peek().t !== 'end') fail(op, text, peek().at, `unexpected ${describeTok(peek())}`, 'an operator or the end');
  return e;
}
