// Merges the split-K partials of flash_decode.wgsl: for each query row, M = max of the chunks'
// maxima, out = sum_c o_c * exp(m_c - M) / sum_c l_c * exp(m_c - M). A row whose chunks are all
// masked (M at MASKED) gives 0; a row with a chunk whose m is NaN (a NaN score, see
// flash_decode.wgsl) gives NaN. One workgroup per row, invocations over the output dims.
// From the prelude: Params P (P.rt.y = EV); out (f32 [rows, EV]); in0 (the partials); consts WG, MASKED.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.groups) {
    return;
  }
  let ev = P.rt.y;
  let stride = ev + 2u;
  let first = row * P.splits;
  var mx = MASKED;
  var nan_row = false;
  for (var c = 0u; c < P.splits; c++) {
    let mc = bitcast<f32>(in0[(first + c) * stride]);
    nan_row = nan_row || att_is_nan(mc);
    mx = max(mx, mc);
  }
  var l = 0.0;
  for (var c = 0u; c < P.splits; c++) {
    let mc = bitcast<f32>(in0[(first + c) * stride]);
    if (mc > MASKED) {
      l += bitcast<f32>(in0[(first + c) * stride + 1u]) * exp(mc - mx);
    }
  }
  let inv = select(1.0 / l, 0.0, l == 0.0);
  for (var d = lid; d < ev; d += WG) {
    var acc = 0.0;
    for (var c = 0u; c < P.splits; c++) {
      let mc = bitcast<f32>(in0[(first + c) * stride]);
      if (mc > MASKED) {
        acc += bitcast<f32>(in0[(first + c) * stride + 2u + d]) * exp(mc - mx);
      }
    }
    out[row * ev + d] = select(bitcast<u32>(acc * inv), ATT_NAN_BITS, nan_row);
  }
}
