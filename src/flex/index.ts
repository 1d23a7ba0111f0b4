/** FlexAttention's modification language and block masks (xpu.flex). */
export { scoreMod, maskMod, type FlexMod, type Captures } from './mods.js';
export { createBlockMask, BlockMask, type BlockMaskOptions } from './block_mask.js';
export { parseExpr } from './parser.js';
export type { Expr, ExprType } from './ast.js';
export * as build from './builder.js';
