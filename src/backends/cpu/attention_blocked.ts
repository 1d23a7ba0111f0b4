import { MASKED_SCORE, type AttentionDims } from '../attention_spec.js';

/**
 * Flash-style attention on host arrays (the TypeScript kernel behind cpuAttention; a native
 * kernel may replace it with the same signature). Queries are taken in blocks of Q_TILE rows and
 * keys in tiles of K_TILE: scores of one tile, then the online softmax update (running max m,
 * running sum l, unnormalised output acc rescaled by exp(m_old - m_new)), as FlashAttention-2
 * does; memory is O(Q_TILE * (K_TILE + Ev)) beside the inputs, never [L, S]. With a causal mask
 * the key loop stops after the tile row's last query, so masked tiles are never computed.
 */

export interface HostAttentionProblem extends AttentionDims {
  scale: number;
  causal: boolean;
}

/**
 * Modifies a scaled score (mask operand, flex score/mask modifications); returns a value at or
 * below MASKED_SCORE for a masked pair. `full`: the block mask says the pair's block is fully
 * kept, so the mask modification need not run.
 */
export type HostScoreFn = (score: number, b: number, h: number, i: number, j: number, full: boolean) => number;

/** Block flags of a BlockMask: 0 skipped, 1 partial, 2 full (see AttentionBlocks). */
export interface HostBlocks {
  blockSize: number;
  flag(b: number, h: number, qBlock: number, kvBlock: number): number;
}

const Q_TILE = 32;
const K_TILE = 64;

/**
 * q: contiguous [B, H, L, E]; k: [B, Hkv, S, E]; v: [B, Hkv, S, Ev]; writes every element of
 * out ([B, H, L, Ev]). A row whose keys are all masked gets 0. A row with a NaN among the scores
 * of the keys it attends to gets NaN everywhere, as softmax over such a row does in PyTorch (a
 * NaN query row, or a NaN key the row is not masked from); a masked pair's score is never
 * computed into the row, so a NaN key hidden by the mask or the causal diagonal changes nothing.
 */
export function flashAttentionHost(
  p: HostAttentionProblem,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  score: HostScoreFn | null,
  blocks: HostBlocks | null,
  out: Float32Array,
): void {
  const { batch, heads, kvHeads, l: L, s: S, e: E, ev: Ev, scale, causal } = p;
  const group = heads / kvHeads;
  const sc = new Float64Array(Q_TILE * K_TILE);
  const m = new Float64Array(Q_TILE);
  const lsum = new Float64Array(Q_TILE);
  const acc = new Float64Array(Q_TILE * Ev);
  // Rows that met a NaN score: their output is NaN whatever else the row holds.
  const nanRow = new Uint8Array(Q_TILE);
  const bs = blocks?.blockSize ?? 1;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const hk = Math.floor(h / group);
      const qHead = (b * heads + h) * L * E;
      const kHead = (b * kvHeads + hk) * S * E;
      const vHead = (b * kvHeads + hk) * S * Ev;
      for (let i0 = 0; i0 < L; i0 += Q_TILE) {
        const rows = Math.min(Q_TILE, L - i0);
        m.fill(MASKED_SCORE);
        lsum.fill(0);
        acc.fill(0);
        nanRow.fill(0);
        // Top-left causal: row i keeps keys j <= i, so the tile needs keys up to its last row.
        const kEnd = causal ? Math.min(S, i0 + rows) : S;
        for (let j0 = 0; j0 < kEnd; j0 += K_TILE) {
          const cols = Math.min(K_TILE, kEnd - j0);
          if (blocks && tileSkipped(blocks, b, h, i0, rows, j0, cols)) continue;
          // Scores of the tile.
          for (let r = 0; r < rows; r++) {
            const i = i0 + r;
            const qo = qHead + i * E;
            for (let c = 0; c < cols; c++) {
              const j = j0 + c;
              let s = MASKED_SCORE;
              if (!(causal && j > i)) {
                const ko = kHead + j * E;
                let dot = 0;
                for (let d = 0; d < E; d++) dot += q[qo + d] * k[ko + d];
                s = dot * scale;
                if (blocks) {
                  const f = blocks.flag(b, h, Math.floor(i / bs), Math.floor(j / bs));
                  if (f === 0) s = MASKED_SCORE;
                  else if (score) s = score(s, b, h, i, j, f === 2);
                } else if (score) s = score(s, b, h, i, j, false);
              }
              sc[r * K_TILE + c] = s;
            }
          }
          // Online softmax update, row by row.
          for (let r = 0; r < rows; r++) {
            if (nanRow[r]) continue;
            let tmax = MASKED_SCORE;
            let nan = false;
            for (let c = 0; c < cols; c++) {
              const s = sc[r * K_TILE + c];
              if (s > tmax) tmax = s;
              else if (s !== s) nan = true;
            }
            // `s > tmax` and `s > MASKED_SCORE` below are false for NaN, which would drop the
            // score as if masked (a NaN query row would come out as a fully masked row, 0).
            if (nan) {
              nanRow[r] = 1;
              continue;
            }
            const mNew = Math.max(m[r], tmax);
            if (!(mNew > MASKED_SCORE)) continue; // nothing kept in this row yet
            const corr = m[r] > MASKED_SCORE ? Math.exp(m[r] - mNew) : 0;
            const ao = r * Ev;
            if (corr !== 1) for (let d = 0; d < Ev; d++) acc[ao + d] *= corr;
            let add = 0;
            for (let c = 0; c < cols; c++) {
              const s = sc[r * K_TILE + c];
              if (!(s > MASKED_SCORE)) continue;
              const pj = Math.exp(s - mNew);
              add += pj;
              const vo = vHead + (j0 + c) * Ev;
              for (let d = 0; d < Ev; d++) acc[ao + d] += pj * v[vo + d];
            }
            lsum[r] = lsum[r] * corr + add;
            m[r] = mNew;
          }
        }
        for (let r = 0; r < rows; r++) {
          const oo = ((b * heads + h) * L + i0 + r) * Ev;
          if (nanRow[r]) {
            out.fill(NaN, oo, oo + Ev);
            continue;
          }
          const inv = lsum[r] > 0 ? 1 / lsum[r] : 0;
          for (let d = 0; d < Ev; d++) out[oo + d] = acc[r * Ev + d] * inv;
        }
      }
    }
  }
}

/** True when every (query block, key block) pair the tile touches is flagged empty. */
function tileSkipped(blocks: HostBlocks, b: number, h: number, i0: number, rows: number, j0: number, cols: number): boolean {
  const bs = blocks.blockSize;
  for (let qb = Math.floor(i0 / bs); qb <= Math.floor((i0 + rows - 1) / bs); qb++) {
    for (let kb = Math.floor(j0 / bs); kb <= Math.floor((j0 + cols - 1) / bs); kb++) {
      if (blocks.flag(b, h, qb, kb) !== 0) return false;
    }
  }
  return true;
}
