// Workgroup-wide max and sum with subgroup operations (prelude: `enable subgroups;`): one
// subgroupMax / subgroupAdd, one slot per subgroup in workgroup memory, one barrier.
// RED_SLOTS = WG / the adapter's smallest subgroup size.
struct Lane {
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sgi: u32,
  @builtin(subgroup_size) sgs: u32,
}

var<workgroup> red: array<f32, RED_SLOTS>;

fn red_max(lane: Lane, v: f32) -> f32 {
  let s = subgroupMax(v);
  if (lane.sgi == 0u) {
    red[lane.lid / lane.sgs] = s;
  }
  workgroupBarrier();
  var r = red[0];
  for (var w = 1u; w < WG / lane.sgs; w++) {
    r = max(r, red[w]);
  }
  workgroupBarrier();
  return r;
}

fn red_sum(lane: Lane, v: f32) -> f32 {
  let s = subgroupAdd(v);
  if (lane.sgi == 0u) {
    red[lane.lid / lane.sgs] = s;
  }
  workgroupBarrier();
  var r = red[0];
  for (var w = 1u; w < WG / lane.sgs; w++) {
    r += red[w];
  }
  workgroupBarrier();
  return r;
}
