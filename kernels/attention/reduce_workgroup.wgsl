// Workgroup-wide max and sum through workgroup memory (a tree over WG, a power of two).
struct Lane {
  @builtin(local_invocation_index) lid: u32,
}

var<workgroup> red: array<f32, WG>;

fn red_tree(lane: Lane, v: f32, is_max: bool) -> f32 {
  red[lane.lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lane.lid < s) {
      red[lane.lid] = select(red[lane.lid] + red[lane.lid + s], max(red[lane.lid], red[lane.lid + s]), is_max);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn red_max(lane: Lane, v: f32) -> f32 {
  return red_tree(lane, v, true);
}

fn red_sum(lane: Lane, v: f32) -> f32 {
  return red_tree(lane, v, false);
}
