// Split-K flash decoding (the idea of flash-decoding): few query rows against a long key
// sequence. One workgroup per (query row, chunk of CHUNK keys): scores of the chunk into
// workgroup memory, the chunk's max and sum (red_max / red_sum: subgroup operations where the
// adapter has them), then each invocation accumulates EV / WG output dims over the chunk. It
// writes a partial (m, l, o[EV]) per chunk; decode_reduce.wgsl merges the chunks of a row.
//
// From the prelude: Params P; out (the partials); ld_q/ld_k/ld_v; score_fn; block_flag; the
// reduction helpers and struct Lane; consts E, EV, WG, CHUNK, CAUSAL, HAS_BLOCKS, MASKED.

var<workgroup> q_row: array<f32, E>;
var<workgroup> p_chunk: array<f32, CHUNK>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: Lane) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.groups) {
    return;
  }
  let lid = lane.lid;
  let split = g % P.splits;
  let row = g / P.splits;
  let qi = row % P.L;
  let bh = row / P.L;
  let h = bh % P.H;
  let b = bh / P.H;
  let hk = h / P.group;

  let qb = P.qOff + i32(b) * P.qs.x + i32(h) * P.qs.y + i32(qi) * P.qs.z;
  for (var d = lid; d < E; d += WG) {
    q_row[d] = ld_q(qb + i32(d) * P.qs.w) * P.scale;
  }
  workgroupBarrier();

  let j0 = split * CHUNK;
  var j1 = min(P.S, j0 + CHUNK);
  if (CAUSAL) {
    j1 = min(j1, qi + 1u);
  }
  let kb = P.kOff + i32(b) * P.ks.x + i32(hk) * P.ks.y;
  var local_max = MASKED;
  for (var j = j0 + lid; j < j1; j += WG) {
    var acc = 0.0;
    let kr = kb + i32(j) * P.ks.z;
    for (var d = 0u; d < P.rt.x; d++) {
      acc += q_row[d] * ld_k(kr + i32(d) * P.ks.w);
    }
    var flag = 1u;
    if (HAS_BLOCKS) {
      flag = block_flag(b, h, qi / P.blockSize, j / P.blockSize);
    }
    var sc = MASKED;
    if (flag != 0u) {
      sc = score_fn(acc, b, h, qi, j, flag == 2u);
    }
    p_chunk[j - j0] = sc;
    local_max = max(local_max, sc);
  }
  let m = red_max(lane, local_max);
  var local_sum = 0.0;
  for (var j = j0 + lid; j < j1; j += WG) {
    let sc = p_chunk[j - j0];
    let p = select(exp(sc - m), 0.0, sc <= MASKED || m <= MASKED);
    p_chunk[j - j0] = p;
    local_sum += p;
  }
  let l = red_sum(lane, local_sum);
  workgroupBarrier();

  let base = g * (EV + 2u);
  let vb = P.vOff + i32(b) * P.vs.x + i32(hk) * P.vs.y;
  for (var d = lid; d < EV; d += WG) {
    var acc = 0.0;
    if (m > MASKED) {
      for (var j = j0; j < j1; j++) {
        acc += p_chunk[j - j0] * ld_v(vb + i32(j) * P.vs.z + i32(d) * P.vs.w);
      }
    }
    out[base + 2u + d] = bitcast<u32>(acc);
  }
  if (lid == 0u) {
    out[base] = bitcast<u32>(m);
    out[base + 1u] = bitcast<u32>(l);
  }
}
