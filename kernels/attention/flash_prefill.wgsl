// Flash attention for prefill (FlashAttention-2's loop order): one workgroup per (batch, head,
// tile of BQ queries); K and V stream through workgroup memory in tiles of BK keys. Invocations
// form a 16 x (BQ / 4) grid (x, y). Per tile:
//   1. scores S = Q K^T: invocation (x, y) computes rows 4y .. 4y+3 against keys x + 16t
//      (t < TS), as register-blocked dot products over vec4s of E;
//   2. online softmax per row (invocation r < BQ owns row r's running max m and sum l): the
//      scores become probabilities in place, and the factor exp(m_old - m_new) that rescales the
//      row's output goes to row_corr;
//   3. O = O * corr + P V: invocation (x, y) owns rows 4y .. 4y+3 of output vec4 columns
//      x + 16c (c < CV), in registers, and takes 4 keys per step.
// Loops over E and BK use bounds from uniforms so the compiler does not unroll them (lavapipe
// compiles in seconds instead of minutes); the small register blocks are unrolled. No [L, S]
// score matrix exists anywhere. With CAUSAL the key loop ends after the tile's last query, and
// with a block mask empty tiles are skipped, so masked tiles are never computed.
//
// From the prelude (attention_codegen.ts): Params P (P.rt = E, EV, BK); out; ld_q/ld_k/ld_v;
// fn score_fn(score, b, h, q_idx, kv_idx, full) -> f32 (<= MASKED when masked);
// fn block_flag(b, h, qb, kb) -> u32; consts E, EV, BQ, BK (multiple of 16), CAUSAL,
// HAS_BLOCKS, MASKED.

const WX: u32 = 16u;
const TM: u32 = 4u;
const WY: u32 = BQ / TM;
const WG: u32 = WX * WY;
const TS: u32 = BK / WX;
const E4: u32 = (E + 3u) / 4u;
const EV4: u32 = (EV + 3u) / 4u;
const CV: u32 = (EV4 + WX - 1u) / WX;
const KV4: u32 = max(E4, EV4);

var<workgroup> q_tile: array<vec4<f32>, BQ * E4>;
var<workgroup> kv_tile: array<vec4<f32>, BK * KV4>;
var<workgroup> s_tile: array<f32, BQ * BK>;
var<workgroup> row_corr: array<f32, BQ>;
var<workgroup> row_l: array<f32, BQ>;
var<workgroup> tile_flag: u32;

fn load4_q(base: i32, d4: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    let d = d4 * 4u + i;
    if (d < E) {
      v[i] = ld_q(base + i32(d) * P.qs.w);
    }
  }
  return v;
}

fn load4_k(base: i32, d4: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    let d = d4 * 4u + i;
    if (d < E) {
      v[i] = ld_k(base + i32(d) * P.ks.w);
    }
  }
  return v;
}

fn load4_v(base: i32, c4: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    let c = c4 * 4u + i;
    if (c < EV) {
      v[i] = ld_v(base + i32(c) * P.vs.w);
    }
  }
  return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.groups) {
    return;
  }
  let qt = g % P.qTiles;
  let bh = g / P.qTiles;
  let h = bh % P.H;
  let b = bh / P.H;
  let hk = h / P.group;
  let q0 = qt * BQ;
  let e4 = (P.rt.x + 3u) / 4u;
  let bk = P.rt.z;
  let x = lid % WX;
  let y = lid / WX;

  // The query tile, pre-scaled (scores are q.k * scale).
  let qb = P.qOff + i32(b) * P.qs.x + i32(h) * P.qs.y;
  for (var i = lid; i < BQ * E4; i += WG) {
    let r = min(q0 + i / E4, P.L - 1u);
    q_tile[i] = load4_q(qb + i32(r) * P.qs.z, i % E4) * P.scale;
  }
  var m_row = MASKED;
  var l_row = 0.0;
  var o: array<array<vec4<f32>, CV>, TM>;
  for (var r = 0u; r < TM; r++) {
    for (var c = 0u; c < CV; c++) {
      o[r][c] = vec4<f32>(0.0);
    }
  }

  let kb = P.kOff + i32(b) * P.ks.x + i32(hk) * P.ks.y;
  let vb = P.vOff + i32(b) * P.vs.x + i32(hk) * P.vs.y;
  // Top-left causal: the last query of the tile sees keys up to itself.
  var kv_end = P.S;
  if (CAUSAL) {
    kv_end = min(P.S, min(q0 + BQ, P.L));
  }
  let tiles = (kv_end + BK - 1u) / BK;
  for (var t = 0u; t < tiles; t++) {
    let k0 = t * BK;
    var flag = 1u;
    if (HAS_BLOCKS) {
      // Tiles never straddle blocks (BQ and BK divide the block size), so one flag covers the
      // whole tile; read once and shared so the skip is uniform across the workgroup.
      if (lid == 0u) {
        tile_flag = block_flag(b, h, q0 / P.blockSize, k0 / P.blockSize);
      }
      flag = workgroupUniformLoad(&tile_flag);
      if (flag == 0u) {
        continue;
      }
    }
    workgroupBarrier();
    for (var i = lid; i < BK * E4; i += WG) {
      let jj = min(k0 + i / E4, P.S - 1u);
      kv_tile[i] = load4_k(kb + i32(jj) * P.ks.z, i % E4);
    }
    workgroupBarrier();

    // 1. Scores: rows 4y .. 4y+3 against keys x + 16 ts.
    var acc: array<array<f32, TS>, TM>;
    for (var r = 0u; r < TM; r++) {
      for (var ts = 0u; ts < TS; ts++) {
        acc[r][ts] = 0.0;
      }
    }
    for (var d = 0u; d < e4; d++) {
      var kd: array<vec4<f32>, TS>;
      for (var ts = 0u; ts < TS; ts++) {
        kd[ts] = kv_tile[(x + ts * WX) * E4 + d];
      }
      for (var r = 0u; r < TM; r++) {
        let qd = q_tile[(y * TM + r) * E4 + d];
        for (var ts = 0u; ts < TS; ts++) {
          acc[r][ts] += dot(qd, kd[ts]);
        }
      }
    }
    for (var r = 0u; r < TM; r++) {
      let row = y * TM + r;
      for (var ts = 0u; ts < TS; ts++) {
        let kj = k0 + x + ts * WX;
        var sc = MASKED;
        if (kj < kv_end) {
          sc = score_fn(acc[r][ts], b, h, min(q0 + row, P.L - 1u), kj, flag == 2u);
        }
        s_tile[row * BK + x + ts * WX] = sc;
      }
    }
    workgroupBarrier();

    // 2. Online softmax, one invocation per row; meanwhile everyone loads the V tile.
    if (lid < BQ) {
      var tmax = MASKED;
      for (var jj = 0u; jj < bk; jj++) {
        tmax = max(tmax, s_tile[lid * BK + jj]);
      }
      let m_new = max(m_row, tmax);
      var corr = 1.0;
      if (m_new > MASKED) {
        corr = select(exp(m_row - m_new), 0.0, m_row <= MASKED);
        var sum = 0.0;
        for (var jj = 0u; jj < bk; jj++) {
          let s = s_tile[lid * BK + jj];
          let p = select(exp(s - m_new), 0.0, s <= MASKED);
          s_tile[lid * BK + jj] = p;
          sum += p;
        }
        l_row = l_row * corr + sum;
        m_row = m_new;
      } else {
        for (var jj = 0u; jj < bk; jj++) {
          s_tile[lid * BK + jj] = 0.0;
        }
      }
      row_corr[lid] = corr;
    }
    for (var i = lid; i < BK * EV4; i += WG) {
      let jj = min(k0 + i / EV4, P.S - 1u);
      kv_tile[i] = load4_v(vb + i32(jj) * P.vs.z, i % EV4);
    }
    workgroupBarrier();

    // 3. O = O * corr + P V over rows 4y .. 4y+3 and vec4 columns x + 16c, 4 keys per step.
    for (var r = 0u; r < TM; r++) {
      let corr = row_corr[y * TM + r];
      for (var c = 0u; c < CV; c++) {
        o[r][c] *= corr;
      }
    }
    for (var jj = 0u; jj < bk; jj += 4u) {
      var p: array<vec4<f32>, TM>;
      for (var r = 0u; r < TM; r++) {
        let s0 = (y * TM + r) * BK + jj;
        p[r] = vec4<f32>(s_tile[s0], s_tile[s0 + 1u], s_tile[s0 + 2u], s_tile[s0 + 3u]);
      }
      for (var c = 0u; c < CV; c++) {
        let c4 = min(x + c * WX, EV4 - 1u);
        let v0 = kv_tile[jj * EV4 + c4];
        let v1 = kv_tile[(jj + 1u) * EV4 + c4];
        let v2 = kv_tile[(jj + 2u) * EV4 + c4];
        let v3 = kv_tile[(jj + 3u) * EV4 + c4];
        for (var r = 0u; r < TM; r++) {
          o[r][c] += p[r].x * v0 + p[r].y * v1 + p[r].z * v2 + p[r].w * v3;
        }
      }
    }
  }

  if (lid < BQ) {
    row_l[lid] = l_row;
  }
  workgroupBarrier();
  for (var r = 0u; r < TM; r++) {
    let qi = q0 + y * TM + r;
    let l = row_l[y * TM + r];
    // A row with every key masked has l = 0 and gives 0.
    let inv = select(1.0 / l, 0.0, l == 0.0);
    if (qi < P.L) {
      for (var c = 0u; c < CV; c++) {
        let c4 = x + c * WX;
        for (var i = 0u; i < 4u; i++) {
          let col = c4 * 4u + i;
          if (c4 < EV4 && col < EV) {
            out[((b * P.H + h) * P.L + qi) * EV + col] = bitcast<u32>(o[r][c][i] * inv);
          }
        }
      }
    }
  }
}
