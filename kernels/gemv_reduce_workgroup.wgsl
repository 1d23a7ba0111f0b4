// gemv.wgsl's reduction through workgroup memory, for adapters without subgroups: every
// invocation stores its V partial sums, one barrier, then the invocation that stores result v adds
// up its WG partials. One barrier instead of a log2(WG)-step tree, and a small loop LLVM does not
// need to unroll (a fully unrolled tree over V vec4s took lavapipe tens of seconds to compile).
// From the prelude: RED_LEN = WG * V.
struct GemvLane {
  @builtin(local_invocation_index) li: u32,
}

var<workgroup> red: array<vec4<f32>, RED_LEN>; // [V][WG]

fn gemv_reduce(lane: GemvLane, acc: ptr<function, GemvAcc>) {
  for (var v = 0u; v < V; v++) {
    red[v * WG + lane.li] = (*acc)[v];
  }
  workgroupBarrier();
}

fn gemv_total(lane: GemvLane, v: u32) -> vec4<f32> {
  var t = vec4<f32>(0.0);
  for (var w = 0u; w < WG; w++) {
    t += red[v * WG + w];
  }
  return t;
}
