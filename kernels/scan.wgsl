// Inclusive scans along rows (cumsum, cumprod): one workgroup per row. The row is the last dim of
// a strided view; the other dims index rows (decomposed as rows.wgsl does), and each element is
// written where the output strides put it. Invocation t scans its own contiguous chunk of the row
// (a chunk total first), the workgroup scans the 64 chunk totals (Hillis-Steele in workgroup
// memory), and each invocation rescans its chunk from its prefix, storing as it goes: two reads
// per element, O(n) work, a row of any length in one launch.
// Prelude (src/backends/webgpu/scan.ts): Params P, out (32-bit words), in0 + fn ld0(e: i32) -> ACC,
// alias ACC, fn to_word(ACC) -> u32.
override OP: u32;      // 0 sum, 1 prod
override WG: u32 = 64u;

var<workgroup> part: array<ACC, WG>;

fn ident() -> ACC {
  return select(ACC(0), ACC(1), OP == 1u);
}

fn combine(a: ACC, b: ACC) -> ACC {
  return select(a + b, a * b, OP == 1u);
}

// The storage offset of row `row` along the leading dims: which = 0 input, 1 output.
fn row_offset(row: u32, which: u32) -> i32 {
  var rem = row;
  var e = 0;
  for (var d = i32(P.rank) - 2; d >= 0; d--) {
    let du = u32(d);
    let n = P.shape[du / 4u][du % 4u];
    let s = select(P.ost[du / 4u][du % 4u], P.ist[du / 4u][du % 4u], which == 0u);
    e += i32(rem % n) * s;
    rem = rem / n;
  }
  return e;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) {
    return;
  }
  let last = P.rank - 1u;
  let ist = P.ist[last / 4u][last % 4u];
  let ost = P.ost[last / 4u][last % 4u];
  let ib = P.ioff + row_offset(row, 0u);
  let ob = row_offset(row, 1u);
  let n = P.n;
  let chunk = (n + WG - 1u) / WG;
  let start = min(lid * chunk, n);
  let end = min(start + chunk, n);
  var acc = ident();
  for (var j = start; j < end; j++) {
    acc = combine(acc, ld0(ib + i32(j) * ist));
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = 1u; s < WG; s = s << 1u) {
    let v = select(ident(), part[select(0u, lid - s, lid >= s)], lid >= s);
    workgroupBarrier();
    part[lid] = combine(v, part[lid]);
    workgroupBarrier();
  }
  var run = select(ident(), part[select(0u, lid - 1u, lid > 0u)], lid > 0u);
  for (var j = start; j < end; j++) {
    run = combine(run, ld0(ib + i32(j) * ist));
    out[u32(ob + i32(j) * ost)] = to_word(run);
  }
}
