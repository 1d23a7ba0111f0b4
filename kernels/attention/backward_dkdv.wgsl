// Attention backward, sweep 2 of 2, after backward_dq.wgsl wrote each query row's (lse, delta)
// to `stats`: one workgroup of LANES invocations per (batch, KV head, tile of BK keys), over the
// query tiles of BQ rows of every query head of the GQA group (causal: from the tile's first
// key). Per query tile: S = Q K^T and dP = dOut V^T (lane x takes keys x, x + LANES, ... against
// all rows; q and dOut rows are uniform reads of workgroup memory), P and dS into workgroup
// memory, then dV += P^T dOut and dK += dS^T Q with invocation x owning vec4 columns x,
// x + LANES, ... of all BK keys (named accumulators, unrolled by the launcher). q is pre-scaled,
// so dK needs no final scale. No [L, S] matrix.
//
// From the prelude: as backward_dq.wgsl; out = dk; in_do, stats (read), dv_out; consts CGV (dv
// columns per lane) beside CG (dk columns); the tiles, bwd_score, bwd_p and load_q_do_tile from
// backward_common.wgsl.

var<workgroup> p_tile: array<f32, BQ * BK>;

fn bwd_ds(p: f32, raw: f32, delta: f32, dp: f32, b: u32, h: u32, qi: u32, kj: u32) -> f32 {
  if (p == 0.0) {
    return 0.0;
  }
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
  let kv_heads = P.H / P.group;
  let kt = g % P.qTiles;
  let bk = g / P.qTiles;
  let hk = bk % kv_heads;
  let b = bk / kv_heads;
  let k0 = kt * BK;
  let e = P.rt.x;
  let ev = P.rt.y;
  let e4 = (e + 3u) / 4u;
  let ev4 = (ev + 3u) / 4u;
  let causal = P.p0 != 0u;
  let slast = P.S - 1u;
  let kv_end = P.S;
  let kb = P.kOff + i32(b) * P.ks.x + i32(hk) * P.ks.y;
  let vb = P.vOff + i32(b) * P.vs.x + i32(hk) * P.vs.y;
  //@DKV_DECL

  var i_start = 0u;
  if (causal) {
    i_start = (k0 / BQ) * BQ;
  }
  for (var hh = 0u; hh < P.group; hh++) {
    let h = hk * P.group + hh;
    let qb = P.qOff + i32(b) * P.qs.x + i32(h) * P.qs.y;
    for (var q0 = i_start; q0 < P.L; q0 += BQ) {
      var flag = 1u;
      if (HAS_BLOCKS) {
        flag = block_flag(b, h, q0 / P.blockSize, k0 / P.blockSize);
        if (flag == 0u) {
          continue;
        }
      }
      workgroupBarrier();
      load_q_do_tile(qb, q0, b, h, e, ev, lid);
      if (lid < BQ) {
        let st = (b * P.H + h) * P.L + min(q0 + lid, P.L - 1u);
        row_lse[lid] = stats[st * 2u];
        row_delta[lid] = stats[st * 2u + 1u];
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
      //@PDS_STORE
      workgroupBarrier();
      let nq = min(BQ, P.L - q0);
      for (var r = 0u; r < nq; r++) {
        //@DKV_STEP
      }
    }
  }
  // dk / dv staged in q_tile / g_tile (free now; BK = BQ rows), so the store is one loop instead
  // of unrolled per-column code.
  workgroupBarrier();
  //@DK_STAGE
  //@DV_STAGE
  workgroupBarrier();
  for (var i = lid; i < BK * e; i += LANES) {
    let k = i / e;
    let col = i % e;
    if (k0 + k < P.S) {
      out[(bk * P.S + k0 + k) * e + col] = bitcast<u32>(q_tile[k * E4B + col / 4u][col % 4u]);
    }
  }
  for (var i = lid; i < BK * ev; i += LANES) {
    let k = i / ev;
    let col = i % ev;
    if (k0 + k < P.S) {
      dv_out[(bk * P.S + k0 + k) * ev + col] = bitcast<u32>(g_tile[k * EV4B + col / 4u][col % 4u]);
    }
  }
}
