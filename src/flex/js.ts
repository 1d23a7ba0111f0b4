import { sigmoid } from '../backends/scalar_math.js';
import { fmtValue } from '../format_value.js';
import type { Expr } from './ast.js';

/**
 * The JavaScript twin of wgsl.ts: a checked tree compiled to nested closures (no eval, no
 * Function constructor). Bools are 1/0 numbers. Values are float64 here and f32 on xpu; the
 * difference is within the attention tolerances, and index arithmetic is exact on both.
 */

export type ModFn = (score: number, b: number, h: number, q: number, kv: number) => number;

/** A captured tensor as the cpu reads it: contiguous float32 values and its shape. */
export interface HostCapture {
  data: Float32Array;
  shape: readonly number[];
}

/** Element of a capture at float indices: floored and clamped into range, as the WGSL reader does. */
export function captureAt(c: HostCapture, idx: readonly number[]): number {
  let off = 0;
  for (let d = 0; d < c.shape.length; d++) {
    const n = c.shape[d];
    const raw = Math.floor(idx[d]);
    const i = Number.isNaN(raw) ? 0 : Math.min(Math.max(raw, 0), n - 1);
    off = off * n + i;
  }
  return c.data[off];
}

export function compileJs(e: Expr, captures: ReadonlyMap<string, HostCapture>): ModFn {
  switch (e.kind) {
    case 'num': {
      const v = e.value;
      return () => v;
    }
    case 'bool': {
      const v = e.value ? 1 : 0;
      return () => v;
    }
    case 'var':
      switch (e.name) {
        case 'score':
          return (s) => s;
        case 'b':
          return (_s, b) => b;
        case 'h':
          return (_s, _b, h) => h;
        case 'q_idx':
          return (_s, _b, _h, q) => q;
        case 'kv_idx':
          return (_s, _b, _h, _q, kv) => kv;
      }
      break;
    case 'capture': {
      const c = captures.get(e.name) as HostCapture;
      const idx = e.index.map((x) => compileJs(x, captures));
      const buf = new Array<number>(idx.length);
      return (s, b, h, q, kv) => {
        for (let d = 0; d < idx.length; d++) buf[d] = idx[d](s, b, h, q, kv);
        return captureAt(c, buf);
      };
    }
    case 'unary': {
      const a = compileJs(e.arg, captures);
      return e.op === '-' ? (s, b, h, q, kv) => -a(s, b, h, q, kv) : (s, b, h, q, kv) => (a(s, b, h, q, kv) ? 0 : 1);
    }
    case 'binary': {
      const l = compileJs(e.left, captures);
      const r = compileJs(e.right, captures);
      switch (e.op) {
        case '+':
          return (s, b, h, q, kv) => l(s, b, h, q, kv) + r(s, b, h, q, kv);
        case '-':
          return (s, b, h, q, kv) => l(s, b, h, q, kv) - r(s, b, h, q, kv);
        case '*':
          return (s, b, h, q, kv) => l(s, b, h, q, kv) * r(s, b, h, q, kv);
        case '/':
          return (s, b, h, q, kv) => l(s, b, h, q, kv) / r(s, b, h, q, kv);
        case '%':
          return (s, b, h, q, kv) => l(s, b, h, q, kv) % r(s, b, h, q, kv);
        case '<':
          return (s, b, h, q, kv) => (l(s, b, h, q, kv) < r(s, b, h, q, kv) ? 1 : 0);
        case '<=':
          return (s, b, h, q, kv) => (l(s, b, h, q, kv) <= r(s, b, h, q, kv) ? 1 : 0);
        case '>':
          return (s, b, h, q, kv) => (l(s, b, h, q, kv) > r(s, b, h, q, kv) ? 1 : 0);
        case '>=':
          return (s, b, h, q, kv) => (l(s, b, h, q, kv) >= r(s, b, h, q, kv) ? 1 : 0);
        case '==':
          return (s, b, h, q, kv) => (l(s, b, h, q, kv) === r(s, b, h, q, kv) ? 1 : 0);
        case '!=':
          return (s, b, h, q, kv) => (l(s, b, h, q, kv) !== r(s, b, h, q, kv) ? 1 : 0);
        case '&&':
          return (s, b, h, q, kv) => (l(s, b, h, q, kv) && r(s, b, h, q, kv) ? 1 : 0);
        case '||':
          return (s, b, h, q, kv) => (l(s, b, h, q, kv) || r(s, b, h, q, kv) ? 1 : 0);
      }
      break;
    }
    case 'call': {
      const a = compileJs(e.args[0], captures);
      const b2 = e.args[1] ? compileJs(e.args[1], captures) : a;
      switch (e.fn) {
        case 'exp':
          return (s, b, h, q, kv) => Math.exp(a(s, b, h, q, kv));
        case 'log':
          return (s, b, h, q, kv) => Math.log(a(s, b, h, q, kv));
        case 'sqrt':
          return (s, b, h, q, kv) => Math.sqrt(a(s, b, h, q, kv));
        case 'abs':
          return (s, b, h, q, kv) => Math.abs(a(s, b, h, q, kv));
        case 'tanh':
          return (s, b, h, q, kv) => Math.tanh(a(s, b, h, q, kv));
        case 'sigmoid':
          return (s, b, h, q, kv) => sigmoid(a(s, b, h, q, kv));
        case 'floor':
          return (s, b, h, q, kv) => Math.floor(a(s, b, h, q, kv));
        case 'ceil':
          return (s, b, h, q, kv) => Math.ceil(a(s, b, h, q, kv));
        case 'min':
          return (s, b, h, q, kv) => Math.min(a(s, b, h, q, kv), b2(s, b, h, q, kv));
        case 'max':
          return (s, b, h, q, kv) => Math.max(a(s, b, h, q, kv), b2(s, b, h, q, kv));
      }
      break;
    }
    case 'select': {
      const c = compileJs(e.cond, captures);
      const t = compileJs(e.then, captures);
      const o = compileJs(e.otherwise, captures);
      return (s, b, h, q, kv) => (c(s, b, h, q, kv) ? t(s, b, h, q, kv) : o(s, b, h, q, kv));
    }
  }
  throw new Error(`flex: unchecked expression node ${fmtValue(e)}`);
}
