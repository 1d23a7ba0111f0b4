// Elementwise "map" kernel: every elementwise, broadcasting, casting, creation and gather op.
// One invocation writes one 32-bit output word: 1 element for 32-bit dtypes, 2 for float16,
// 4 for int8/uint8/bool. All tensors are bound as raw u32 words, so every dtype works on every
// adapter and sub-word dtypes stay packed in memory.
//
// The prelude (src/backends/webgpu/codegen.ts) defines: struct Params P, the bindings `out` and
// in0..inN, EPW (elements per word), alias R (the output's compute type), fn element(i) -> R
// (index math + the op's body) and fn store_word(w, v).
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let word = (wid.x + wid.y * nwg.x) * WG + lid;
  let first = word * EPW;
  if (first >= P.numel) {
    return;
  }
  var v: array<R, EPW>;
  for (var j = 0u; j < EPW; j++) {
    let i = first + j;
    if (i < P.numel) {
      v[j] = element(i);
    } else {
      v[j] = R(0);
    }
  }
  store_word(word, v);
}
