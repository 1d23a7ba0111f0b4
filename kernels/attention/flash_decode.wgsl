// Split-K flash decoding (the idea of flash-decoding): few query rows against a long key
// sequence. One workgroup per (batch, KV head, block of up to RB query rows of that KV head's
// GQA group, split of the keys), so each K and V row is read once for every query head that
// shares it (R = (Hq / Hkv) * L rows, in blocks of RB). Per split:
//   1. scores: invocations take keys j0 + lid, j0 + lid + WG, ...; each reads its K row as vec4s
//      once and forms the dot products of all R rows with it (the q rows are uniform loads);
//      the scores go to workgroup memory;
//   2. invocation r < R takes row r's max and sum over the split and turns its scores into
//      probabilities (no cross-invocation reduction is needed);
//   3. O = P V: invocations own vec4 columns of EV; each V row is read once as vec4s for all R
//      rows.
// It writes a partial (m, l, o[EV]) per (query row, split) in the layout decode_reduce.wgsl
// merges. Two barriers per workgroup.
//
// From the prelude: Params P (P.qTiles = row blocks; P.rt = E, EV, CHUNK); out (the partials);
// ld_q/ld_k/ld_v and their vec4 forms row4_q/k/v (rows4.wgsl); score_fn; block_flag; consts WG,
// RB, CMAX, HAS_BLOCKS, MASKED.

var<workgroup> p_chunk: array<f32, RB * CMAX>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.groups) {
    return;
  }
  let e = P.rt.x;
  let ev = P.rt.y;
  let chunk = P.rt.z;
  let e4 = (e + 3u) / 4u;
  let ev4 = (ev + 3u) / 4u;
  let split = g % P.splits;
  let t = g / P.splits;
  let rb = t % P.qTiles;
  let bhk = t / P.qTiles;
  let hkv = P.H / P.group;
  let hk = bhk % hkv;
  let b = bhk / hkv;
  // Rows of this KV head: r = gi * L + qi for query head hk * group + gi.
  let rows = P.group * P.L;
  let r0 = rb * RB;
  let nr = min(RB, rows - r0);

  let j0 = split * chunk;
  let j1 = min(P.S, j0 + chunk);
  let kb = P.kOff + i32(b) * P.ks.x + i32(hk) * P.ks.y;
  let vb = P.vOff + i32(b) * P.vs.x + i32(hk) * P.vs.y;

  // Where each row's q starts.
  var qbs: array<i32, RB>;
  for (var r = 0u; r < nr; r++) {
    let row = r0 + r;
    qbs[r] = P.qOff + i32(b) * P.qs.x + i32(hk * P.group + row / P.L) * P.qs.y + i32(row % P.L) * P.qs.z;
  }

  // 1. Scores of all rows against this invocation's keys.
  for (var j = j0 + lid; j < j1; j += WG) {
    let kr = kb + i32(j) * P.ks.z;
    var acc: array<vec4<f32>, RB>;
    for (var r = 0u; r < RB; r++) {
      acc[r] = vec4<f32>(0.0);
    }
    for (var d4 = 0u; d4 < e4; d4++) {
      let k4 = row4_k(kr, P.ks.w, d4 * 4u, e);
      for (var r = 0u; r < nr; r++) {
        acc[r] += row4_q(qbs[r], P.qs.w, d4 * 4u, e) * k4;
      }
    }
    for (var r = 0u; r < nr; r++) {
      let row = r0 + r;
      let h = hk * P.group + row / P.L;
      let qi = row % P.L;
      var flag = 1u;
      if (HAS_BLOCKS) {
        flag = block_flag(b, h, qi / P.blockSize, j / P.blockSize);
      }
      var sc = MASKED;
      if (flag != 0u) {
        let a = acc[r];
        sc = score_fn(((a.x + a.y) + (a.z + a.w)) * P.scale, b, h, qi, j, flag == 2u);
      }
      p_chunk[r * CMAX + j - j0] = sc;
    }
  }
  workgroupBarrier();

  // 2. Row lid's max and sum; its scores become probabilities.
  // A NaN score (NaN query row, or a NaN key the row attends to) writes m = NaN, which the merge
  // turns into a NaN row: max() would drop it and the row would pass for a masked one.
  if (lid < nr) {
    var m = MASKED;
    var nan_row = false;
    for (var j = 0u; j < j1 - j0; j++) {
      let sc = p_chunk[lid * CMAX + j];
      m = max(m, sc);
      nan_row = nan_row || att_is_nan(sc);
    }
    var l = 0.0;
    for (var j = 0u; j < j1 - j0; j++) {
      let sc = p_chunk[lid * CMAX + j];
      let p = select(exp(sc - m), 0.0, sc <= MASKED || m <= MASKED);
      p_chunk[lid * CMAX + j] = p;
      l += p;
    }
    let row = r0 + lid;
    let h = hk * P.group + row / P.L;
    let qi = row % P.L;
    let base = ((((b * P.H + h) * P.L + qi) * P.splits) + split) * (ev + 2u);
    out[base] = select(bitcast<u32>(m), ATT_NAN_BITS, nan_row);
    out[base + 1u] = bitcast<u32>(l);
  }
  workgroupBarrier();

  // 3. O = P V over this invocation's vec4 columns, all rows at once.
  for (var c = lid; c < ev4; c += WG) {
    var o: array<vec4<f32>, RB>;
    for (var r = 0u; r < RB; r++) {
      o[r] = vec4<f32>(0.0);
    }
    for (var j = j0; j < j1; j++) {
      let v4 = row4_v(vb + i32(j) * P.vs.z, P.vs.w, c * 4u, ev);
      for (var r = 0u; r < nr; r++) {
        o[r] += p_chunk[r * CMAX + j - j0] * v4;
      }
    }
    for (var r = 0u; r < nr; r++) {
      let row = r0 + r;
      let h = hk * P.group + row / P.L;
      let qi = row % P.L;
      let base = ((((b * P.H + h) * P.L + qi) * P.splits) + split) * (ev + 2u) + 2u;
      for (var i = 0u; i < 4u; i++) {
        if (c * 4u + i < ev) {
          out[base + c * 4u + i] = bitcast<u32>(o[r][i]);
        }
      }
    }
  }
}
