// gemv.wgsl's reduction with subgroup operations (only when the device has `subgroups`): a
// subgroupAdd per partial sum, one workgroup-memory slot per subgroup, one barrier; then the
// invocation that stores result v adds up the subgroups' partials (one when WG is the subgroup
// size).
// From the prelude: `enable subgroups;`, RED_LEN = (WG / smallest subgroup size) * V.
struct GemvLane {
  @builtin(local_invocation_index) li: u32,
  @builtin(subgroup_invocation_id) sgi: u32,
  @builtin(subgroup_id) sgid: u32,
  @builtin(num_subgroups) nsg: u32,
}

var<workgroup> red: array<vec4<f32>, RED_LEN>; // [subgroup][V]

fn gemv_reduce(lane: GemvLane, acc: ptr<function, GemvAcc>) {
  for (var v = 0u; v < V; v++) {
    let s = subgroupAdd((*acc)[v]);
    if (lane.sgi == 0u) {
      red[lane.sgid * V + v] = s;
    }
  }
  workgroupBarrier();
}

fn gemv_total(lane: GemvLane, v: u32) -> vec4<f32> {
  var t = red[v];
  for (var w = 1u; w < lane.nsg; w++) {
    t += red[w * V + v];
  }
  return t;
}
