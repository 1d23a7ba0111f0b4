/**
 * The named elementwise functions (the public API; each is also a Tensor method). They are
 * declared once, by their entries in src/ops/elementwise_table.ts, and written out by
 * scripts/gen_ops.ts; this module is the stable path the rest of the code imports them from.
 */
export * from './generated/elementwise_ops.js';
