import type { BinaryOp, Expr, FunctionName } from './ast.js';

/**
 * A builder for modification trees, the alternative to text: xpu.flex.build.add(score, ...).
 * Plain numbers are accepted wherever an expression is. The trees are checked like parsed ones
 * when given to scoreMod / maskMod.
 */
export type Operand = Expr | number | boolean;

const lift = (x: Operand): Expr =>
  typeof x === 'number' ? { kind: 'num', value: x } : typeof x === 'boolean' ? { kind: 'bool', value: x } : x;
const bin =
  (op: BinaryOp) =>
  (a: Operand, b: Operand): Expr => ({ kind: 'binary', op, left: lift(a), right: lift(b) });
const fn1 =
  (f: FunctionName) =>
  (a: Operand): Expr => ({ kind: 'call', fn: f, args: [lift(a)] });
const fn2 =
  (f: FunctionName) =>
  (a: Operand, b: Operand): Expr => ({ kind: 'call', fn: f, args: [lift(a), lift(b)] });

export const score: Expr = { kind: 'var', name: 'score' };
export const b: Expr = { kind: 'var', name: 'b' };
export const h: Expr = { kind: 'var', name: 'h' };
export const qIdx: Expr = { kind: 'var', name: 'q_idx' };
export const kvIdx: Expr = { kind: 'var', name: 'kv_idx' };
export const num = (x: number): Expr => ({ kind: 'num', value: x });
export const inf: Expr = { kind: 'num', value: Infinity };
export const add = bin('+');
export const sub = bin('-');
export const mul = bin('*');
export const div = bin('/');
export const mod = bin('%');
export const lt = bin('<');
export const le = bin('<=');
export const gt = bin('>');
export const ge = bin('>=');
export const eq = bin('==');
export const ne = bin('!=');
export const and = bin('&&');
export const or = bin('||');
export const not = (a: Operand): Expr => ({ kind: 'unary', op: '!', arg: lift(a) });
export const neg = (a: Operand): Expr => ({ kind: 'unary', op: '-', arg: lift(a) });
export const where = (cond: Operand, then: Operand, otherwise: Operand): Expr => ({
  kind: 'select',
  cond: lift(cond),
  then: lift(then),
  otherwise: lift(otherwise),
});
export const exp = fn1('exp');
export const log = fn1('log');
export const sqrt = fn1('sqrt');
export const abs = fn1('abs');
export const tanh = fn1('tanh');
export const sigmoid = fn1('sigmoid');
export const floor = fn1('floor');
export const ceil = fn1('ceil');
export const min = fn2('min');
export const max = fn2('max');
/** Element of a captured tensor: at(name, i) or at(name, i, j). */
export const at = (name: string, ...index: Operand[]): Expr => ({ kind: 'capture', name, index: index.map(lift) });
