// scatter / scatterAdd into a copy of the input: one invocation per index element (a grid-stride
// loop), which finds its destination (the element's coordinates, with the index along `dim`) and
// writes or adds its value there with atomics, since several index elements may name one
// destination (and elements narrower than a word share one). An index outside [0, size) writes
// nothing and raises this launch's device-side assert (asserts.ts).
// Prelude (src/backends/webgpu/scatter.ts): Params P, out (array<atomic<u32>>), in0 + fn ld0(e: i32)
// -> i32 (the index), in1 + fn ld1(e: i32) -> A (the source), xpu_assert, fn index_error(j: i32),
// fn value() -> A (the scalar fill), fn put(e: u32, v: A) (store or add one element of the output dtype).
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let stride = nwg.x * nwg.y * WG;
  for (var i = (wid.x + wid.y * nwg.x) * WG + lid; i < P.n; i += stride) {
    var rem = i;
    var ei = P.ioff;
    var es = P.soff;
    var eo = 0;
    for (var d = i32(P.rank) - 1; d >= 0; d--) {
      let du = u32(d);
      let c = i32(rem % P.shape[du / 4u][du % 4u]);
      rem = rem / P.shape[du / 4u][du % 4u];
      ei += c * P.ist[du / 4u][du % 4u];
      es += c * P.sst[du / 4u][du % 4u];
      eo += c * P.ost[du / 4u][du % 4u];
    }
    let j = ld0(ei);
    if (j < 0 || j >= i32(P.size)) {
      index_error(j);
      continue;
    }
    var v = value();
    if (P.has_src != 0u) {
      v = ld1(es);
    }
    put(u32(eo + j * P.dstride), v);
  }
}
