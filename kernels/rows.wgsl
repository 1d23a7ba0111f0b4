// Row-wise normalisations: softmax, log-softmax, LayerNorm, RMSNorm. A row is the trailing
// `rowRank` dims of a strided view, written to a float32 output with its own strides (so softmax
// over a middle dim writes in place of the original layout).
//
// Several rows per workgroup: each row belongs to a team of lanes (one subgroup where the adapter
// has subgroups, else TEAM invocations reducing through workgroup memory), so a short row does not
// hold a whole workgroup and its barriers (on lavapipe a workgroup is a coroutine and a barrier a
// switch). A row is read twice, not three times: softmax keeps a running maximum and the sum of
// exponentials rescaled to it (the online softmax of Milakov and Gimelshein, 2018); the norms keep
// per-lane (count, mean, M2) Welford partials, merged across the team by Chan's formula.
//
// Prelude (src/backends/webgpu/rows_codegen.ts): Params P, the bindings out / in0 / weight / bias,
// const VEC (rows contiguous, n % 4 == 0, 16-byte aligned: everything bound as vec4 words),
// loads ld0(e) -> f32 and ldv(e) -> vec4<f32> (element e..e+3), stores st1(e, f32) and
// st4(q, vec4<f32>) (vec4 q), weight / bias reads wb1(j) / wb4(q) (one of each per binding:
// wt*, bs*), fn team_max / team_sum(slot, v),
// and the entry point, which calls process_row(row, lane, lanes, slot) for every row of its group.
override OP: u32;      // 0 softmax, 1 log-softmax, 2 layernorm, 3 rmsnorm
override WG: u32 = 64u;

var<private> NAN_BITS: u32 = 0x7fc00000u;
const LOWEST = -3.4028234663852886e38;

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

fn in_at(ib: i32, j: u32) -> f32 {
  return ld0(ib + decompose(j, P.rank - P.rowRank, P.rank, 0u));
}

fn store_at(ob: i32, j: u32, y: f32) {
  st1(u32(ob + decompose(j, P.rank - P.rowRank, P.rank, 1u)), y);
}

// Softmax's running (max, sum): the sum rescaled when the max grows. NaN propagates through the
// sums (x - m is NaN), +inf gives NaN as in PyTorch (inf - inf), -inf adds exp(-inf) = 0.
struct Online {
  m: f32,
  s: f32,
}

fn online_add4(a: Online, x: vec4<f32>) -> Online {
  let m = max(a.m, max(max(x.x, x.y), max(x.z, x.w)));
  let e = exp(x - vec4<f32>(m));
  return Online(m, a.s * exp(a.m - m) + (e.x + e.y) + (e.z + e.w));
}

fn online_add(a: Online, x: f32) -> Online {
  let m = max(a.m, x);
  return Online(m, a.s * exp(a.m - m) + exp(x - m));
}

// A lane's (count, mean, M2), and the merge of a block of k values with mean bm and M2 bm2.
struct Welford {
  c: f32,
  mean: f32,
  m2: f32,
}

fn welford_merge(a: Welford, k: f32, bm: f32, bm2: f32) -> Welford {
  let c = a.c + k;
  let d = bm - a.mean;
  let r = k / c;
  return Welford(c, a.mean + d * r, a.m2 + bm2 + d * d * a.c * r);
}

fn process_row(row_in: u32, lane: u32, lanes: u32, slot: u32) {
  // A team past the last row computes the last row again and stores nothing (its store loops run
  // 0 times; no early return, which would make the barriers after it non-uniform).
  let valid = row_in < P.rows;
  let row = min(row_in, P.rows - 1u);
  let lead = P.rank - P.rowRank;
  let ib = P.ioff + decompose(row, 0u, lead, 0u);
  let ob = decompose(row, 0u, lead, 1u);
  let n = P.n;
  if (OP <= 1u) {
    var a = Online(LOWEST, 0.0);
    if (VEC) {
      for (var j = lane; j < n / 4u; j += lanes) {
        a = online_add4(a, ldv(ib + i32(4u * j)));
      }
    } else {
      for (var j = lane; j < n; j += lanes) {
        a = online_add(a, in_at(ib, j));
      }
    }
    let m = team_max(slot, a.m);
    let s = team_sum(slot, a.s * exp(a.m - m));
    let ls = log(s);
    // s is 0 only when every entry is -inf: PyTorch gives NaN there (0/0), spelled out here.
    let all_neg_inf = s == 0.0;
    let nw = select(0u, n, valid);
    if (VEC) {
      for (var j = lane; j < nw / 4u; j += lanes) {
        let x = ldv(ib + i32(4u * j)) - vec4<f32>(m);
        let y = select(exp(x) / s, x - vec4<f32>(ls), OP == 1u);
        st4(u32(ob) / 4u + j, select(y, vec4<f32>(bitcast<f32>(NAN_BITS)), all_neg_inf));
      }
    } else {
      for (var j = lane; j < nw; j += lanes) {
        let x = in_at(ib, j) - m;
        let y = select(exp(x) / s, x - ls, OP == 1u);
        store_at(ob, j, select(y, bitcast<f32>(NAN_BITS), all_neg_inf));
      }
    }
    return;
  }
  var w = Welford(0.0, 0.0, 0.0);
  var sq = 0.0;
  if (VEC) {
    for (var j = lane; j < n / 4u; j += lanes) {
      let x = ldv(ib + i32(4u * j));
      if (OP == 2u) {
        let bm = ((x.x + x.y) + (x.z + x.w)) * 0.25;
        let d = x - vec4<f32>(bm);
        w = welford_merge(w, 4.0, bm, dot(d, d));
      } else {
        sq += dot(x, x);
      }
    }
  } else {
    for (var j = lane; j < n; j += lanes) {
      let x = in_at(ib, j);
      if (OP == 2u) {
        w = welford_merge(w, 1.0, x, 0.0);
      } else {
        sq += x * x;
      }
    }
  }
  var mean = 0.0;
  var m2 = 0.0;
  if (OP == 2u) {
    // Chan: the row's mean from the lanes' sums, then each lane's M2 moved to that mean.
    mean = team_sum(slot, w.c * w.mean) / f32(n);
    let d = w.mean - mean;
    m2 = team_sum(slot, w.m2 + w.c * d * d);
  } else {
    m2 = team_sum(slot, sq);
  }
  let inv = inverseSqrt(m2 / f32(n) + P.eps);
  let nw = select(0u, n, valid);
  if (VEC) {
    for (var j = lane; j < nw / 4u; j += lanes) {
      var y = (ldv(ib + i32(4u * j)) - vec4<f32>(mean)) * inv;
      if (P.hasWeight != 0u) {
        y *= wt4(j);
      }
      if (P.hasBias != 0u) {
        y += bs4(j);
      }
      st4(u32(ob) / 4u + j, y);
    }
  } else {
    for (var j = lane; j < nw; j += lanes) {
      var y = (in_at(ib, j) - mean) * inv;
      if (P.hasWeight != 0u) {
        y *= wt1(j);
      }
      if (P.hasBias != 0u) {
        y += bs1(j);
      }
      store_at(ob, j, y);
    }
  }
}
