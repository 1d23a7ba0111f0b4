/**
 * The expression language of FlexAttention's score and mask modifications. An expression is a
 * small typed tree over a closed set of nodes: user text is parsed into it (parser.ts) or built
 * with the builder (builder.ts), checked (check.ts), and only then turned into WGSL (wgsl.ts) or
 * JavaScript closures (js.ts). No user string ever reaches a shader: identifiers are whitelisted,
 * numbers are re-printed from their parsed values, and operators come from fixed tables.
 */

/** The index variables every modification sees, as PyTorch's flex_attention passes them. */
export const INDEX_VARS = ['b', 'h', 'q_idx', 'kv_idx'] as const;
export type IndexVar = (typeof INDEX_VARS)[number];
/** Variables: the score (scoreMod only) and the indices. */
export type VarName = 'score' | IndexVar;

export const UNARY_OPS = ['-', '!'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];
export const BINARY_OPS = ['+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!=', '&&', '||'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

/** Functions: name -> arity. All take and return numbers (f32 on xpu, float64 on cpu). */
export const FUNCTIONS = {
  exp: 1,
  log: 1,
  sqrt: 1,
  abs: 1,
  tanh: 1,
  sigmoid: 1,
  floor: 1,
  ceil: 1,
  min: 2,
  max: 2,
} as const;
export type FunctionName = keyof typeof FUNCTIONS;

export type Expr =
  | { kind: 'num'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'var'; name: VarName }
  /** Element of a captured tensor at integer indices (one per dim; clamped into range). */
  | { kind: 'capture'; name: string; index: Expr[] }
  | { kind: 'unary'; op: UnaryOp; arg: Expr }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr }
  | { kind: 'call'; fn: FunctionName; args: Expr[] }
  /** cond ? then : otherwise (also written where(cond, then, otherwise)). */
  | { kind: 'select'; cond: Expr; then: Expr; otherwise: Expr };

export type ExprType = 'number' | 'bool';

/** Names a user may give a captured tensor: an identifier that is not a variable or function. */
export const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;
export const RESERVED = new Set<string>([
  'score',
  'b',
  'h',
  'q_idx',
  'kv_idx',
  'qIdx',
  'kvIdx',
  'inf',
  'true',
  'false',
  'where',
  ...Object.keys(FUNCTIONS),
]);
