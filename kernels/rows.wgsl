// Row-wise normalisations: softmax, log-softmax, LayerNorm, RMSNorm. One workgroup per row; the
// row is the trailing `rowRank` dims of a strided view, written to a float32 output with its own
// strides (so softmax over a middle dim writes in place of the original layout).
// Prelude: Params P, out (f32 as u32 words), in0 + fn ld0(e: i32) -> f32, weight, bias (f32 words).
override OP: u32;      // 0 softmax, 1 log-softmax, 2 layernorm, 3 rmsnorm
override WG: u32 = 64u;

var<workgroup> red: array<f32, WG>;
var<private> NAN_BITS: u32 = 0x7fc00000u;

fn decompose(i: u32, first: u32, last: u32, which: u32) -> i32 {
  if (last - first == 1u) {
    // One dim (the common case after merging): no division.
    let du = last - 1u;
    return i32(i) * select(P.ost[du / 4u][du % 4u], P.ist[du / 4u][du % 4u], which == 0u);
  }
  var rem = i;
  var e = 0;
  for (var d = i32(last) - 1; d >= i32(first); d--) {
    let du = u32(d);
    let n = P.shape[du / 4u][du % 4u];
    let s = select(P.ost[du / 4u][du % 4u], P.ist[du / 4u][du % 4u], which == 0u);
    e += i32(rem % n) * s;
    rem = rem / n;
  }
  return e;
}

fn wg_reduce(lid: u32, v: f32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), is_max);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) {
    return;
  }
  let lead = P.rank - P.rowRank;
  let ib = P.ioff + decompose(row, 0u, lead, 0u);
  let ob = decompose(row, 0u, lead, 1u);
  let n = P.n;
  if (OP <= 1u) {
    var m = -3.4028234663852886e38;
    for (var j = lid; j < n; j += WG) {
      m = max(m, ld0(ib + decompose(j, lead, P.rank, 0u)));
    }
    m = wg_reduce(lid, m, true);
    var s = 0.0;
    for (var j = lid; j < n; j += WG) {
      s += exp(ld0(ib + decompose(j, lead, P.rank, 0u)) - m);
    }
    s = wg_reduce(lid, s, false);
    let ls = log(s);
    // s is 0 only when every entry is -inf: PyTorch gives NaN there (0/0), spelled out here.
    let all_neg_inf = s == 0.0;
    for (var j = lid; j < n; j += WG) {
      let x = ld0(ib + decompose(j, lead, P.rank, 0u)) - m;
      let y = select(exp(x) / s, x - ls, OP == 1u);
      out[u32(ob + decompose(j, lead, P.rank, 1u))] = select(bitcast<u32>(y), NAN_BITS, all_neg_inf);
    }
    return;
  }
  var mean = 0.0;
  if (OP == 2u) {
    var s = 0.0;
    for (var j = lid; j < n; j += WG) {
      s += ld0(ib + decompose(j, lead, P.rank, 0u));
    }
    mean = wg_reduce(lid, s, false) / f32(n);
  }
  var m2 = 0.0;
  for (var j = lid; j < n; j += WG) {
    let d = ld0(ib + decompose(j, lead, P.rank, 0u)) - mean;
    m2 += d * d;
  }
  let inv = inverseSqrt(wg_reduce(lid, m2, false) / f32(n) + P.eps);
  for (var j = lid; j < n; j += WG) {
    var y = (ld0(ib + decompose(j, lead, P.rank, 0u)) - mean) * inv;
    if (P.hasWeight != 0u) {
      y *= bitcast<f32>(weight[j]);
    }
    if (P.hasBias != 0u) {
      y += bitcast<f32>(bias[j]);
    }
    out[u32(ob + decompose(j, lead, P.rank, 1u))] = bitcast<u32>(y);
  }
}
