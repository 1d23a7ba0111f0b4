// Reduction over the trailing dims of a strided view: a team of TEAM lanes per output element,
// WG / TEAM outputs per workgroup (a short reduction no longer holds a whole workgroup and its
// barrier rounds: on lavapipe a workgroup is a coroutine and a barrier a switch), trees over each
// team's slots of workgroup memory.
// The input is viewed with kept dims first and reduced dims last (src/ops/reduce.ts permutes it).
// Prelude: Params P, `out` (u32 words), in0 + fn ld0(e: i32) -> ACC, alias ACC, fn to_word(ACC).
override OP: u32;      // 0 sum, 1 prod, 2 max, 3 min, 4 argmax, 5 argmin, 6 mean, 7 var
override WG: u32 = 64u;
override TEAM: u32 = 64u; // a power of two <= WG
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

// The team's total: slot is the invocation's index in the workgroup, lane its index in the team.
fn tree_sum(slot: u32, lane: u32, v: ACC) -> ACC {
  sv[slot] = v;
  workgroupBarrier();
  for (var s = TEAM / 2u; s > 0u; s = s >> 1u) {
    if (lane < s) {
      if (OP == 1u) {
        sv[slot] = sv[slot] * sv[slot + s];
      } else {
        sv[slot] = sv[slot] + sv[slot + s];
      }
    }
    workgroupBarrier();
  }
  let r = sv[slot - lane];
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
  let lane = lid % TEAM;
  let row_in = (wid.x + wid.y * nwg.x) * (WG / TEAM) + lid / TEAM;
  // A team past the last output reduces the last row again and stores nothing: no early return,
  // so every invocation reaches the same barriers.
  let valid = row_in < P.rows;
  let row = min(row_in, P.rows - 1u);
  let base = row_base(row);
  let n = P.n;
  let head = valid && lane == 0u;
  let team0 = lid - lane;
  if (OP >= 2u && OP <= 5u) {
    var best = ACC(0);
    var bi = NONE;
    // One reduced dim: a running element offset, as in the sums below.
    let one = P.rank - P.kept == 1u;
    let du1 = P.rank - 1u;
    let st1 = select(0, P.st[du1 / 4u][du1 % 4u], one);
    var e1 = base + i32(lane) * st1;
    for (var r = lane; r < n; r += TEAM) {
      var e = e1;
      if (!one) {
        e = base + red_off(r);
      }
      let v = ld0(e);
      e1 += i32(TEAM) * st1;
      if (bi == NONE || beats(v, best)) {
        best = v;
        bi = r;
      }
    }
    sv[lid] = best;
    si[lid] = bi;
    workgroupBarrier();
    for (var s = TEAM / 2u; s > 0u; s = s >> 1u) {
      if (lane < s) {
        let j = si[lid + s];
        let i = si[lid];
        if (j != NONE && (i == NONE || beats(sv[lid + s], sv[lid]) || (same(sv[lid + s], sv[lid]) && j < i))) {
          sv[lid] = sv[lid + s];
          si[lid] = j;
        }
      }
      workgroupBarrier();
    }
    if (head) {
      if (OP >= 4u) {
        out[row] = si[team0];
      } else {
        out[row] = to_word(sv[team0]);
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
    var e = base + i32(lane) * st;
    var r = lane;
    while (r < n) {
      // Blocks of 32 of the lane's elements are summed apart and then added, so a lane's rounding
      // grows with ~32 + count / 32 additions rather than its count: on a software adapter a lane
      // takes ~1024 elements, and the plain running sum of 1024 randn values missed a 1e-6
      // relative bound against float64 for ~8% of inputs (~0.3% blocked; a float32 simulation).
      var part = select(ACC(0), ACC(1), OP == 1u);
      let stop = min(n, r + 32u * TEAM);
      for (; r < stop; r += TEAM) {
        let v = ld0(e);
        e += i32(TEAM) * st;
        if (OP == 1u) {
          part = part * v;
        } else {
          part = part + v;
        }
      }
      if (OP == 1u) {
        acc = acc * part;
      } else {
        acc = acc + part;
      }
    }
  } else {
    for (var r = lane; r < n; r += TEAM) {
      let v = ld0(base + red_off(r));
      if (OP == 1u) {
        acc = acc * v;
      } else {
        acc = acc + v;
      }
    }
  }
  let total = tree_sum(lid, lane, acc);
  if (OP == 7u) {
    let mean = total / ACC(n);
    var m2 = ACC(0);
    for (var r = lane; r < n; r += TEAM) {
      let d = ld0(base + red_off(r)) - mean;
      m2 = m2 + d * d;
    }
    let t2 = tree_sum(lid, lane, m2);
    if (head) {
      out[row] = var_of(t2, f32(n) - P.correction);
    }
    return;
  }
  if (head) {
    if (OP == 6u) {
      // The mean of nothing is NaN (PyTorch); spelled out, as WGSL need not give 0/0 = NaN.
      out[row] = select(to_word(total / ACC(n)), NAN_BITS, n == 0u);
    } else {
      out[row] = to_word(total);
    }
  }
}
