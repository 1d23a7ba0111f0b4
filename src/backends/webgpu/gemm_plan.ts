import type { MatmulSpec, Operand, Storage } from '../backend.js';
import { XpuShapeError } from '../../errors.js';
import { coalesce } from '../../tensor/shape.js';
import { MAX_RANK } from './codegen.js';
import { GEMM_PARAMS, type GemmFloat, type GemmLayout } from './gemm_codegen.js';
import type { GemmShapeHints, GemvConfig, TileConfig } from './gemm_config.js';

/**
 * From a MatmulSpec to what the GEMM kernels need: batch dims merged (and folded into M where
 * the batch walks A's rows, as ORT does for [B, 1, K] x [K, N]), the vector-load decisions made
 * from the strides, the grid, and the uniforms (GEMM_PARAMS, gemm_codegen.ts).
 */

/** An operand's strides split into batch dims and the two matrix dims. */
export interface MatrixOperand {
  storage: Storage;
  offset: number;
  batch: number[];
  /** Stride along the first matrix dim (rows of A/C, k of B). */
  s0: number;
  /** Stride along the second matrix dim (k of A, cols of B/C). */
  s1: number;
}

/** The problem after batch merging: every operand's strides over [batch..., M, ...]. */
export interface GemmProblem {
  m: number;
  n: number;
  k: number;
  batchShape: number[];
  a: MatrixOperand;
  b: MatrixOperand;
  bias?: MatrixOperand;
  residual?: MatrixOperand;
}

function split(op: Operand, nb: number): MatrixOperand {
  return { storage: op.storage, offset: op.offset, batch: op.strides.slice(0, nb), s0: op.strides[nb], s1: op.strides[nb + 1] };
}

/** Merges contiguous batch dims, then folds a batch that only walks A's rows into M. */
export function gemmProblem(spec: MatmulSpec): GemmProblem {
  const nb = spec.batchShape.length;
  const ops = [split(spec.a, nb), split(spec.b, nb)];
  const ep = spec.epilogue;
  if (ep?.bias) ops.push(split(ep.bias, nb));
  if (ep?.residual) ops.push(split(ep.residual, nb));
  // The output is contiguous: its batch strides are part of the merge condition.
  const outBatch: number[] = [];
  let acc = spec.m * spec.n;
  for (let d = nb - 1; d >= 0; d--) {
    outBatch[d] = acc;
    acc *= spec.batchShape[d];
  }
  const merged = coalesce(spec.batchShape, [...ops.map((o) => o.batch), outBatch]);
  ops.forEach((o, i) => (o.batch = merged.strides[i]));
  let { m } = spec;
  let batchShape = merged.shape;
  // Fold: one batch dim that B does not walk, and that steps A (and bias/residual) by exactly M
  // rows. Then it is one taller matrix: better tiles, and M = 1 decode batches become a GEMM.
  const rowOps = [ops[0], ...ops.slice(2)];
  if (batchShape.length === 1 && ops[1].batch[0] === 0 && rowOps.every((o) => m === 1 || o.batch[0] === m * o.s0)) {
    for (const o of rowOps) {
      if (m === 1) o.s0 = o.batch[0];
      o.batch = [];
    }
    ops[1].batch = [];
    m *= batchShape[0];
    batchShape = [];
  }
  if (batchShape.length > MAX_RANK) {
    throw new XpuShapeError('too many batch dims for a GPU kernel after merging contiguous dims', {
      op: 'matmul',
      arg: 'input',
      expected: `at most ${MAX_RANK} non-mergeable batch dims`,
      got: String(batchShape.length),
    });
  }
  return {
    m,
    n: spec.n,
    k: spec.k,
    batchShape,
    a: ops[0],
    b: ops[1],
    bias: ep?.bias ? ops[2] : undefined,
    residual: ep?.residual ? ops[ep.bias ? 3 : 2] : undefined,
  };
}

const aligned = (x: number): boolean => x % 4 === 0;

/** Contiguous along the loaded dim, and every other step a multiple of 4 elements. */
function vectorizable(o: MatrixOperand, loadedStride: number, otherStride: number, loadedExtent: number, otherExtent: number): boolean {
  return (
    loadedStride === 1 &&
    aligned(loadedExtent) &&
    aligned(o.offset) &&
    (otherExtent === 1 || aligned(otherStride)) &&
    o.batch.every(aligned)
  );
}

export function gemmShapeHints(p: GemmProblem): GemmShapeHints {
  // B read along k when it is contiguous along k and not along n (n = 1: a column, along k too).
  return { bAlongK: p.b.s0 === 1 && (p.b.s1 !== 1 || p.n === 1) && p.k > 1 };
}

/**
 * The code-shaping facts of a problem. `out` is the dtype the kernel stores: float16 outputs with
 * an odd N are stored as float32 and cast by the caller (a word would straddle two rows).
 */
export function gemmLayout(p: GemmProblem, spec: MatmulSpec): { layout: GemmLayout; castTo?: 'float16' } {
  const { bAlongK } = gemmShapeHints(p);
  const ep = spec.epilogue;
  const f16Direct = spec.outDtype === 'float16' && p.n % 2 === 0;
  const layout: GemmLayout = {
    a: spec.a.dtype as GemmFloat,
    b: spec.b.dtype as GemmFloat,
    out: f16Direct ? 'float16' : 'float32',
    aVec: vectorizable(p.a, p.a.s1, p.a.s0, p.k, p.m),
    bAlongK,
    bVec: bAlongK ? vectorizable(p.b, p.b.s0, p.b.s1, p.k, p.n) : vectorizable(p.b, p.b.s1, p.b.s0, p.n, p.k),
    outVec: p.n % 4 === 0,
    bias: ep?.bias?.dtype,
    residual: ep?.residual?.dtype,
    activation: ep?.activation,
    scaled: (ep?.alpha ?? 1) !== 1 || (ep?.beta ?? 1) !== 1,
  };
  return { layout, castTo: spec.outDtype === 'float16' && !f16Direct ? 'float16' : undefined };
}

/** Workgroups along n and m for one batch entry. */
export function gemmTiles(c: TileConfig | GemvConfig, m: number, n: number): { tilesN: number; tilesM: number } {
  if (c.path === 'gemv') return { tilesN: Math.ceil(n / c.cols), tilesM: 1 };
  return { tilesN: Math.ceil(n / (c.wgX * c.tn)), tilesM: Math.ceil(m / (c.wgY * c.tm)) };
}

export function gemmUniforms(p: GemmProblem, spec: MatmulSpec, tiles: { tilesN: number; tilesM: number }): ArrayBuffer {
  const ep = spec.epilogue;
  const batch = p.batchShape.reduce((x, y) => x * y, 1);
  const none: MatrixOperand = { storage: p.a.storage, offset: 0, batch: [], s0: 0, s1: 0 };
  const bias = p.bias ?? none;
  const res = p.residual ?? none;
  return GEMM_PARAMS.write({
    m: p.m,
    n: p.n,
    k: p.k,
    batch,
    tilesN: tiles.tilesN,
    tilesM: tiles.tilesM,
    brank: p.batchShape.length,
    aoff: p.a.offset,
    sam: p.a.s0,
    sak: p.a.s1,
    boff: p.b.offset,
    sbk: p.b.s0,
    sbn: p.b.s1,
    alpha: ep?.alpha ?? 1,
    beta: ep?.beta ?? 1,
    biasoff: bias.offset,
    sbiasm: bias.s0,
    sbiasn: bias.s1,
    resoff: res.offset,
    sresm: res.s0,
    sresn: res.s1,
    bshape: p.batchShape,
    sab: p.a.batch,
    sbb: p.b.batch,
    sbiasb: bias.batch,
    sresb: res.batch,
  });
}
