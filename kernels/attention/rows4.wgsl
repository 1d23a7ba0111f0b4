// Vector loads shared by the attention kernels (flash_prefill, flash_decode): elements d .. d+3
// of a q, k or v row (element stride st, from element index base), zeros from n on. The full
// case is four plain loads; only a row's tail takes the checked loop.
fn row4_q(base: i32, st: i32, d: u32, n: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (d + i < n) {
      v[i] = ld_q(base + i32(d + i) * st);
    }
  }
  return v;
}

fn row4_k(base: i32, st: i32, d: u32, n: u32) -> vec4<f32> {
  let a = base + i32(d) * st;
  if (d + 3u < n) {
    return vec4<f32>(ld_k(a), ld_k(a + st), ld_k(a + 2 * st), ld_k(a + 3 * st));
  }
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (d + i < n) {
      v[i] = ld_k(a + i32(i) * st);
    }
  }
  return v;
}

fn row4_v(base: i32, st: i32, d: u32, n: u32) -> vec4<f32> {
  let a = base + i32(d) * st;
  if (d + 3u < n) {
    return vec4<f32>(ld_v(a), ld_v(a + st), ld_v(a + 2 * st), ld_v(a + 3 * st));
  }
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (d + i < n) {
      v[i] = ld_v(a + i32(i) * st);
    }
  }
  return v;
}
