// Flash attention for prefill (FlashAttention-2's loop order), register-blocked like
// kernels/gemm.wgsl: one workgroup of LANES invocations per (batch, head, tile of BQ queries);
// K and V tiles of BK keys stream from global memory straight into registers. Per tile:
//   1. S = Q K^T: invocation x takes keys x, x + LANES, ... (KPL of them) against all BQ rows,
//      with vec4 accumulators along E (one horizontal add per score); each K element is read
//      once per workgroup and used BQ times; q rows (pre-scaled) are uniform reads of
//      workgroup memory;
//   2. online softmax: invocation r < BQ owns row r's running max m and sum l; the tile max,
//      ONE rescale factor exp(m_old - m_new) per row and tile, then the probabilities in place;
//   3. O = O * corr + P V: invocation x owns output vec4 columns x, x + LANES, ... (CG of them)
//      of all BQ rows in registers; each V vec4 is read once and used BQ times; p is a uniform
//      read.
// Why this shape: on lavapipe (a CPU, invocations are SIMD lanes) a private array indexed by a
// runtime loop counter lives in scratch memory and every access is a gather/scatter, which made
// a one-row-per-invocation kernel (q and o as per-row arrays) ~20x slower than its FMAs; here
// every private array is indexed by unrolled constants (registers), runtime-indexed data is
// uniform across the workgroup (a scalar load and a broadcast), and LANES = lavapipe's SIMD
// width keeps the three barriers per tile within one coroutine.
// With causal masking (P.p0 != 0, a runtime flag) the key loop ends after the tile's last query;
// with a block mask empty tiles are skipped. E and EV are runtime bounds (P.rt.x, P.rt.y); the
// q tile and the output columns are sized by buckets (E4B, CG), so head dims share pipelines.
// No [L, S] score matrix exists anywhere.
//
// From the prelude (attention_codegen.ts): Params P; out; ld_q/ld_k/ld_v; score_fn;
// block_flag; consts LANES, BQ, KPL (BK = LANES * KPL), E4B, CG, HAS_BLOCKS, MASKED.

const BK: u32 = LANES * KPL;

var<workgroup> q_tile: array<vec4<f32>, BQ * E4B>;
var<workgroup> s_tile: array<f32, BQ * BK>;
var<workgroup> row_corr: array<f32, BQ>;
var<workgroup> row_l: array<f32, BQ>;

// Row R's output columns lid + C * LANES: o_R_C / l (0 for a row with every key masked).
// A NaN l marks a row that met a NaN score: NaN out, written as such.
fn store_row(r: u32, c: u32, v: vec4<f32>, b: u32, h: u32, q0: u32, lid: u32) {
  let qi = q0 + r;
  let l = row_l[r];
  let nan_row = att_is_nan(l);
  let inv = select(1.0 / l, 0.0, l == 0.0);
  let ev = P.rt.y;
  if (qi < P.L) {
    let c4 = lid + c * LANES;
    let ob = ((b * P.H + h) * P.L + qi) * ev;
    for (var i = 0u; i < 4u; i++) {
      let col = c4 * 4u + i;
      if (col < ev) {
        out[ob + col] = bitcast<u32>(select(v[i] * inv, att_nan(), nan_row));
      }
    }
  }
}

// A score through score_fn, or MASKED past the tile's keys.
fn tile_score(a: vec4<f32>, kj: u32, kv_end: u32, b: u32, h: u32, qi: u32, flag: u32) -> f32 {
  if (kj >= kv_end) {
    return MASKED;
  }
  return score_fn((a.x + a.y) + (a.z + a.w), b, h, min(qi, P.L - 1u), kj, flag == 2u);
}

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.groups) {
    return;
  }
  let qt = g % P.qTiles;
  let bh = g / P.qTiles;
  let h = bh % P.H;
  let b = bh / P.H;
  let hk = h / P.group;
  let q0 = qt * BQ;
  let e = P.rt.x;
  let ev = P.rt.y;
  let e4 = (e + 3u) / 4u;
  let ev4 = (ev + 3u) / 4u;
  let causal = P.p0 != 0u;
  let slast = P.S - 1u;

  // The query tile, pre-scaled (scores are q.k * scale).
  let qb = P.qOff + i32(b) * P.qs.x + i32(h) * P.qs.y;
  for (var i = lid; i < BQ * e4; i += LANES) {
    let r = i / e4;
    let d4 = i % e4;
    q_tile[r * E4B + d4] = row4_q(qb + i32(min(q0 + r, P.L - 1u)) * P.qs.z, P.qs.w, d4 * 4u, e) * P.scale;
  }
  var m_row = MASKED;
  var l_row = 0.0;
  // A NaN score in the row (a NaN query, or a NaN key it attends to): max() and the `<= MASKED`
  // tests below drop NaN, so without this a NaN query row would come out as a fully masked row
  // (0) instead of NaN (PyTorch's softmax).
  var nan_row = false;
  // o_R_C: output vec4 column lid + C * LANES of row R (generated, see below).
  //@O_DECL

  let kb = P.kOff + i32(b) * P.ks.x + i32(hk) * P.ks.y;
  let vb = P.vOff + i32(b) * P.vs.x + i32(hk) * P.vs.y;
  // Top-left causal: the last query of the tile sees keys up to itself.
  var kv_end = P.S;
  if (causal) {
    kv_end = min(P.S, min(q0 + BQ, P.L));
  }
  for (var k0 = 0u; k0 < kv_end; k0 += BK) {
    var flag = 1u;
    if (HAS_BLOCKS) {
      // Tiles never straddle blocks (BQ and BK divide the block size): one flag per tile,
      // uniform across the workgroup.
      flag = block_flag(b, h, q0 / P.blockSize, k0 / P.blockSize);
      if (flag == 0u) {
        continue;
      }
    }
    workgroupBarrier();

    // 1. Scores: keys x + LANES t against all rows.
    // a_T_R: the score of key lid + T * LANES and row R, as a vec4 partial sum (generated: the
    // accumulators must be named values, not a private array, to stay in registers on lavapipe).
    //@QK
    for (var d4 = 0u; d4 < e4; d4++) {
      //@QK_STEP
    }
    //@QK_STORE
    workgroupBarrier();

    // 2. Online softmax, invocation r < BQ (BQ <= LANES) for row r; one rescale per row and tile.
    if (lid < BQ) {
      let r = lid;
      var tmax = MASKED;
      for (var j = 0u; j < BK; j++) {
        let sc = s_tile[r * BK + j];
        tmax = max(tmax, sc);
        nan_row = nan_row || att_is_nan(sc);
      }
      let m_new = max(m_row, tmax);
      var corr = 1.0;
      if (m_new > MASKED && !nan_row) {
        corr = select(exp(m_row - m_new), 0.0, m_row <= MASKED);
        var sum = 0.0;
        for (var j = 0u; j < BK; j++) {
          let sc = s_tile[r * BK + j];
          let p = select(exp(sc - m_new), 0.0, sc <= MASKED);
          s_tile[r * BK + j] = p;
          sum += p;
        }
        l_row = l_row * corr + sum;
        m_row = m_new;
      } else {
        for (var j = 0u; j < BK; j++) {
          s_tile[r * BK + j] = 0.0;
        }
      }
      row_corr[r] = corr;
    }
    workgroupBarrier();

    // 3. O = O * corr + P V over this invocation's columns.
    //@PV_SCALE
    let nk = min(BK, kv_end - k0);
    for (var j = 0u; j < nk; j++) {
      let vr = vb + i32(k0 + j) * P.vs.z;
      //@PV_STEP
    }
  }

  if (lid < BQ) {
    row_l[lid] = select(l_row, att_nan(), nan_row);
  }
  workgroupBarrier();
  //@STORE

}
