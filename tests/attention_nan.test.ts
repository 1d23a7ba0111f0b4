import { afterEach, describe, expect, it } from 'vitest';
import { setAttentionConfigOverride, type AttentionConfig } from '../src/backends/webgpu/attention_config.js';
import { expectClose, testDevices, xpu } from './helpers.js';
import { disposeAll, refAttention, values, type Dims } from './attention_helpers.js';

/**
 * NaN inputs propagate through fused attention as through PyTorch's softmax(q k^T) v: a NaN in a
 * query row makes that output row NaN, a NaN key makes every row that attends to it NaN, and a
 * NaN key hidden from a row (causal diagonal, bool mask) leaves that row finite and correct. The
 * kernels' online softmax compares scores, and comparisons drop NaN, which once turned a NaN
 * query row into a "fully masked" row of zeros (fully masked rows still give 0, documented).
 * Every scenario carries a bool mask (all true where it does not matter), so each kernel path
 * compiles one pipeline for all three.
 */

const d: Dims = { B: 1, Hq: 2, Hkv: 1, L: 12, S: 40, E: 16, Ev: 16 };

interface Scenario {
  name: string;
  causal: false;
  /** Where the NaN goes: q [b, h, i, e] or k [b, hk, j, e]. */
  nanQ?: [number, number, number, number];
  nanK?: [number, number, number, number];
  keep: (h: number, i: number, j: number) => boolean;
  /** Rows (h, i) whose output must be NaN; every other row must be finite. */
  nanRows: (h: number, i: number) => boolean;
}

const scenarios: Scenario[] = [
  { name: 'NaN in one query row', causal: false, nanQ: [0, 1, 3, 5], keep: () => true, nanRows: (h, i) => h === 1 && i === 3 },
  // The causal diagonal as a bool mask (attnMask and isCausal cannot both be set).
  { name: 'NaN key under a causal mask', causal: false, nanK: [0, 0, 5, 2], keep: (_h, i, j) => j <= i, nanRows: (_h, i) => i >= 5 },
  // Key 35 sits in the second decode split (chunk 32) and past the first prefill tile.
  {
    name: 'NaN key hidden from even rows by a bool mask',
    causal: false,
    nanK: [0, 0, 35, 0],
    keep: (_h, i, j) => j !== 35 || i % 2 === 1,
    nanRows: (_h, i) => i % 2 === 1,
  },
];

async function run(device: string, s: Scenario): Promise<void> {
  const qv = values('float32', d.B * d.Hq * d.L * d.E, 21);
  const kv = values('float32', d.B * d.Hkv * d.S * d.E, 22);
  const vv = values('float32', d.B * d.Hkv * d.S * d.Ev, 23);
  if (s.nanQ) {
    const [b, h, i, e] = s.nanQ;
    qv[((b * d.Hq + h) * d.L + i) * d.E + e] = NaN;
  }
  if (s.nanK) {
    const [b, h, j, e] = s.nanK;
    kv[((b * d.Hkv + h) * d.S + j) * d.E + e] = NaN;
  }
  const maskHost = new Uint8Array(d.Hq * d.L * d.S);
  for (let h = 0; h < d.Hq; h++)
    for (let i = 0; i < d.L; i++) for (let j = 0; j < d.S; j++) maskHost[(h * d.L + i) * d.S + j] = s.keep(h, i, j) ? 1 : 0;
  const q = xpu.tensor(qv, { device, shape: [d.B, d.Hq, d.L, d.E] });
  const k = xpu.tensor(kv, { device, shape: [d.B, d.Hkv, d.S, d.E] });
  const v = xpu.tensor(vv, { device, shape: [d.B, d.Hkv, d.S, d.Ev] });
  const mask = xpu.tensor(maskHost, { device, dtype: 'bool', shape: [1, d.Hq, d.L, d.S] });
  const out = xpu.scaledDotProductAttention(q, k, v, { attnMask: mask, isCausal: s.causal, enableGqa: true });
  try {
    const got = await out.data();
    const ref = refAttention(d, qv, kv, vv, { causal: s.causal, mask: (_b, h, i, j) => s.keep(h, i, j) });
    for (let h = 0; h < d.Hq; h++) {
      for (let i = 0; i < d.L; i++) {
        const row = Array.from(got.subarray((h * d.L + i) * d.Ev, (h * d.L + i + 1) * d.Ev));
        if (s.nanRows(h, i)) expect(row.every(Number.isNaN), `${device} ${s.name}: row h${h} i${i} all NaN, got ${row}`).toBe(true);
        else expect(row.every(Number.isFinite), `${device} ${s.name}: row h${h} i${i} finite, got ${row}`).toBe(true);
      }
    }
    // The reference agrees on every NaN position and on the finite rows' values.
    expectClose(got, ref, 2e-5, `${device} ${s.name}`);
  } finally {
    disposeAll(out, q, k, v, mask);
  }
}

afterEach(() => {
  setAttentionConfigOverride(null);
  delete process.env.XPU_CPU_ATTENTION;
});

if (testDevices().includes('cpu')) {
  describe('attention NaN propagation on cpu', () => {
    for (const path of ['ts', 'native'] as const) {
      it(`${path} kernel`, async () => {
        const { nativeCompute } = await import('../src/backends/cpu/native_jobs.js');
        if (path === 'native' && !nativeCompute()) return; // no addon built: the TypeScript kernel is the cpu path
        process.env.XPU_CPU_ATTENTION = path;
        for (const s of scenarios) await run('cpu', s);
      });
    }
  });
}

if (testDevices().includes('xpu')) {
  describe('attention NaN propagation on xpu', () => {
    const paths: [string, Partial<AttentionConfig>][] = [
      ['storage-buffer prefill', { path: 'prefill', bq: 8, bk: 32 }],
      ['split-K decode', { path: 'decode', chunk: 32, wg: 32 }],
      // Falls back to the prefill where the adapter has no fixed-size subgroups (still a valid run).
      ['texture prefill', { path: 'texture', bq: 32, bk: 32 }],
    ];
    for (const [name, c] of paths) {
      it(name, async () => {
        setAttentionConfigOverride((h) => ({ ...h, ...c }));
        for (const s of scenarios) await run('xpu', s);
      });
    }
  });
}
