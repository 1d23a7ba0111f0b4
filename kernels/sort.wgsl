// Stable sort of each row: one workgroup per row runs a bitonic network over the row padded to a
// power of two, on (key, position) pairs in a scratch buffer (global memory: rows of any length).
// Keys are u32s whose unsigned order is torch's order of the values (sort_key in the prelude: NaN
// largest, -0 equal to 0); equal keys are ordered by position and padding sorts last, so every
// pair of elements compares strictly and the result is the stable sort, ascending or descending.
// The output is the int32 positions in sorted order, written where the output strides put them.
// Prelude (src/backends/webgpu/sort.ts): Params P, out (u32 words), in0 + fn ld0(e: i32) -> K,
// fn sort_key(v: K) -> u32, scratch (array<u32>, 2 * p2 words per row).
override WG: u32 = 64u;

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

// Whether (ka, ia) comes before (kb, ib) in the sorted row.
fn before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
  if (ia >= P.n || ib >= P.n) {
    return ia < ib;
  }
  if (ka != kb) {
    return select((ka < kb), (ka > kb), P.desc != 0u);
  }
  return ia < ib;
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
  let p2 = P.p2;
  let base = row * p2 * 2u;
  for (var j = lid; j < p2; j += WG) {
    var key = 0u;
    if (j < n) {
      key = sort_key(ld0(ib + i32(j) * ist));
    }
    scratch[base + 2u * j] = key;
    scratch[base + 2u * j + 1u] = j;
  }
  storageBarrier();
  for (var k = 2u; k <= p2; k = k << 1u) {
    for (var j = k >> 1u; j > 0u; j = j >> 1u) {
      for (var i = lid; i < p2; i += WG) {
        let l = i ^ j;
        if (l > i) {
          let ka = scratch[base + 2u * i];
          let ia = scratch[base + 2u * i + 1u];
          let kb = scratch[base + 2u * l];
          let il = scratch[base + 2u * l + 1u];
          // Blocks with bit k clear end up in order, the others reversed, for the next merge.
          if (before(kb, il, ka, ia) == ((i & k) == 0u)) {
            scratch[base + 2u * i] = kb;
            scratch[base + 2u * i + 1u] = il;
            scratch[base + 2u * l] = ka;
            scratch[base + 2u * l + 1u] = ia;
          }
        }
      }
      storageBarrier();
    }
  }
  for (var j = lid; j < n; j += WG) {
    out[u32(ob + i32(j) * ost)] = scratch[base + 2u * j + 1u];
  }
}
