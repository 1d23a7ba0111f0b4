// Attention backward, sweep 1 of 2 (FlashAttention-2's backward, Dao 2023, split so each output
// row has one owner and no atomics are needed): one invocation per query row (b, h, i).
//   1. its logsumexp over the keys it attends, recomputed with an online max / sum (the forward
//      does not keep it), and delta = dOut_i . out_i: both to `stats` for backward_dkdv.wgsl;
//   2. dq_i = scale * sum_j ds_ij k_j, ds_ij = p_ij (dOut_i . v_j - delta_i) g_ij,
//      p_ij = exp(score_ij - lse_i), g = the score modification's derivative (score_grad).
// Scores are recomputed per key; nothing of size [L, S] exists. Masked pairs are skipped, a fully
// masked row keeps dq = 0, a NaN score makes lse NaN and with it every pair of the row.
// Invocations of a workgroup are consecutive rows of one (b, h) mostly, so their K / V reads are
// the same addresses (one cache line for all lanes).
//
// From the prelude (attention_codegen.ts, backward.ts): Params P (groups = rows; rt = E, Ev);
// out (dq, f32 bits); ld_q/ld_k/ld_v, row4_*; score_fn, score_grad; block_flag; in_o, in_do,
// stats; consts WG, E4B, EV4B, HAS_BLOCKS, HAS_GRAD, MASKED.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * WG + lid;
  if (row >= P.groups) {
    return;
  }
  let i = row % P.L;
  let bh = row / P.L;
  let h = bh % P.H;
  let b = bh / P.H;
  let hk = h / P.group;
  let e = P.rt.x;
  let ev = P.rt.y;
  let e4 = (e + 3u) / 4u;
  let ev4 = (ev + 3u) / 4u;
  let qb = P.qOff + i32(b) * P.qs.x + i32(h) * P.qs.y + i32(i) * P.qs.z;
  let kb = P.kOff + i32(b) * P.ks.x + i32(hk) * P.ks.y;
  let vb = P.vOff + i32(b) * P.vs.x + i32(hk) * P.vs.y;

  var qr: array<vec4<f32>, E4B>;
  var acc: array<vec4<f32>, E4B>;
  var dor: array<vec4<f32>, EV4B>;
  for (var d4 = 0u; d4 < e4; d4++) {
    qr[d4] = row4_q(qb, P.qs.w, d4 * 4u, e);
    acc[d4] = vec4<f32>(0.0);
  }
  var delta = 0.0;
  let ob = row * ev;
  for (var d4 = 0u; d4 < ev4; d4++) {
    var g4 = vec4<f32>(0.0);
    var o4 = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
      let col = d4 * 4u + c;
      if (col < ev) {
        g4[c] = in_do[ob + col];
        o4[c] = in_o[ob + col];
      }
    }
    dor[d4] = g4;
    delta += dot(g4, o4);
  }
  var kv_end = P.S;
  if (P.p0 != 0u) {
    kv_end = min(P.S, i + 1u);
  }

  // 1. The row's logsumexp.
  var m = MASKED;
  var l = 0.0;
  var nan_row = false;
  for (var j = 0u; j < kv_end; j++) {
    var flag = 1u;
    if (HAS_BLOCKS) {
      flag = block_flag(b, h, i / P.blockSize, j / P.blockSize);
      if (flag == 0u) {
        continue;
      }
    }
    let kr = kb + i32(j) * P.ks.z;
    var a = vec4<f32>(0.0);
    for (var d4 = 0u; d4 < e4; d4++) {
      a += qr[d4] * row4_k(kr, P.ks.w, d4 * 4u, e);
    }
    let s = score_fn(((a.x + a.y) + (a.z + a.w)) * P.scale, b, h, i, j, flag == 2u);
    if (att_is_nan(s)) {
      nan_row = true;
    } else if (s > MASKED) {
      if (s > m) {
        l = l * exp(m - s) + 1.0;
        m = s;
      } else {
        l += exp(s - m);
      }
    }
  }
  let lse = select(select(f32_inf(), m + log_f32(l), l > 0.0), att_nan(), nan_row);
  stats[row * 2u] = lse;
  stats[row * 2u + 1u] = delta;

  // 2. dq.
  for (var j = 0u; j < kv_end; j++) {
    var flag = 1u;
    if (HAS_BLOCKS) {
      flag = block_flag(b, h, i / P.blockSize, j / P.blockSize);
      if (flag == 0u) {
        continue;
      }
    }
    let kr = kb + i32(j) * P.ks.z;
    var a = vec4<f32>(0.0);
    for (var d4 = 0u; d4 < e4; d4++) {
      a += qr[d4] * row4_k(kr, P.ks.w, d4 * 4u, e);
    }
    let raw = ((a.x + a.y) + (a.z + a.w)) * P.scale;
    let s = score_fn(raw, b, h, i, j, flag == 2u);
    if (s <= MASKED && !att_is_nan(s)) {
      continue;
    }
    let p = select(exp(s - lse), att_nan(), nan_row || att_is_nan(s));
    let vr = vb + i32(j) * P.vs.z;
    var dp = vec4<f32>(0.0);
    for (var d4 = 0u; d4 < ev4; d4++) {
      dp += dor[d4] * row4_v(vr, P.vs.w, d4 * 4u, ev);
    }
    var ds = p * (((dp.x + dp.y) + (dp.z + dp.w)) - delta);
    if (HAS_GRAD) {
      ds *= score_grad(raw, b, h, i, j);
    }
    for (var d4 = 0u; d4 < e4; d4++) {
      acc[d4] += ds * row4_k(kr, P.ks.w, d4 * 4u, e);
    }
  }
  let qo = row * e;
  for (var d4 = 0u; d4 < e4; d4++) {
    let v = acc[d4] * P.scale;
    for (var c = 0u; c < 4u; c++) {
      let col = d4 * 4u + c;
      if (col < e) {
        out[qo + col] = bitcast<u32>(v[c]);
      }
    }
  }
}
