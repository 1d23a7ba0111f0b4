// Reduction over the trailing dims of a strided view: one workgroup per output element.
// The input is viewed with kept dims first and reduced dims last (src/ops/reduce.ts permutes it).
// Prelude: Params P, `out` (u32 words), in0 + fn ld0(e: i32) -> ACC, alias ACC, fn to_word(ACC).
override OP: u32;      // 0 sum, 1 prod, 2 max, 3 min, 4 argmax, 5 argmin, 6 mean, 7 var
override WG: u32 = 64u;
const NONE = 0xffffffffu;
// NaN and inf through private variables: WGSL constant expressions may not hold them.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;

var<workgroup> sv: array<ACC, WG>;
var<workgroup> si: array<u32, WG>;

fn nan_of(v: ACC) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u && IS_FLOAT;
}

// a beats b: larger (max) or smaller (min), NaN beating numbers as in PyTorch.
fn beats(a: ACC, b: ACC) -> bool {
  let want_max = OP == 2u || OP == 4u;
  let strict = select((a < b), (a > b), want_max);
  return strict || (nan_of(a) && !nan_of(b));
}

fn same(a: ACC, b: ACC) -> bool {
  return a == b || (nan_of(a) && nan_of(b));
}

fn row_base(row: u32) -> i32 {
  var rem = row;
  var e = P.off;
  for (var d = i32(P.kept) - 1; d >= 0; d--) {
    let du = u32(d);
    let n = P.shape[du / 4u][du % 4u];
    e += i32(rem % n) * P.st[du / 4u][du % 4u];
    rem = rem / n;
  }
  return e;
}

fn red_off(r: u32) -> i32 {
  if (P.rank - P.kept == 1u) {
    // One reduced dim (the common case after merging): no division.
    let du = P.rank - 1u;
    return i32(r) * P.st[du / 4u][du % 4u];
  }
  var rem = r;
  var e = 0;
  for (var d = i32(P.rank) - 1; d >= i32(P.kept); d--) {
    let du = u32(d);
    let n = P.shape[du / 4u][du % 4u];
    e += i32(rem % n) * P.st[du / 4u][du % 4u];
    rem = rem / n;
  }
  return e;
}

fn tree_sum(lid: u32, v: ACC) -> ACC {
  sv[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      if (OP == 1u) {
        sv[lid] = sv[lid] * sv[lid + s];
      } else {
        sv[lid] = sv[lid] + sv[lid + s];
      }
    }
    workgroupBarrier();
  }
  let r = sv[0];
  workgroupBarrier();
  return r;
}

// Sum of squared deviations over max(0, n - correction), as PyTorch clamps the divisor; a zero
// divisor gives inf (NaN where m2 is 0 or NaN), written out since WGSL need not produce them.
fn var_of(m2: ACC, divisor: f32) -> u32 {
  if (divisor > 0.0) {
    return to_word(m2 / ACC(divisor));
  }
  return select(INF_BITS, NAN_BITS, !(f32(m2) > 0.0));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) {
    return;
  }
  let base = row_base(row);
  let n = P.n;
  if (OP >= 2u && OP <= 5u) {
    var best = ACC(0);
    var bi = NONE;
    for (var r = lid; r < n; r += WG) {
      let v = ld0(base + red_off(r));
      if (bi == NONE || beats(v, best)) {
        best = v;
        bi = r;
      }
    }
    sv[lid] = best;
    si[lid] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
      if (lid < s) {
        let j = si[lid + s];
        let i = si[lid];
        if (j != NONE && (i == NONE || beats(sv[lid + s], sv[lid]) || (same(sv[lid + s], sv[lid]) && j < i))) {
          sv[lid] = sv[lid + s];
          si[lid] = j;
        }
      }
      workgroupBarrier();
    }
    if (lid == 0u) {
      if (OP >= 4u) {
        out[row] = si[0];
      } else {
        out[row] = to_word(sv[0]);
      }
    }
    return;
  }
  var acc = select(ACC(0), ACC(1), OP == 1u);
  if (P.rank - P.kept == 1u) {
    // One reduced dim (the common case after merging): a running element offset, so the loop
    // does no index math (measured ~1.6x on lavapipe, whose unoptimised test shaders redo it all).
    let du = P.rank - 1u;
    let st = P.st[du / 4u][du % 4u];
    var e = base + i32(lid) * st;
    for (var r = lid; r < n; r += WG) {
      let v = ld0(e);
      e += i32(WG) * st;
      if (OP == 1u) {
        acc = acc * v;
      } else {
        acc = acc + v;
      }
    }
  } else {
    for (var r = lid; r < n; r += WG) {
      let v = ld0(base + red_off(r));
      if (OP == 1u) {
        acc = acc * v;
      } else {
        acc = acc + v;
      }
    }
  }
  let total = tree_sum(lid, acc);
  if (OP == 7u) {
    let mean = total / ACC(n);
    var m2 = ACC(0);
    for (var r = lid; r < n; r += WG) {
      let d = ld0(base + red_off(r)) - mean;
      m2 = m2 + d * d;
    }
    let t2 = tree_sum(lid, m2);
    if (lid == 0u) {
      out[row] = var_of(t2, f32(n) - P.correction);
    }
    return;
  }
  if (lid == 0u) {
    if (OP == 6u) {
      // The mean of nothing is NaN (PyTorch); spelled out, as WGSL need not give 0/0 = NaN.
      out[row] = select(to_word(total / ACC(n)), NAN_BITS, n == 0u);
    } else {
      out[row] = to_word(total);
    }
  }
}
