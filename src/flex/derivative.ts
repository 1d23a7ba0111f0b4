import type { Expr } from './ast.js';

/**
 * d(expr)/d(score) of a checked scoreMod tree, as another tree of the same language (so it
 * compiles to WGSL and JavaScript like the modification itself): the attention backward needs
 * it to carry a score's gradient through the modification (tanh softcaps, ALiBi, ...).
 * Captured tensors and the index variables are constants; floor, ceil, comparisons and the
 * index of a capture are piecewise constant (derivative 0); min / max / abs / select take the
 * branch the forward took; `%` is JavaScript's and WGSL's truncated remainder, whose derivative
 * is d(l) - trunc(l / r) d(r). Zero subtrees are folded so a plain `score + bias` stays `1`.
 */

const num = (value: number): Expr => ({ kind: 'num', value });
const isZero = (e: Expr) => e.kind === 'num' && e.value === 0;
const isOne = (e: Expr) => e.kind === 'num' && e.value === 1;

const add = (a: Expr, b: Expr): Expr => (isZero(a) ? b : isZero(b) ? a : { kind: 'binary', op: '+', left: a, right: b });
const sub = (a: Expr, b: Expr): Expr => (isZero(b) ? a : isZero(a) ? neg(b) : { kind: 'binary', op: '-', left: a, right: b });
const neg = (a: Expr): Expr => (isZero(a) ? a : { kind: 'unary', op: '-', arg: a });
function mul(a: Expr, b: Expr): Expr {
  if (isZero(a) || isZero(b)) return num(0);
  if (isOne(a)) return b;
  if (isOne(b)) return a;
  return { kind: 'binary', op: '*', left: a, right: b };
}
const div = (a: Expr, b: Expr): Expr => (isZero(a) ? a : { kind: 'binary', op: '/', left: a, right: b });
const call = (fn: 'exp' | 'tanh' | 'sigmoid' | 'sqrt' | 'floor' | 'ceil', arg: Expr): Expr => ({ kind: 'call', fn, args: [arg] });
const bin = (op: '<' | '<=', left: Expr, right: Expr): Expr => ({ kind: 'binary', op, left, right });
const select = (cond: Expr, then: Expr, otherwise: Expr): Expr =>
  isZero(then) && isZero(otherwise) ? num(0) : { kind: 'select', cond, then, otherwise };

export function scoreDerivative(e: Expr): Expr {
  const d = scoreDerivative;
  switch (e.kind) {
    case 'num':
    case 'bool':
    case 'capture':
      return num(0);
    case 'var':
      return num(e.name === 'score' ? 1 : 0);
    case 'unary':
      return e.op === '-' ? neg(d(e.arg)) : num(0);
    case 'binary': {
      const { left: l, right: r } = e;
      switch (e.op) {
        case '+':
          return add(d(l), d(r));
        case '-':
          return sub(d(l), d(r));
        case '*':
          return add(mul(d(l), r), mul(l, d(r)));
        case '/': {
          const dl = d(l);
          const dr = d(r);
          if (isZero(dr)) return div(dl, r);
          return div(sub(mul(dl, r), mul(l, dr)), mul(r, r));
        }
        case '%': {
          const dr = d(r);
          const q = div(l, r);
          const trunc = select(bin('<', q, num(0)), call('ceil', q), call('floor', q));
          return sub(d(l), mul(trunc, dr));
        }
        default:
          return num(0); // comparisons and logic: bool results
      }
    }
    case 'call': {
      const a = e.args[0];
      const da = d(a);
      switch (e.fn) {
        case 'exp':
          return mul(e, da);
        case 'log':
          return div(da, a);
        case 'sqrt':
          return div(da, mul(num(2), e));
        case 'abs':
          return select(bin('<', a, num(0)), neg(da), da);
        case 'tanh':
          return mul(sub(num(1), mul(e, e)), da);
        case 'sigmoid':
          return mul(mul(e, sub(num(1), e)), da);
        case 'floor':
        case 'ceil':
          return num(0);
        case 'min':
          return select(bin('<=', a, e.args[1]), da, d(e.args[1]));
        case 'max':
          return select(bin('<=', e.args[1], a), da, d(e.args[1]));
      }
      return num(0);
    }
    case 'select':
      return select(e.cond, d(e.then), d(e.otherwise));
  }
}
