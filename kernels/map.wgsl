// Elementwise "map" kernel: every elementwise, broadcasting, casting, creation and gather op.
// One invocation writes one 32-bit output word: 1 element for 32-bit dtypes, 2 for float16,
// 4 for int8/uint8/bool. All tensors are bound as raw u32 words, so every dtype works on every
// adapter and sub-word dtypes stay packed in memory.
//
// The prelude (src/backends/webgpu/codegen.ts) defines: struct Params P, the bindings `out` and
// in0..inN, EPW (elements per word), alias R (the output's compute type), fn element(i) -> R
// (index math unrolled for the rank + the op's body) and fn write_word(w).
override WG: u32 = 64u;

// A grid-stride loop: the launch is capped at a few thousand workgroups (see MAP_MAX_GROUPS in
// src/backends/webgpu/backend.ts) and each invocation walks words `stride` apart, so neighbouring
// invocations still touch neighbouring words (coalesced on GPUs) while per-workgroup launch costs
// (high on lavapipe, where workgroups are coroutines) are paid far fewer times.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let stride = nwg.x * nwg.y * WG;
  let words = (P.numel + EPW - 1u) / EPW;
  for (var word = (wid.x + wid.y * nwg.x) * WG + lid; word < words; word += stride) {
    write_word(word);
  }
}
