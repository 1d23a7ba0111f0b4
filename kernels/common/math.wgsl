// Math helpers shared by the elementwise kernels; each mirrors a JavaScript twin in
// src/ops/elementwise_table.ts so both devices agree.

// NaN and inf through private variables: WGSL constant expressions may not hold them.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;

fn f32_nan() -> f32 {
  return bitcast<f32>(NAN_BITS);
}

fn f32_inf() -> f32 {
  return bitcast<f32>(INF_BITS);
}

fn is_nan(x: f32) -> bool {
  // Compared through the bits: a compiler may assume x != x is always false.
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// erf by Abramowitz & Stegun 7.1.26 refined: max abs error ~1.2e-7 over the real line.
fn erf_f32(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.5 * a);
  let y = 1.0 - t * exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
          t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
          t * (-0.82215223 + t * 0.17087277)))))))));
  return select(y, -y, x < 0.0);
}

// tanh that is exact at the tails (some drivers return NaN for large |x|).
fn tanh_f32(x: f32) -> f32 {
  if (abs(x) > 15.0) {
    return sign(x);
  }
  return tanh(x);
}

fn sigmoid_f32(x: f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

// pow with PyTorch's results for negative bases, zero and special exponents (WGSL's pow is
// undefined for x < 0).
fn pow_f32(x: f32, y: f32) -> f32 {
  if (y == 0.0) {
    return 1.0;
  }
  if (is_nan(x) || is_nan(y)) {
    return f32_nan();
  }
  if (x == 0.0) {
    return select(0.0, f32_inf(), y < 0.0);
  }
  let r = exp2(y * log2(abs(x)));
  if (x > 0.0) {
    return r;
  }
  if (floor(y) != y) {
    return f32_nan();
  }
  let odd = abs(y) < 16777216.0 && (i32(abs(y)) & 1) == 1;
  return select(r, -r, odd);
}

fn pow_i32(x: i32, y: i32) -> i32 {
  if (y < 0) {
    if (x == 1) {
      return 1;
    }
    if (x == -1) {
      return select(-1, 1, (y & 1) == 0);
    }
    return 0;
  }
  var r = 1;
  var b = x;
  var e = y;
  while (e > 0) {
    if ((e & 1) == 1) {
      r = r * b;
    }
    b = b * b;
    e = e >> 1;
  }
  return r;
}

fn pow_u32(x: u32, y: u32) -> u32 {
  var r = 1u;
  var b = x;
  var e = y;
  while (e > 0u) {
    if ((e & 1u) == 1u) {
      r = r * b;
    }
    b = b * b;
    e = e >> 1u;
  }
  return r;
}

fn max_f32(a: f32, b: f32) -> f32 {
  return select(max(a, b), f32_nan(), is_nan(a) || is_nan(b));
}

fn min_f32(a: f32, b: f32) -> f32 {
  return select(min(a, b), f32_nan(), is_nan(a) || is_nan(b));
}

// Philox4x32-10 (Salmon et al., SC'11), the counter-based generator PyTorch uses on GPUs.
// The 32x32->64 multiply is split into 16-bit halves (WGSL has no 64-bit integers).
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let ll = a_lo * b_lo;
  let lh = a_lo * b_hi;
  let hl = a_hi * b_lo;
  let hh = a_hi * b_hi;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}

fn philox(ctr_in: vec4<u32>, key_in: vec2<u32>) -> vec4<u32> {
  var c = ctr_in;
  var k = key_in;
  for (var r = 0u; r < 10u; r++) {
    let p0 = mulhilo(0xD2511F53u, c.x);
    let p1 = mulhilo(0xCD9E8D57u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

// A uniform float in (0, 1] from 24 random bits: exact in f32, so both devices agree bit for bit.
fn u01(x: u32) -> f32 {
  return f32((x >> 8u) + 1u) * 5.9604644775390625e-8;
}
