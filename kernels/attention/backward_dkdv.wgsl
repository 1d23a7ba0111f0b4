// Attention backward, sweep 2 of 2: one invocation per key row (b, kv head hk, j), after
// backward_dq.wgsl has written each query row's (lse, delta) to `stats`:
//   dv_j = sum_i p_ij dOut_i,  dk_j = scale * sum_i ds_ij q_i
// over every query row i of every query head of hk's GQA group (causal: rows i >= j only), with
// p and ds as in backward_dq.wgsl. k_j, v_j and both accumulators stay in the invocation; the
// lanes of a workgroup are consecutive keys of one (b, hk) mostly, so they read the same q /
// dOut rows.
//
// From the prelude: as backward_dq.wgsl; out = dk; in_do, stats (read), dv_out.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * WG + lid;
  if (row >= P.groups) {
    return;
  }
  let kv_heads = P.H / P.group;
  let j = row % P.S;
  let bk = row / P.S;
  let hk = bk % kv_heads;
  let b = bk / kv_heads;
  let e = P.rt.x;
  let ev = P.rt.y;
  let e4 = (e + 3u) / 4u;
  let ev4 = (ev + 3u) / 4u;
  let kr = P.kOff + i32(b) * P.ks.x + i32(hk) * P.ks.y + i32(j) * P.ks.z;
  let vr = P.vOff + i32(b) * P.vs.x + i32(hk) * P.vs.y + i32(j) * P.vs.z;

  var kreg: array<vec4<f32>, E4B>;
  var dk: array<vec4<f32>, E4B>;
  var vreg: array<vec4<f32>, EV4B>;
  var dv: array<vec4<f32>, EV4B>;
  for (var d4 = 0u; d4 < e4; d4++) {
    kreg[d4] = row4_k(kr, P.ks.w, d4 * 4u, e);
    dk[d4] = vec4<f32>(0.0);
  }
  for (var d4 = 0u; d4 < ev4; d4++) {
    vreg[d4] = row4_v(vr, P.vs.w, d4 * 4u, ev);
    dv[d4] = vec4<f32>(0.0);
  }
  var i0 = 0u;
  if (P.p0 != 0u) {
    i0 = j;
  }
  for (var hh = 0u; hh < P.group; hh++) {
    let h = hk * P.group + hh;
    let qh = P.qOff + i32(b) * P.qs.x + i32(h) * P.qs.y;
    for (var i = i0; i < P.L; i++) {
      var flag = 1u;
      if (HAS_BLOCKS) {
        flag = block_flag(b, h, i / P.blockSize, j / P.blockSize);
        if (flag == 0u) {
          continue;
        }
      }
      let qb = qh + i32(i) * P.qs.z;
      var a = vec4<f32>(0.0);
      for (var d4 = 0u; d4 < e4; d4++) {
        a += row4_q(qb, P.qs.w, d4 * 4u, e) * kreg[d4];
      }
      let raw = ((a.x + a.y) + (a.z + a.w)) * P.scale;
      let s = score_fn(raw, b, h, i, j, flag == 2u);
      if (s <= MASKED && !att_is_nan(s)) {
        continue;
      }
      let st = (b * P.H + h) * P.L + i;
      let lse = stats[st * 2u];
      let delta = stats[st * 2u + 1u];
      let p = select(exp(s - lse), att_nan(), att_is_nan(lse) || att_is_nan(s));
      let ob = st * ev;
      var dp = vec4<f32>(0.0);
      for (var d4 = 0u; d4 < ev4; d4++) {
        var g4 = vec4<f32>(0.0);
        for (var c = 0u; c < 4u; c++) {
          let col = d4 * 4u + c;
          if (col < ev) {
            g4[c] = in_do[ob + col];
          }
        }
        dv[d4] += p * g4;
        dp += g4 * vreg[d4];
      }
      var ds = p * (((dp.x + dp.y) + (dp.z + dp.w)) - delta);
      if (HAS_GRAD) {
        ds *= score_grad(raw, b, h, i, j);
      }
      for (var d4 = 0u; d4 < e4; d4++) {
        dk[d4] += ds * row4_q(qb, P.qs.w, d4 * 4u, e);
      }
    }
  }
  let ko = row * e;
  for (var d4 = 0u; d4 < e4; d4++) {
    let v = dk[d4] * P.scale;
    for (var c = 0u; c < 4u; c++) {
      let col = d4 * 4u + c;
      if (col < e) {
        out[ko + col] = bitcast<u32>(v[c]);
      }
    }
  }
  let vo = row * ev;
  for (var d4 = 0u; d4 < ev4; d4++) {
    for (var c = 0u; c < 4u; c++) {
      let col = d4 * 4u + c;
      if (col < ev) {
        dv_out[vo + col] = bitcast<u32>(dv[d4][c]);
      }
    }
  }
}
