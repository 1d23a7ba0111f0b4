// The fused optimizer step of a parameter group (src/backends/webgpu/optim.ts): one launch updates
// every element of the group. The launcher gathered the parameters and their gradients into flat
// buffers (pf, gf) at the offsets their optimizer state has in the flat state buffers (s0, s1, s2);
// it scatters pf back into the parameters afterwards. An element finds its parameter (segment) in
// the table: 4 words per segment (start, end, stepSize bits or the first-step flag, sqrt(1 -
// beta2^step) bits), sorted by start, then one word per workgroup: the first segment ending past
// the workgroup's first element (no search per element, no barrier). Elements of parameters
// without a gradient this step are in no segment and are left alone. The arithmetic is optimStepTwin's (src/backends/cpu/optim.ts):
// torch 1.13's single-tensor SGD / Adam / AdamW, op by op in f32.
// Prelude: Params P (n, nseg, the f32 hyper-parameters), bindings pf (rw), gf, seg, s0, s1, s2 (rw).
override RULE: u32;      // 0 sgd, 1 adam, 2 adamw
override AMSGRAD: u32;
override NESTEROV: u32;
override MAXIMIZE: u32;
override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  let e = w * WG + lid;
  if (e >= P.n) { return; }
  // The launcher's hint for this workgroup: the first segment ending past its first element; an
  // invocation steps forward from it (0 steps inside a large parameter, a few across small ones).
  var k = seg[4u * P.nseg + w];
  while (k < P.nseg && seg[4u * k + 1u] <= e) { k++; }
  if (k >= P.nseg || seg[4u * k] > e) { return; }
  let sg = vec4<u32>(seg[4u * k], seg[4u * k + 1u], seg[4u * k + 2u], seg[4u * k + 3u]);
  var p = bitcast<f32>(pf[e]);
  var d = bitcast<f32>(gf[e]);
  if (MAXIMIZE == 1u) { d = -d; }
  if (RULE == 0u) {
    if (P.wd != 0.0) { d = d + P.wd * p; }
    if (P.mom != 0.0) {
      var buf = d;
      if (sg.z == 0u) { buf = bitcast<f32>(s0[e]) * P.mom + P.damp1 * d; }
      s0[e] = bitcast<u32>(buf);
      if (NESTEROV == 1u) { d = d + P.mom * buf; } else { d = buf; }
    }
    pf[e] = bitcast<u32>(p + (-P.lr) * d);
    return;
  }
  if (RULE == 2u) { p = p * P.decay; } else if (P.wd != 0.0) { d = d + P.wd * p; }
  let m = bitcast<f32>(s0[e]) * P.b1 + P.omb1 * d;
  let v = bitcast<f32>(s1[e]) * P.b2 + P.omb2 * (d * d);
  s0[e] = bitcast<u32>(m);
  s1[e] = bitcast<u32>(v);
  var vh = v;
  if (AMSGRAD == 1u) {
    let old = bitcast<f32>(s2[e]);
    // torch.maximum: NaN in either operand wins.
    vh = select(max(old, v), f32_nan(), is_nan(old) || is_nan(v));
    s2[e] = bitcast<u32>(vh);
  }
  let denom = sqrt(vh) / bitcast<f32>(sg.w) + P.eps;
  pf[e] = bitcast<u32>(p + (-bitcast<f32>(sg.z)) * (m / denom));
}
