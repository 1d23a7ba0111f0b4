import type { Expr } from './ast.js';

/**
 * WGSL for a checked expression tree. Only fixed tokens are emitted: operators from ast.ts's
 * tables, builtins by name from a fixed map, numbers re-printed from their parsed value as f32
 * literals, variables and captured tensors as the prelude's own names. Index variables are
 * converted to f32 (exact below 2^24), so every value is f32 or bool, as in the JS twin.
 */

const FN_WGSL: Record<string, string> = {
  sqrt: 'sqrt',
  abs: 'abs',
  floor: 'floor',
  ceil: 'ceil',
  // math.wgsl's versions: within a few ulp where the builtins are not (lavapipe's log is
  // thousands of ulp off near 1, exp 60 ulp at -80, tanh(1e-10) = 3e-8), finite for large |x|,
  // and NaN-propagating like the JS twin's Math.min/max (WGSL's min/max may drop a NaN).
  exp: 'exp_f32',
  log: 'log_f32',
  tanh: 'tanh_f32',
  sigmoid: 'sigmoid_f32',
  min: 'min_f32',
  max: 'max_f32',
};

const VAR_WGSL: Record<string, string> = { score: 'score', b: 'f32(b)', h: 'f32(h)', q_idx: 'f32(q_idx)', kv_idx: 'f32(kv_idx)' };

function f32Literal(v: number): string {
  if (v === Infinity) return 'f32_inf()';
  const x = Math.fround(v);
  return `${x.toExponential()}f`;
}

/** `capture(name)` gives the WGSL function that reads a captured tensor (made by the launcher). */
export function exprWgsl(e: Expr, capture: (name: string) => string): string {
  const r = (x: Expr) => exprWgsl(x, capture);
  switch (e.kind) {
    case 'num':
      return f32Literal(e.value);
    case 'bool':
      return e.value ? 'true' : 'false';
    case 'var':
      return VAR_WGSL[e.name];
    case 'capture':
      return `${capture(e.name)}(${e.index.map(r).join(', ')})`;
    case 'unary':
      return `(${e.op}${r(e.arg)})`;
    case 'binary':
      return `(${r(e.left)} ${e.op} ${r(e.right)})`;
    case 'call':
      return `${FN_WGSL[e.fn]}(${e.args.map(r).join(', ')})`;
    case 'select':
      return `select(${r(e.otherwise)}, ${r(e.then)}, ${r(e.cond)})`;
  }
}
