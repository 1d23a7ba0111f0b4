// Math helpers shared by the elementwise kernels; each mirrors a JavaScript twin in
// src/ops/elementwise_table.ts so both devices agree.
//
// Why not the builtins: WGSL leaves their accuracy to the adapter, and lavapipe's are far off in
// places (log is 7000 ulp off near 1 and -88 at 1e-40, exp 60 ulp at -80, tanh(1e-10) = 3e-8,
// sin(1e10) = -1, pow through exp2(y log2 x) 8 ulp at x^2). WGSL also lets a compiler assume that
// no NaN or inf exists, and Mesa does: it folds x != x to false and (a + b) - a to b. So the
// functions below use only rewrites-proof exactness: splits by masking bits, products of short
// mantissas, Sterbenz subtractions and integer arithmetic; NaN and inf are tested on the bits.
// Each is within a few ulp of float64 (tests/elementwise_accuracy.test.ts measures it).

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

fn is_inf(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

fn sign_bit(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x80000000u) != 0u;
}

// |x| with the sign bit of s (so -0 counts as negative).
fn copy_sign(x: f32, s: f32) -> f32 {
  return bitcast<f32>((bitcast<u32>(x) & 0x7fffffffu) | (bitcast<u32>(s) & 0x80000000u));
}

// 2^k for k in [-126, 127], from the bits.
fn pow2i(k: i32) -> f32 {
  return bitcast<f32>(u32(k + 127) << 23u);
}

// x * 2^k for x near 1, in three exact steps of at most 2^126 each, the last one the only
// rounding when the result is subnormal. Beyond |k| = 378 the result is 0 or inf anyway.
fn scale2(x: f32, k: i32) -> f32 {
  let kk = clamp(k, -378, 378);
  let k1 = kk / 3;
  let k2 = (kk - k1) / 2;
  return x * pow2i(k1) * pow2i(k2) * pow2i(kk - k1 - k2);
}

// v rounded to the nearest integer (ties to even), as an i32, for |v| < 2^22: adding 1.5 * 2^23
// leaves the rounded value in the low mantissa bits. On lavapipe round() plus WGSL's saturating
// i32() cost about three times the rest of exp (bench/tools/unary_probe.ts); this is an add and an
// integer subtract. (No float subtract of the constant: Mesa may fold (v + c) - c to v.)
fn round_i(v: f32) -> i32 {
  return bitcast<i32>(v + 12582912.0) - 0x4b400000;
}

// x rounded to its top 12 significant bits; x - split_hi(x) is exact and fits in 12 bits too,
// so the product of any two such halves is exact in f32.
fn split_hi(x: f32) -> f32 {
  return bitcast<f32>((bitcast<u32>(x) + 0x800u) & 0xfffff000u);
}

// a * b - p exactly, for p = a * b rounded (Dekker), when nothing overflows or underflows.
fn two_prod_err(a: f32, b: f32, p: f32) -> f32 {
  let ah = split_hi(a);
  let al = a - ah;
  let bh = split_hi(b);
  let bl = b - bh;
  return (((ah * bh - p) + ah * bl) + al * bh) + al * bl;
}

const LN2_HI: f32 = 0.693145751953125;      // ln 2 to 15 bits: k * LN2_HI is exact for |k| < 512
const LN2_LO: f32 = 1.428606765330187e-06;  // ln 2 - LN2_HI
const INV_LN2: f32 = 1.4426950216293335;
const SQRT2: f32 = 1.4142135381698608;
const SQRT1_2_HI: f32 = 0.7071067690849304;
const SQRT1_2_LO: f32 = 1.2101617485882343e-08;  // 1/sqrt(2) - SQRT1_2_HI
const TWO_OVER_SQRT_PI: f32 = 1.128379225730896;
const TWO_OVER_SQRT_PI_LO: f32 = -5.8635382771399236e-08;  // 2/sqrt(pi) - TWO_OVER_SQRT_PI
// gelu_tanh's 2 sqrt(2/pi) and 2 sqrt(2/pi) 0.044715, each as two f32s.
const GELU_C1_HI: f32 = 1.5957691669464111;
const GELU_C1_LO: f32 = -4.534068054340423e-08;
const GELU_C3_HI: f32 = 0.07135481387376785;
const GELU_C3_LO: f32 = 2.3988324659995897e-09;

// s e^(hi + lo) within ~1 ulp, for |lo| <= ulp(hi) (a double-f32 exponent; lo = 0 for plain exp)
// and s a scale taken in before 2^k (one rounding of a subnormal result, not two):
// hi = k ln2 + r (Cody-Waite: k * LN2_HI and hi - k * LN2_HI are exact), e^(r + lo) by its
// Taylor series to r^7 (|r| <= 0.35: truncation 6e-9), times 2^k in two exact steps. Without
// branches (a branch per special case made it 3x slower on lavapipe): the input is clamped to
// where e^x over- or underflows, and the special cases are selected at the end.
fn exp_scaled(hi: f32, lo: f32, s: f32) -> f32 {
  let x = clamp(hi, -104.0, 89.0);
  let ki = round_i(x * INV_LN2);
  let k = f32(ki);
  let r = ((x - k * LN2_HI) - k * LN2_LO) + lo;
  let q = r + r * r * (0.5 + r * (0.1666666716337204 + r * (0.0416666679084301 + r * (0.008333333767950535 +
          r * (0.0013888889225199819 + r * 0.00019841270113829523)))));
  let k1 = ki >> 1u;  // floor(ki / 2): both halves in [-75, 64]
  let y = s * (1.0 + q) * pow2i(k1) * pow2i(ki - k1);
  return select(select(y, copy_sign(0.0, s), hi < -104.0), hi, is_nan(hi));
}

fn exp_dd(hi: f32, lo: f32) -> f32 {
  return exp_scaled(hi, lo, 1.0);
}

fn exp_f32(x: f32) -> f32 {
  return exp_dd(x, 0.0);
}

// 2^x within ~1 ulp: x = k + r exactly, 2^r = e^(r ln2) by its Taylor series to r^7.
fn exp2_f32(x: f32) -> f32 {
  if (is_nan(x)) {
    return x;
  }
  if (x > 129.0) {
    return f32_inf();
  }
  if (x < -151.0) {
    return 0.0;
  }
  let k = round(x);
  let r = x - k;
  let p = 1.0 + r * (0.6931471824645996 + r * (0.24022650718688965 + r * (0.05550410971045494 + r * (0.009618128649890423 +
          r * (0.0013333557872101665 + r * (0.0001540352968731895 + r * 1.5252733646775596e-05))))));
  return scale2(p, i32(k));
}

// Finite x > 0 as m * 2^k with m in [sqrt(1/2), sqrt(2)]; subnormals are scaled by 2^24 first
// (lavapipe's log2 reads a subnormal's exponent as -127: log(1e-40) = -88 instead of -92.1).
struct Frexp {
  m: f32,
  k: i32,
}

fn frexp_f32(x: f32) -> Frexp {
  var b = bitcast<u32>(x);
  var k = -127;
  if (b < 0x00800000u) {
    b = bitcast<u32>(x * 16777216.0);
    k = -151;
  }
  k += i32(b >> 23u);
  var m = bitcast<f32>((b & 0x007fffffu) | 0x3f800000u);
  if (m > SQRT2) {
    m = m * 0.5;
    k += 1;
  }
  return Frexp(m, k);
}

// log(m) for m in [sqrt(1/2), sqrt(2)]: with f = m - 1 (exact) and s = f / (2 + f),
// log(m) = 2 atanh(s) = f - f^2/2 + s (f^2/2 + R), R = sum_{k>=1} 2 s^2k / (2k + 1), so the
// leading f is exact and the rest a small correction (|s| <= 0.172: 5 terms, error 1e-10).
fn log_m(m: f32) -> f32 {
  let f = m - 1.0;
  let s = f / (2.0 + f);
  let z = s * s;
  let R = z * (0.6666666865348816 + z * (0.4000000059604645 + z * (0.2857142984867096 + z * (0.2222222238779068 +
          z * 0.1818181872367859))));
  let hfsq = 0.5 * f * f;
  return f - (hfsq - s * (hfsq + R));
}

// Natural log within ~1 ulp: log(m 2^k) = k ln2 + log(m), k * LN2_HI exact. The special cases
// (x <= 0, inf, NaN) are selected at the end rather than branched on (no divergence).
fn log_f32(x: f32) -> f32 {
  let d = frexp_f32(select(x, 1.0, !(x > 0.0) || is_inf(x)));
  let k = f32(d.k);
  let f = d.m - 1.0;
  let s = f / (2.0 + f);
  let z = s * s;
  let R = z * (0.6666666865348816 + z * (0.4000000059604645 + z * (0.2857142984867096 + z * (0.2222222238779068 +
          z * 0.1818181872367859))));
  let hfsq = 0.5 * f * f;
  let y = k * LN2_HI + (f - (hfsq - (s * (hfsq + R) + k * LN2_LO)));
  let special = select(select(f32_nan(), -f32_inf(), x == 0.0), x, is_inf(x) && x > 0.0);
  return select(y, special, !(x > 0.0) || is_inf(x) || is_nan(x));
}

// 1 / sqrt(x) within 1 ulp, with rsqrt(-0) = -inf as in torch. Mesa turns 1.0 / sqrt(x) into
// its rsq (1.5 ulp on lavapipe, no better than inverseSqrt), so: x = m 4^j with m in [1, 4),
// sqrt(1 / m) 2^-j (two roundings of which the first is halved by the sqrt, <= 0.75 ulp).
fn rsqrt_f32(x: f32) -> f32 {
  if (x == 0.0) {
    return copy_sign(f32_inf(), x);
  }
  if (is_nan(x) || x < 0.0) {
    return f32_nan();
  }
  if (is_inf(x)) {
    return 0.0;
  }
  var b = bitcast<u32>(x);
  var adj = 0;
  if (b < 0x00800000u) {
    b = bitcast<u32>(x * 16777216.0);
    adj = 12;
  }
  let j = (i32(b >> 23u) - 127) >> 1u;
  let m = bitcast<f32>(b - (u32(2 * j) << 23u));
  return sqrt(1.0 / m) * pow2i(adj - j);
}

// tanh within ~2 ulp: an odd polynomial below 0.625 (Chebyshev fit of (tanh(x) - x) / x^3 in
// x^2, relative error 5e-9; tanh(x) = x for tiny x, no cancellation), 1 - 2 / (e^2|x| + 1) above,
// and 1 from 9.1 on (where tanh rounds to 1).
fn tanh_f32(x: f32) -> f32 {
  if (is_nan(x)) {
    return x;
  }
  let a = abs(x);
  var t = 1.0;
  if (a < 0.625) {
    let z = a * a;
    t = a + a * z * (-0.3333333432674408 + z * (0.13333304226398468 + z * (-0.053959257900714874 + z * (0.02176891826093197 +
        z * (-0.008343945257365704 + z * 0.002292744815349579)))));
  } else if (a < 9.1) {
    t = 1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0);
  }
  return copy_sign(t, x);
}

// x sigmoid(x); below -20, 1 + e^x is 1 to 2e-9 and silu is x e^x, taken in one rounding so that
// its subnormal tail (x < -87) keeps its precision. silu(-inf) = -inf * 0 = NaN, as torch.
fn silu_f32(x: f32) -> f32 {
  if (x < -20.0) {
    if (is_inf(x)) {
      return f32_nan();
    }
    return exp_scaled(x, 0.0, x);
  }
  return x * sigmoid_f32(x);
}

// 1 / (1 + e^-x), with e^-|x| (never overflows): e / (1 + e) for x < 0 keeps the small tail,
// subnormals included.
fn sigmoid_f32(x: f32) -> f32 {
  let e = exp_f32(-abs(x));
  return select(1.0 / (1.0 + e), e / (1.0 + e), x < 0.0);
}

// erf(a) for |a| < 0.5: a (2/sqrt(pi) + z P(z)), z = a^2 (Chebyshev fit, relative error 1e-11);
// 2/sqrt(pi) is split in two f32s so that its rounding (0.9 ulp) does not reach the result.
fn erf_small(a: f32) -> f32 {
  let z = a * a;
  let p = a * TWO_OVER_SQRT_PI;
  // (written so that Mesa cannot factor a * hi + a * lo back into a * (hi + lo))
  return p + (two_prod_err(a, TWO_OVER_SQRT_PI, p) + a * (TWO_OVER_SQRT_PI_LO + z * (-0.37612637877464294 +
         z * (0.11283773928880692 + z * (-0.02686314284801483 + z * (0.005200413521379232 + z * -0.0007694534142501652))))));
}

// s * erfc(a + da) for a >= 0, where da is a's own rounding error when a is a rounded product
// (0 otherwise) and s a scale applied before the last rounding (so a subnormal result is rounded
// once). Below 0.5, 1 - erf(a). Above, erfc(a) = e^-a^2 G(a) with G = erfc e^(a^2) smooth, fitted
// in three pieces (Chebyshev, relative error < 6e-9): polynomials in a - 0.875 on [0.5, 1.25) and
// a - 1.875 on [1.25, 2.5), and G(a) a in 1/a^2 from 2.5 to 10.1 (erfc is 0 in f32 beyond). e^-a^2 =
// e^(-z^2 + (z - a)(z + a)) with z = a to 12 bits, z^2 exact, as a double-f32 exponent: a^2
// rounded would cost 2 a^2 ulp (18 at a = 3). Branch-free (the pieces by selected coefficients):
// on lavapipe every branch a vector of lanes takes is paid for.
fn erfc_core(a: f32, da: f32, s: f32) -> f32 {
  let p2 = a >= 1.25;
  let p3 = a >= 2.5;
  let v = select(select(a - 0.875, a - 1.875, p2), 1.0 / (a * a), p3);
  var g = select(select(0.0, -2.531701829866506e-05, p2), 0.0, p3);
  g = select(select(0.0016598690999671817, 8.475362847093493e-05, p2), 91.05290985107422, p3) + v * g;
  g = select(select(-0.004262871574610472, -0.0002501841518096626, p2), -87.44446563720703, p3) + v * g;
  g = select(select(0.00991540215909481, 0.0007790373638272285, p2), 40.2401123046875, p3) + v * g;
  g = select(select(-0.022905251011252403, -0.002343377796933055, p2), -12.685836791992188, p3) + v * g;
  g = select(select(0.049828704446554184, 0.006738379597663879, p2), 3.4874911308288574, p3) + v * g;
  g = select(select(-0.10091520100831985, -0.018492022529244423, p2), -1.0502911806106567, p3) + v * g;
  g = select(select(0.18795691430568695, 0.048148613423109055, p2), 0.4229830205440521, p3) + v * g;
  g = select(select(-0.3158338963985443, -0.11801671981811523, p2), -0.2820930480957031, p3) + v * g;
  g = select(select(0.4643115699291229, 0.2694299817085266, p2), 0.5641895532608032, p3) + v * g;
  g = g * select(1.0, 1.0 / a, p3);
  let z = split_hi(a);
  let big = exp_scaled(-(z * z), (z - a) * (z + a) - 2.0 * a * da, g * s);
  let small = s * (1.0 - (erf_small(a) + TWO_OVER_SQRT_PI * da));
  return select(select(big, small, a < 0.5), copy_sign(0.0, s), a >= 10.1);
}

// erf within ~2 ulp (1 - erfc above 0.5).
fn erf_f32(x: f32) -> f32 {
  if (is_nan(x)) {
    return x;
  }
  let a = abs(x);
  return copy_sign(select(1.0 - erfc_core(a, 0.0, 1.0), erf_small(a), a < 0.5), x);
}

// gelu(x) = x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2: 1 - erfc(u) / 2 for x >= 0 and erfc(-u) / 2
// below, so the negative tail has no 1 + erf cancellation (x = -3 was 370 ulp off through
// 1 + erf). u = x / sqrt 2 is carried with its rounding error (erfc amplifies it 2 u^2 times).
// One erfc_core call for both signs, chosen by select: with a branch per sign, lavapipe ran both
// calls for every vector of lanes that held both signs (bench/tools/unary_probe.ts).
fn gelu_f32(x: f32) -> f32 {
  let u = x * SQRT1_2_HI;
  let a = abs(u);
  // da is 0 where erfc_core does not use it (and where the split products could overflow).
  let da = select(0.0, two_prod_err(x, SQRT1_2_HI, u) + x * SQRT1_2_LO, a > 0.5 && a < 10.1);
  let neg = x < 0.0;
  let e = erfc_core(a, select(da, -da, neg), select(0.5, 0.5 * x, neg));
  let y = select(x * (1.0 - e), e, neg);
  // gelu(inf) = inf; gelu(-inf) = -inf * 0 = NaN, as torch; NaN stays NaN.
  return select(y, select(x, f32_nan(), neg), is_nan(x) || is_inf(x));
}

// The tanh approximation of gelu: 0.5 x (1 + tanh(v)) = x sigmoid(2v), v = sqrt(2/pi) (x + 0.044715 x^3),
// without 1 + tanh's cancellation for x < 0. The tail is ill-conditioned (at x = -9.5 a rounding of
// 2v costs 76 ulp), so e^-2|v| = e^(-C1 |x|) e^(-C2 |x|^3) with both exponents in double-f32.
fn gelu_tanh_f32(x: f32) -> f32 {
  if (is_nan(x)) {
    return x;
  }
  let ax = abs(x);
  if (ax > 15.0) {
    // sigmoid(2v) is 1 or below the smallest subnormal: x, or -0 (NaN for -inf: -inf * 0, as torch).
    return select(x, select(copy_sign(0.0, x), f32_nan(), is_inf(x)), x < 0.0);
  }
  let x2 = ax * ax;
  let x2e = two_prod_err(ax, ax, x2);
  let x3 = x2 * ax;
  let x3e = two_prod_err(x2, ax, x3) + x2e * ax;
  let a1 = GELU_C1_HI * ax;
  let a1e = two_prod_err(GELU_C1_HI, ax, a1) + GELU_C1_LO * ax;
  let a3 = GELU_C3_HI * x3;
  let a3e = two_prod_err(GELU_C3_HI, x3, a3) + (GELU_C3_HI * x3e + GELU_C3_LO * x3);
  let e = exp_dd(-a1, -a1e) * exp_dd(-a3, -a3e);
  return x * select(1.0 / (1.0 + e), e / (1.0 + e), x < 0.0);
}

// sin(r), cos(r) for |r| <= pi/4: Taylor series to r^11 and r^12 (truncation < 1e-11).
fn sin_poly(r: f32) -> f32 {
  let z = r * r;
  return r + r * z * (-0.1666666716337204 + z * (0.008333333767950535 + z * (-0.00019841270113829523 +
         z * (2.7557318844628753e-06 + z * -2.5052107943679403e-08))));
}

fn cos_poly(r: f32) -> f32 {
  let z = r * r;
  return 1.0 + z * (-0.5 + z * (0.0416666679084301 + z * (-0.0013888889225199819 + z * (2.4801587642286904e-05 +
         z * (-2.755731998149713e-07 + z * 2.0876755879584152e-09)))));
}

// |x| = (q + f) pi/2 with q mod 4 and r = f pi/2 in [-pi/4, pi/4], for finite |x| >= pi/4, by
// Payne-Hanek in integer arithmetic, exact however large x is (the builtins give sin(1e10) = -1):
// x's 24-bit mantissa times the 96 bits of 2/pi that matter for its exponent.
struct TrigArg {
  r: f32,
  q: u32,
}

fn trig_reduce(ax: f32) -> TrigArg {
  // 2/pi = 0.A2F9836E 4E441529 ... (hex), 256 bits.
  var two_over_pi = array<u32, 8>(0xA2F9836Eu, 0x4E441529u, 0xFC2757D1u, 0xF534DDC0u, 0xDB629599u, 0x3C439041u,
                                  0xFE5163ABu, 0xDEBBC561u);
  let bits = bitcast<u32>(ax);
  let e = i32(bits >> 23u) - 150;  // ax = mant * 2^e
  let mant = (bits & 0x007fffffu) | 0x00800000u;
  // Bit i of 2/pi (i = 1 right after the point) adds mant * 2^(e - i): a multiple of 4 for
  // i <= e - 2, which leaves q mod 4 as it is. So the window starts at bit max(1, e - 1).
  let first = u32(max(e - 2, 0));
  let w = first / 32u;
  let sh = first % 32u;
  var win: array<u32, 3>;
  for (var j = 0u; j < 3u; j++) {
    let hi = two_over_pi[w + j];
    let lo = two_over_pi[w + j + 1u];
    win[j] = select((hi << sh) | (lo >> (32u - sh)), hi, sh == 0u);
  }
  // P = mant * window, 120 bits in p[3..0]; its binary point sits at bit 95 + first + 1 - e.
  let m2 = mulhilo(mant, win[2]);
  let m1 = mulhilo(mant, win[1]);
  let m0 = mulhilo(mant, win[0]);
  var p0 = m2.y;
  var p1 = m2.x + m1.y;
  let c1 = select(0u, 1u, p1 < m2.x);
  var p2 = m1.x + m0.y;
  let c2a = select(0u, 1u, p2 < m1.x);
  p2 = p2 + c1;
  let c2b = select(0u, 1u, p2 < c1);
  var p3 = m0.x + c2a + c2b;
  // Shift left so that the two integer bits land at 127..126: by 126 - point, in [6, 32].
  var s = 126 - (96 + i32(first) - e);
  if (s >= 32) {
    p3 = p2;
    p2 = p1;
    p1 = p0;
    p0 = 0u;
    s -= 32;
  }
  let su = u32(s);
  if (su != 0u) {
    p3 = (p3 << su) | (p2 >> (32u - su));
    p2 = (p2 << su) | (p1 >> (32u - su));
    p1 = (p1 << su) | (p0 >> (32u - su));
    p0 = p0 << su;
  }
  var q = p3 >> 30u;
  // The fraction, 96 bits in f2..f0; above one half, round q up and take 1 - fraction, negated.
  var f2 = (p3 << 2u) | (p2 >> 30u);
  var f1 = (p2 << 2u) | (p1 >> 30u);
  var f0 = (p1 << 2u) | (p0 >> 30u);
  let neg = f2 >= 0x80000000u;
  if (neg) {
    q += 1u;
    f2 = ~f2;
    f1 = ~f1;
    f0 = ~f0;
  }
  // Normalise the fraction and multiply its top 32 bits by pi/2 (0xC90FDAA2 / 2^31).
  var z = 0u;
  for (var j = 0; j < 2 && f2 == 0u; j++) {
    f2 = f1;
    f1 = f0;
    f0 = 0u;
    z += 32u;
  }
  if (f2 == 0u) {
    return TrigArg(0.0, q & 3u);
  }
  let lz = countLeadingZeros(f2);
  let top = select((f2 << lz) | (f1 >> (32u - lz)), f2, lz == 0u);
  var prod = mulhilo(top, 0xC90FDAA2u);
  z += lz;
  if (prod.x < 0x80000000u) {
    prod = vec2<u32>((prod.x << 1u) | (prod.y >> 31u), prod.y << 1u);
    z += 1u;
  }
  // r = prod / 2^63 * 2^-z, rounded to nearest even from its 64 bits.
  var m = prod.x >> 8u;
  let half = (prod.x & 0x80u) != 0u;
  let sticky = (prod.x & 0x7fu) != 0u || prod.y != 0u;
  if (half && (sticky || (m & 1u) == 1u)) {
    m += 1u;
  }
  let r = bitcast<f32>(((127u - z) << 23u) + (m - 0x00800000u));
  return TrigArg(select(r, -r, neg), q & 3u);
}

// The reduction for |x| < 100, Cody-Waite style: k = round(|x| 2/pi) <= 64 has 7 bits, and
// pi/2 = P1 + P2 + P3 with P1, P2 of 17 bits, so k P1 and k P2 are exact and |x| - k P1 is exact
// (Sterbenz); r is within an ulp with pi/2 carried to ~60 bits. Payne-Hanek only beyond.
fn trig_reduce_small(ax: f32) -> TrigArg {
  let ki = round_i(ax * 0.6366197466850281);
  let k = f32(ki);
  let r = ((ax - k * 1.5707855224609375) - k * 1.0804273188114166e-05) - k * 6.07710062827671e-11;
  return TrigArg(r, u32(ki) & 3u);
}

fn trig_arg(ax: f32) -> TrigArg {
  if (ax < 100.0) {
    return trig_reduce_small(ax);
  }
  return trig_reduce(ax);
}

fn sin_f32(x: f32) -> f32 {
  if (is_nan(x) || is_inf(x)) {
    return f32_nan();
  }
  let ax = abs(x);
  if (ax < 0.7853981852531433) {
    return sin_poly(x);
  }
  let t = trig_arg(ax);
  var s = select(sin_poly(t.r), cos_poly(t.r), (t.q & 1u) == 1u);
  if ((t.q & 2u) != 0u) {
    s = -s;
  }
  return select(s, -s, x < 0.0);
}

fn cos_f32(x: f32) -> f32 {
  if (is_nan(x) || is_inf(x)) {
    return f32_nan();
  }
  let ax = abs(x);
  if (ax < 0.7853981852531433) {
    return cos_poly(x);
  }
  let t = trig_arg(ax);
  var c = select(cos_poly(t.r), sin_poly(t.r), (t.q & 1u) == 1u);
  if (((t.q + 1u) & 2u) != 0u) {
    c = -c;
  }
  return c;
}

// x^y for finite x > 0, x != 1, finite y != 0. With n = round(y), f = y - n (|f| <= 1/2, exact):
// x^n by binary powering in double-f32 (hi + lo, ~44 bits), exact when representable and
// otherwise rounded once (twice for a subnormal result: at most one subnormal ulp off); x^f = 2^(f k) 2^(f log2 m) for x = m 2^k, with f k's integer part
// taken out exactly, so 2^ is only ever asked for |t| <= 0.75 (<= ~2.5 ulp overall).
fn pow_pos(ax: f32, y: f32) -> f32 {
  let d = frexp_f32(ax);
  let lm = log_m(d.m) * INV_LN2;
  let ke = f32(d.k);
  // Far outside f32's range (2^-149 .. 2^128) the result is 0 or inf; this also bounds every
  // exponent below and |n| < 2^32.
  let l = y * (ke + lm);
  if (l > 200.0) {
    return f32_inf();
  }
  if (l < -200.0) {
    return 0.0;
  }
  let n = round(y);
  let f = y - n;
  var rh = 1.0;
  var rl = 0.0;
  var re = 0;
  var bh = d.m;
  var bl = 0.0;
  var be = d.k;
  var nn = u32(abs(n));
  loop {
    if ((nn & 1u) != 0u) {
      let p = rh * bh;
      rl = two_prod_err(rh, bh, p) + (rh * bl + rl * bh);
      rh = p;
      re += be;
      // Back into [sqrt(1/2), sqrt(2)] (scaling by 2 is exact), the exponent kept apart.
      if (rh > SQRT2) {
        rh *= 0.5;
        rl *= 0.5;
        re += 1;
      } else if (rh < SQRT1_2_HI) {
        rh *= 2.0;
        rl *= 2.0;
        re -= 1;
      }
    }
    nn = nn >> 1u;
    if (nn == 0u) {
      break;
    }
    let p = bh * bh;
    bl = two_prod_err(bh, bh, p) + 2.0 * bh * bl;
    bh = p;
    be *= 2;
    if (bh > SQRT2) {
      bh *= 0.5;
      bl *= 0.5;
      be += 1;
    } else if (bh < SQRT1_2_HI) {
      bh *= 2.0;
      bl *= 2.0;
      be -= 1;
    }
  }
  if (n < 0.0) {
    // 1 / (rh + rl): q = 1 / rh, and 1 - rh q = (1 - p) - err exactly (p = rh q rounded, near 1).
    let q = 1.0 / rh;
    let p = rh * q;
    let eps = (1.0 - p) - two_prod_err(rh, q, p);
    rl = q * (eps - rl * q);
    rh = q;
    re = -re;
  }
  // f k = fh k + fl k, both exact (12 + 8 bits); their integer parts go to the exponent.
  let fh = split_hi(f);
  let a1 = fh * ke;
  let a2 = (f - fh) * ke;
  let i1 = round(a1);
  let i2 = round(a2);
  let t1 = (a1 - i1) + (a2 - i2);
  let i3 = round(t1);
  let t = (t1 - i3) + f * lm;
  let v = (rh + rl) * exp2_f32(t);
  return scale2(v, re + i32(i1 + i2 + i3));
}

// pow with C99 / IEEE 754's special cases, which torch.pow follows: pow(x, +-0) = 1 and
// pow(1, y) = 1 even for NaN, pow(-1, +-inf) = 1, an odd integer y keeps x's sign (-0 and -inf
// included), a negative x with a non-integer y is NaN (WGSL's pow is undefined for x < 0).
fn pow_f32(x: f32, y: f32) -> f32 {
  if (y == 0.0 || x == 1.0) {
    return 1.0;
  }
  if (is_nan(x) || is_nan(y)) {
    return f32_nan();
  }
  let ax = abs(x);
  if (is_inf(y)) {
    if (ax == 1.0) {
      return 1.0;
    }
    return select(0.0, f32_inf(), (ax > 1.0) == (y > 0.0));
  }
  let ay = abs(y);
  let y_int = floor(y) == y;
  // f32 values from 2^24 on are all even integers.
  let y_odd = y_int && ay < 16777216.0 && (u32(ay) & 1u) == 1u;
  let neg = sign_bit(x) && y_odd;
  if (ax == 0.0 || is_inf(x)) {
    let r = select(0.0, f32_inf(), (ax == 0.0) == (y < 0.0));
    return select(r, -r, neg);
  }
  if (x < 0.0 && !y_int) {
    return f32_nan();
  }
  if (ax == 1.0) {
    return select(1.0, -1.0, neg);
  }
  let r = pow_pos(ax, y);
  return select(r, -r, neg);
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

// torch.maximum / minimum: NaN if either is NaN, else a unless b is strictly larger (smaller),
// so maximum(-0, 0) = -0 as in torch (the builtins may return either zero, and ignore NaN).
fn max_f32(a: f32, b: f32) -> f32 {
  return select(select(a, b, a < b), f32_nan(), is_nan(a) || is_nan(b));
}

fn min_f32(a: f32, b: f32) -> f32 {
  return select(select(a, b, b < a), f32_nan(), is_nan(a) || is_nan(b));
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

// ---- floor division, remainders, log1p, expm1 and activations (issue 15). Twins: src/ops/twins.ts.

// log(1 + f) for f in [-0.5, 1] without forming 1 + f, whose rounding would be most of the result
// near 0: log_m's series with f taken exactly. s = f / (2 + f) is at most 1/3 here, so R runs to
// s^18 (truncation 3e-11).
fn log1p_core(f: f32) -> f32 {
  let s = f / (2.0 + f);
  let z = s * s;
  let R = z * (0.6666666865348816 + z * (0.4000000059604645 + z * (0.2857142984867096 + z * (0.2222222238779068 +
          z * (0.1818181872367859 + z * (0.15384615957736969 + z * (0.13333334028720856 + z * (0.11764705926179886 +
          z * 0.10526315867900848))))))));
  let hfsq = 0.5 * f * f;
  return f - (hfsq - s * (hfsq + R));
}

// log1p within ~1.5 ulp: the series on [-0.5, 1]; log(1 + x) below -0.5, where 1 + x is exact
// (Sterbenz); log(x) + log1p(1 / x) above 1, so 1 + x is never rounded. -0 stays -0.
fn log1p_f32(x: f32) -> f32 {
  let core = log1p_core(clamp(x, -0.5, 1.0));
  let low = log_f32(1.0 + x);
  let xi = select(1.0, x, x > 1.0 && !is_inf(x));
  let high = log_f32(xi) + log1p_core(1.0 / xi);
  let y = select(select(core, high, x > 1.0), low, x < -0.5);
  return select(y, x, is_nan(x) || x == 0.0 || (is_inf(x) && x > 0.0));
}

// e^r - 1 by its Taylor series to r^10: the leading r is exact, the rest a small correction
// (|r| <= 0.5: truncation 2e-11 relative).
fn expm1_poly(r: f32) -> f32 {
  return r + r * r * (0.5 + r * (0.1666666716337204 + r * (0.0416666679084301 + r * (0.008333333767950535 +
         r * (0.0013888889225199819 + r * (0.00019841270113829523 + r * (2.4801587642286904e-05 +
         r * (2.755731998149713e-06 + r * 2.755731884462875e-07))))))));
}

// expm1 within ~2 ulp: the series below |x| = 0.5; 2^k expm1(r) + (2^k - 1) with x = k ln2 + r
// (Cody-Waite, |r| <= 0.35; 2^k - 1 exact) up to 20; e^x - 1 below -2 (the result is in
// [-1, -0.86]: e^x's error is far below its ulp) and above 20 (1 is below e^x's rounding).
fn expm1_f32(x: f32) -> f32 {
  let small = expm1_poly(clamp(x, -0.5, 0.5));
  let xm = clamp(x, -2.0, 20.0);
  let ki = round_i(xm * INV_LN2);
  let k = f32(ki);
  let r = (xm - k * LN2_HI) - k * LN2_LO;
  let p = pow2i(ki);
  let mid = p * expm1_poly(r) + (p - 1.0);
  let big = exp_f32(x) - 1.0;
  let y = select(select(mid, big, x < -2.0 || x > 20.0), small, abs(x) < 0.5);
  return select(y, x, is_nan(x) || x == 0.0);
}

// C's fmod, exact as C's is (x - y trunc(x / y) is not): the significands' remainder by integer
// long division, 8 bits a step (r < 2^24, so r << 8 fits in a u32), then scaled back exactly.
// NaN for x inf, y 0 or either NaN; x itself when |x| < |y| (y inf included); the sign is x's.
fn fmod_f32(x: f32, y: f32) -> f32 {
  let bx = bitcast<u32>(x) & 0x7fffffffu;
  let by = bitcast<u32>(y) & 0x7fffffffu;
  if (bx >= 0x7f800000u || by > 0x7f800000u || by == 0u) {
    return f32_nan();
  }
  if (bx < by) {
    return x;
  }
  // value = m 2^(e - 150); a subnormal (e = 0) is m 2^-149, so e = 1 without the implicit bit.
  var ex = i32(bx >> 23u);
  var ey = i32(by >> 23u);
  var mx = bx & 0x7fffffu;
  var my = by & 0x7fffffu;
  if (ex == 0) { ex = 1; } else { mx = mx | 0x800000u; }
  if (ey == 0) { ey = 1; } else { my = my | 0x800000u; }
  var r = mx % my;
  var d = ex - ey;
  while (d > 0) {
    let s = min(d, 8);
    r = (r << u32(s)) % my;
    d -= s;
  }
  return copy_sign(scale2(f32(r), ey - 150), x);
}

// The sign bit of a / b (what IEEE gives a quotient, zero or infinite ones included).
fn quotient_sign(a: f32, b: f32) -> f32 {
  return bitcast<f32>((bitcast<u32>(a) ^ bitcast<u32>(b)) & 0x80000000u);
}

// torch.floor_divide (Python's //): from the exact fmod, (a - mod) / b is an integer up to
// rounding, corrected down by one when mod's sign differs from b's, then rounded to the nearest
// integer; a zero quotient keeps the sign a / b has; b = 0 gives a / b (inf, or NaN for 0 / 0).
fn floor_divide_f32(a: f32, b: f32) -> f32 {
  if (is_nan(a) || is_nan(b)) {
    return f32_nan();
  }
  if (b == 0.0) {
    return select(copy_sign(f32_inf(), quotient_sign(a, b)), f32_nan(), a == 0.0);
  }
  let m = fmod_f32(a, b);
  var div = (a - m) / b;
  if (m != 0.0 && ((b < 0.0) != (m < 0.0))) {
    div -= 1.0;
  }
  if (div == 0.0) {
    return copy_sign(0.0, quotient_sign(a, b));
  }
  let fd = floor(div);
  return select(fd, fd + 1.0, div - fd > 0.5);
}

// torch.remainder (Python's %): fmod, moved by b when its sign differs from b's.
fn remainder_f32(a: f32, b: f32) -> f32 {
  let m = fmod_f32(a, b);
  return select(m, m + b, m != 0.0 && ((b < 0.0) != (m < 0.0)));
}

// Integer floor division and remainders; a zero divisor gives 0 (cpu throws first, as torch).
// The most negative value divided by -1 wraps to itself, as two's complement (and JS's | 0) do.
fn floor_divide_i32(a: i32, b: i32) -> i32 {
  // A safe divisor for the two cases WGSL leaves to polyfills: 0 and -1 (INT_MIN / -1).
  let d = select(b, 1, b == 0 || b == -1);
  let q = a / d;
  let r = a - q * d;
  let fd = select(q, q - 1, r != 0 && ((r < 0) != (d < 0)));
  return select(select(fd, 0 - a, b == -1), 0, b == 0);
}

fn remainder_i32(a: i32, b: i32) -> i32 {
  let d = select(b, 1, b == 0 || b == -1);
  let r = a % d;
  return select(select(r, r + b, r != 0 && ((r < 0) != (b < 0))), 0, b == 0);
}

fn fmod_i32(a: i32, b: i32) -> i32 {
  return a % select(b, 1, b == 0 || b == -1);
}

fn sign_f32(x: f32) -> f32 {
  // sign(NaN) = 0 and sign(-0) = +0, as torch 1.13's (0 < x) - (x < 0).
  // (Not select(select(0, -1, x < 0), 1, x > 0): Mesa turns that into its fsign, which gives
  // -0 for +0 on lavapipe.)
  return select(copy_sign(1.0, x), 0.0, x == 0.0 || is_nan(x));
}

// torch.clamp with tensor bounds: NaN if any is NaN, else min(max(x, lo), hi) with std::max's
// and std::min's choice between equal values (x unless a bound is strictly beyond it: -0 stays).
fn clamp_f32(x: f32, lo: f32, hi: f32) -> f32 {
  let m = select(x, lo, x < lo);
  return select(select(m, hi, hi < m), f32_nan(), is_nan(x) || is_nan(lo) || is_nan(hi));
}

// softplus = log1p(e^(beta x)) / beta, or x where beta x > threshold (torch's linear tail).
fn softplus_f32(x: f32, beta: f32, threshold: f32) -> f32 {
  let bx = x * beta;
  return select(log1p_f32(exp_f32(bx)) / beta, x, bx > threshold);
}

// mish = x tanh(softplus(x)) = x n / (n + 2) with n = e^x (e^x + 2) (tanh(log(1 + e)) written
// out): no cancellation anywhere. Below -20, n / (n + 2) is e^x to 2e-9 and mish is x e^x in
// one rounding (its subnormal tail below -87 keeps its precision); above 20 it is x.
fn mish_f32(x: f32) -> f32 {
  let e = exp_f32(clamp(x, -20.0, 20.0));
  let n = e * (e + 2.0);
  let y = x * (n / (n + 2.0));
  let tail = exp_scaled(select(x, 0.0, is_inf(x)), 0.0, x);
  return select(select(y, tail, x < -20.0), f32_nan(), is_inf(x) && x < 0.0);
}

// hardswish = x min(max(x + 3, 0), 6) / 6 in torch's order; NaN-propagating min/max (hardswish(-inf)
// is -inf * 0 = NaN, as torch).
fn hardswish_f32(x: f32) -> f32 {
  return x * min_f32(max_f32(x + 3.0, 0.0), 6.0) / 6.0;
}
