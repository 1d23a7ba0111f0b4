// Flash attention for prefill (FlashAttention-2's loop order): one workgroup per (batch, head,
// tile of BQ queries), one invocation per query row. K and V stream through workgroup memory in
// tiles of BK keys; each row keeps its running max m, running sum l and unnormalised output o
// in registers and rescales them by exp(m_old - m_new) when the max grows (online softmax). No
// [L, S] score matrix exists anywhere. With CAUSAL the key loop ends after the tile's last
// query, and with a block mask empty tiles are skipped, so masked tiles are never computed.
//
// From the prelude (attention_codegen.ts): Params P; out; ld_q/ld_k/ld_v (f32 loads at element
// offsets); fn score_fn(score, b, h, q_idx, kv_idx, full) -> f32 (mask, causal and flex
// modifications; <= MASKED when masked); fn block_flag(b, h, qb, kb) -> u32 (1 without a block
// mask); consts E, EV, BQ, BK, CAUSAL, HAS_BLOCKS, MASKED.

var<workgroup> k_tile: array<f32, BK * E>;
var<workgroup> v_tile: array<f32, BK * EV>;
var<workgroup> tile_flag: u32;

@compute @workgroup_size(BQ)
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
  let qi = q0 + lid;
  let in_range = qi < P.L;
  let qc = min(qi, P.L - 1u);

  // The query row, pre-scaled (scores are q.k * scale).
  var q: array<f32, E>;
  let qb = P.qOff + i32(b) * P.qs.x + i32(h) * P.qs.y + i32(qc) * P.qs.z;
  for (var d = 0u; d < E; d++) {
    q[d] = ld_q(qb + i32(d) * P.qs.w) * P.scale;
  }
  var o: array<f32, EV>;
  for (var d = 0u; d < EV; d++) {
    o[d] = 0.0;
  }
  var m = MASKED;
  var l = 0.0;

  let kb = P.kOff + i32(b) * P.ks.x + i32(hk) * P.ks.y;
  let vb = P.vOff + i32(b) * P.vs.x + i32(hk) * P.vs.y;
  // Top-left causal: the last query of the tile sees keys up to itself.
  var kv_end = P.S;
  if (CAUSAL) {
    kv_end = min(P.S, min(q0 + BQ, P.L));
  }
  let tiles = (kv_end + BK - 1u) / BK;
  for (var t = 0u; t < tiles; t++) {
    let k0 = t * BK;
    var flag = 1u;
    if (HAS_BLOCKS) {
      // Tiles never straddle blocks (BQ and BK divide the block size), so one flag covers the
      // whole tile; read once and shared so the skip is uniform across the workgroup.
      if (lid == 0u) {
        tile_flag = block_flag(b, h, q0 / P.blockSize, k0 / P.blockSize);
      }
      flag = workgroupUniformLoad(&tile_flag);
      if (flag == 0u) {
        continue;
      }
    }
    workgroupBarrier();
    for (var x = lid; x < BK * E; x += BQ) {
      let j = min(k0 + x / E, P.S - 1u);
      k_tile[x] = ld_k(kb + i32(j) * P.ks.z + i32(x % E) * P.ks.w);
    }
    for (var x = lid; x < BK * EV; x += BQ) {
      let j = min(k0 + x / EV, P.S - 1u);
      v_tile[x] = ld_v(vb + i32(j) * P.vs.z + i32(x % EV) * P.vs.w);
    }
    workgroupBarrier();

    var s: array<f32, BK>;
    var tmax = MASKED;
    for (var j = 0u; j < BK; j++) {
      var acc = 0.0;
      for (var d = 0u; d < E; d++) {
        acc += q[d] * k_tile[j * E + d];
      }
      let kj = k0 + j;
      var sc = MASKED;
      if (kj < kv_end) {
        sc = score_fn(acc, b, h, qc, kj, flag == 2u);
      }
      s[j] = sc;
      tmax = max(tmax, sc);
    }
    let m_new = max(m, tmax);
    if (m_new > MASKED) {
      let corr = select(exp(m - m_new), 0.0, m <= MASKED);
      l *= corr;
      for (var d = 0u; d < EV; d++) {
        o[d] *= corr;
      }
      for (var j = 0u; j < BK; j++) {
        let p = select(exp(s[j] - m_new), 0.0, s[j] <= MASKED);
        l += p;
        for (var d = 0u; d < EV; d++) {
          o[d] += p * v_tile[j * EV + d];
        }
      }
      m = m_new;
    }
  }
  if (in_range) {
    // A row with every key masked has l = 0 and gives 0.
    let inv = select(1.0 / l, 0.0, l == 0.0);
    let ob = ((b * P.H + h) * P.L + qi) * EV;
    for (var d = 0u; d < EV; d++) {
      out[ob + d] = bitcast<u32>(o[d] * inv);
    }
  }
}
