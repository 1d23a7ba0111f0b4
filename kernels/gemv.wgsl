// Small-M GEMM (M <= 8: decode steps, GEMV): one workgroup per COLS output columns, for all
// GEMV_M rows at once, with K split across the workgroup's WG invocations and the partial sums
// reduced at the end (split-K as in jax-js's tuner "group" and ggml's mul_mat_vec: one output
// per invocation would leave most of a wide GPU idle, and read the weight with poor locality).
//
// Same hooks and uniforms as gemm.wgsl (mm_batch, mm_readA, mm_readB, mm_write, B_ALONG_K).
// From the prelude: WG, COLS (multiple of 4), GEMV_M (rows computed: M rounded up to 1, 2, 4 or
// 8, so 4 pipelines serve every M; rows past M are clamped reads and skipped stores); and one
// reduction fragment defining struct GemvLane (the invocation's own builtins, kept apart from the
// workgroup id so the uniformity analysis sees the latter as uniform), fn gemv_reduce(lane, &acc)
// (every invocation, in uniform control flow) and fn gemv_total(lane, v) (the workgroup's sum v,
// after gemv_reduce): gemv_reduce_workgroup.wgsl (portable) or gemv_reduce_subgroup.wgsl (behind
// the `subgroups` feature).
const C4: u32 = COLS / 4u;
const V: u32 = GEMV_M * C4; // vec4 results per workgroup, index r * C4 + c4
alias GemvAcc = array<vec4<f32>, V>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, lane: GemvLane) {
  let g = wid.x + wid.y * nwg.x;
  let tile = g % P.tilesN;
  let batch = g / P.tilesN;
  if (batch >= P.batch) {
    return; // a padding workgroup of the folded grid (uniform across the workgroup)
  }
  let bt = mm_batch(batch);
  let col0 = tile * COLS;
  var acc: GemvAcc;
  // Invocation i takes k = 4i, 4i + 4*WG, ...: neighbours read neighbouring k (coalesced on a
  // GPU, one vector load per SIMD row on lavapipe) when B is contiguous along k.
  for (var k = lane.li * 4u; k < P.k; k += WG * 4u) {
    var a: array<vec4<f32>, GEMV_M>;
    for (var r = 0u; r < GEMV_M; r++) {
      a[r] = mm_readA(bt, r, k);
    }
    if (B_ALONG_K) {
      for (var c = 0u; c < COLS; c++) {
        let b = mm_readB(bt, k, col0 + c);
        for (var r = 0u; r < GEMV_M; r++) {
          acc[r * C4 + c / 4u][c % 4u] += dot(a[r], b);
        }
      }
    } else {
      for (var kk = 0u; kk < 4u; kk++) {
        for (var c = 0u; c < C4; c++) {
          let b = mm_readB(bt, k + kk, col0 + 4u * c);
          for (var r = 0u; r < GEMV_M; r++) {
            acc[r * C4 + c] = fma(vec4<f32>(a[r][kk]), b, acc[r * C4 + c]);
          }
        }
      }
    }
  }
  gemv_reduce(lane, &acc);
  // V may exceed WG (8 rows x 8 columns on an 8-wide workgroup): stride over the results.
  for (var v = lane.li; v < V; v += WG) {
    mm_write(bt, v / C4, col0 + 4u * (v % C4), gemv_total(lane, v));
  }
}
