// Attention backward, sweep 1 of 2 (FlashAttention-2's backward, Dao 2023, split so each output
// row has one owner and no atomics are needed), shaped like flash_prefill.wgsl: one workgroup of
// LANES invocations per (batch, head, tile of BQ query rows); K and V tiles of BK keys stream from
// global memory. Two passes over the keys:
//   1. the rows' logsumexp (the forward does not keep it): per tile the scores S = Q K^T (lane x
//      takes keys x, x + LANES, ... against all rows; q rows, pre-scaled, are uniform reads of
//      workgroup memory), then invocation r < BQ updates row r's online max / sum;
//      lse and delta = dOut . out go to `stats` for backward_dkdv.wgsl;
//   2. per tile S again and dP = dOut V^T the same way, P = exp(S - lse), dS = P (dP - delta) g
//      (g: the score modification's derivative) into workgroup memory, then dQ += dS K with
//      invocation x owning dq vec4 columns x, x + LANES, ... (CG of them) of all BQ rows.
// Accumulators are named values the launcher unrolls into the //@ lines (registers on lavapipe,
// where a private array indexed by a loop counter lives in scratch memory). No [L, S] matrix.
//
// From the prelude (attention_codegen.ts, attention_backward.ts): Params P (qTiles, groups;
// rt = E, Ev); out (dq); ld_q/ld_k/ld_v, row4_*; score_fn, score_grad; block_flag; in_o, in_do,
// stats; consts LANES, BQ, KPL (BK = LANES KPL), E4B, EV4B, CG, HAS_BLOCKS, HAS_GRAD, MASKED;
// the tiles, bwd_score, bwd_p and load_q_do_tile from backward_common.wgsl.

// dS of one pair from its score, the row's lse / delta and dP (0 where masked).
fn bwd_ds(raw: f32, s: f32, lse: f32, delta: f32, dp: f32, b: u32, h: u32, qi: u32, kj: u32) -> f32 {
  if (s <= MASKED && !att_is_nan(s)) {
    return 0.0;
  }
  let p = bwd_p(s, lse);
  var ds = p * (dp - delta);
  if (HAS_GRAD) {
    ds *= score_grad(raw, b, h, qi, kj);
  }
  return ds;
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

  // q (pre-scaled: a dot product is the raw score) and dOut rows; delta per row.
  let qb = P.qOff + i32(b) * P.qs.x + i32(h) * P.qs.y;
  load_q_do_tile(qb, q0, b, h, e, ev, lid);
  if (lid < BQ) {
    var delta = 0.0;
    if (q0 + lid < P.L) {
      let ob = ((b * P.H + h) * P.L + q0 + lid) * ev;
      for (var c = 0u; c < ev; c++) {
        delta += in_do[ob + c] * in_o[ob + c];
      }
    }
    row_delta[lid] = delta;
  }

  let kb = P.kOff + i32(b) * P.ks.x + i32(hk) * P.ks.y;
  let vb = P.vOff + i32(b) * P.vs.x + i32(hk) * P.vs.y;
  var kv_end = P.S;
  if (causal) {
    kv_end = min(P.S, min(q0 + BQ, P.L));
  }

  // 1. Logsumexp of each row (invocation r < BQ keeps row r's running max, sum and NaN flag).
  var m_row = MASKED;
  var l_row = 0.0;
  var nan_row = false;
  for (var k0 = 0u; k0 < kv_end; k0 += BK) {
    var flag = 1u;
    if (HAS_BLOCKS) {
      flag = block_flag(b, h, q0 / P.blockSize, k0 / P.blockSize);
      if (flag == 0u) {
        continue;
      }
    }
    workgroupBarrier();
    //@QK
    for (var d4 = 0u; d4 < e4; d4++) {
      //@QK_STEP
    }
    //@S_STORE
    workgroupBarrier();
    if (lid < BQ) {
      for (var j = 0u; j < BK; j++) {
        let sc = s_tile[lid * BK + j];
        if (att_is_nan(sc)) {
          nan_row = true;
        } else if (sc > MASKED) {
          if (sc > m_row) {
            l_row = l_row * exp(m_row - sc) + 1.0;
            m_row = sc;
          } else {
            l_row += exp(sc - m_row);
          }
        }
      }
    }
  }
  if (lid < BQ) {
    let lse = select(select(f32_inf(), m_row + log_f32(l_row), l_row > 0.0), att_nan(), nan_row);
    row_lse[lid] = lse;
    if (q0 + lid < P.L) {
      let st = (b * P.H + h) * P.L + q0 + lid;
      stats[st * 2u] = lse;
      stats[st * 2u + 1u] = row_delta[lid];
    }
  }

  // 2. dQ += dS K.
  //@DQ_DECL
  for (var k0 = 0u; k0 < kv_end; k0 += BK) {
    var flag = 1u;
    if (HAS_BLOCKS) {
      flag = block_flag(b, h, q0 / P.blockSize, k0 / P.blockSize);
      if (flag == 0u) {
        continue;
      }
    }
    workgroupBarrier();
    //@QK
    //@DP
    for (var d4 = 0u; d4 < e4; d4++) {
      //@QK_STEP
    }
    for (var d4 = 0u; d4 < ev4; d4++) {
      //@DP_STEP
    }
    //@DS_STORE
    workgroupBarrier();
    let nk = min(BK, kv_end - k0);
    for (var j = 0u; j < nk; j++) {
      let kr = kb + i32(k0 + j) * P.ks.z;
      //@DQ_STEP
    }
  }
  // dq staged in q_tile (free now), so the store is one loop instead of unrolled per-column code.
  workgroupBarrier();
  //@DQ_STAGE
  workgroupBarrier();
  for (var i = lid; i < BQ * e; i += LANES) {
    let r = i / e;
    let col = i % e;
    if (q0 + r < P.L) {
      out[((b * P.H + h) * P.L + q0 + r) * e + col] = bitcast<u32>(q_tile[r * E4B + col / 4u][col % 4u] * P.scale);
    }
  }
}
