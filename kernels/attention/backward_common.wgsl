// What both sweeps of the attention backward share (backward_dq.wgsl, backward_dkdv.wgsl): the
// workgroup tiles of query rows and their dOut rows, the row statistics, a pair's score and its
// probability, and the loader of one query tile. Consts, Params and helpers come from the prelude
// (attention_codegen.ts attentionCommon, attention_backward.ts).

const BK: u32 = LANES * KPL;

var<workgroup> q_tile: array<vec4<f32>, BQ * E4B>;
var<workgroup> g_tile: array<vec4<f32>, BQ * EV4B>;
var<workgroup> s_tile: array<f32, BQ * BK>;
var<workgroup> row_lse: array<f32, BQ>;
var<workgroup> row_delta: array<f32, BQ>;

// The pair's score (raw: q.k scale) through score_fn, or MASKED past the tile's keys.
fn bwd_score(raw: f32, kj: u32, kv_end: u32, b: u32, h: u32, qi: u32, flag: u32) -> f32 {
  if (kj >= kv_end || qi >= P.L) {
    return MASKED;
  }
  return score_fn(raw, b, h, qi, kj, flag == 2u);
}

// P of one pair from its score and the row's lse: 0 where masked, NaN where either is NaN.
fn bwd_p(s: f32, lse: f32) -> f32 {
  if (s <= MASKED && !att_is_nan(s)) {
    return 0.0;
  }
  return select(exp(s - lse), att_nan(), att_is_nan(lse) || att_is_nan(s));
}

// Query tile q0 of (b, h) into q_tile (rows pre-scaled, so a dot product is the raw score; rows
// past L repeat the last one) and its dOut rows into g_tile (zeros past L).
fn load_q_do_tile(qb: i32, q0: u32, b: u32, h: u32, e: u32, ev: u32, lid: u32) {
  let e4 = (e + 3u) / 4u;
  let ev4 = (ev + 3u) / 4u;
  for (var i = lid; i < BQ * e4; i += LANES) {
    let r = i / e4;
    let d4 = i % e4;
    q_tile[r * E4B + d4] = row4_q(qb + i32(min(q0 + r, P.L - 1u)) * P.qs.z, P.qs.w, d4 * 4u, e) * P.scale;
  }
  for (var i = lid; i < BQ * ev4; i += LANES) {
    let r = i / ev4;
    let d4 = i % ev4;
    var g4 = vec4<f32>(0.0);
    if (q0 + r < P.L) {
      let ob = ((b * P.H + h) * P.L + q0 + r) * ev;
      for (var c = 0u; c < 4u; c++) {
        if (d4 * 4u + c < ev) {
          g4[c] = in_do[ob + d4 * 4u + c];
        }
      }
    }
    g_tile[r * EV4B + d4] = g4;
  }
}
