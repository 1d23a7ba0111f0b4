import { describe, expect, it } from 'vitest';
import { lastNativeAttentionFallback } from '../src/backends/cpu/native_attention.js';
import { nativeCompute } from '../src/backends/cpu/native_jobs.js';
import { expectClose, testDevices, xpu } from './helpers.js';
import { disposeAll, refAttention, values, type Dims } from './attention_helpers.js';

/**
 * Decode-shaped attention under GQA (few queries, several query heads per KV head), the case the
 * native kernel runs as one task per KV head with every head of its group as rows, reading keys
 * and values as the KV cache holds them: [B, Hkv, S, D] views of a [B, maxLen, Hkv, D] buffer.
 * Odd S (a partial key tile, and a 16-key gather with a tail), causal with L > 1, masks that
 * differ per head, and a group of exactly 32 rows, against the float64 definition.
 */

interface Case {
  d: Dims;
  causal?: boolean;
  mask?: 'bool' | 'additive';
}

const hasNative = (): boolean => !!(nativeCompute() as unknown as { attention?: unknown } | null)?.attention;

const dims = (B: number, Hq: number, Hkv: number, L: number, S: number, E: number): Dims => ({ B, Hq, Hkv, L, S, E, Ev: E });
const CASES: Case[] = [
  { d: dims(2, 8, 2, 1, 37, 64) },
  { d: dims(1, 9, 3, 1, 131, 64) },
  { d: dims(1, 6, 3, 3, 70, 32), causal: true },
  { d: dims(1, 4, 1, 2, 45, 16), mask: 'bool' },
  { d: dims(1, 8, 2, 4, 19, 32), mask: 'additive' },
  { d: dims(1, 8, 1, 4, 300, 64) },
];

/** A cache-shaped buffer [B, maxLen, Hkv, D] whose first S positions hold `vals` ([B, Hkv, S, D]). */
function cacheView(device: string, d: Dims, vals: Float64Array): { buf: xpu.Tensor; view: xpu.Tensor } {
  const maxLen = d.S + 7;
  const host = new Float64Array(d.B * maxLen * d.Hkv * d.E).fill(1e6); // never read
  for (let b = 0; b < d.B; b++)
    for (let h = 0; h < d.Hkv; h++)
      for (let s = 0; s < d.S; s++)
        for (let e = 0; e < d.E; e++) host[((b * maxLen + s) * d.Hkv + h) * d.E + e] = vals[((b * d.Hkv + h) * d.S + s) * d.E + e];
  const buf = xpu.tensor(host, { device, shape: [d.B, maxLen, d.Hkv, d.E] });
  const filled = xpu.narrow(buf, 1, 0, d.S);
  const view = xpu.permute(filled, [0, 2, 1, 3]);
  filled.dispose();
  return { buf, view };
}

describe('GQA decode attention over KV-cache views', () => {
  for (const device of testDevices()) {
    for (const [n, c] of CASES.entries()) {
      const { d } = c;
      it(`${device}: B${d.B} Hq${d.Hq} Hkv${d.Hkv} L${d.L} S${d.S} E${d.E}${c.causal ? ' causal' : ''}${c.mask ? ` ${c.mask} mask` : ''}`, async () => {
        const qv = values('float32', d.B * d.Hq * d.L * d.E, 40 + n);
        const kv = values('float32', d.B * d.Hkv * d.S * d.E, 50 + n);
        const vv = values('float32', d.B * d.Hkv * d.S * d.E, 60 + n);
        const q = xpu.tensor(qv, { device, shape: [d.B, d.Hq, d.L, d.E] });
        const k = cacheView(device, d, kv);
        const v = cacheView(device, d, vv);
        // Masks that differ per head, so a row must meet its own head's mask.
        const boolAt = (h: number, i: number, j: number): boolean => (h * 7 + i * 3 + j) % 5 !== 0;
        const addAt = (h: number, i: number, j: number): number => ((h * 13 + i * 5 + j) % 7) * -0.25;
        let maskT: xpu.Tensor | undefined;
        if (c.mask) {
          const m = new Float64Array(d.Hq * d.L * d.S);
          for (let h = 0; h < d.Hq; h++)
            for (let i = 0; i < d.L; i++)
              for (let j = 0; j < d.S; j++) m[(h * d.L + i) * d.S + j] = c.mask === 'bool' ? Number(boolAt(h, i, j)) : addAt(h, i, j);
          maskT = xpu.tensor(m, { device, dtype: c.mask === 'bool' ? 'bool' : 'float32', shape: [1, d.Hq, d.L, d.S] });
        }
        const out = xpu.scaledDotProductAttention(q, k.view, v.view, {
          isCausal: c.causal,
          attnMask: maskT,
          enableGqa: true,
        });
        // On cpu with the addon, the native kernel ran (no fallback to the TypeScript one).
        if (device === 'cpu' && hasNative()) expect(lastNativeAttentionFallback).toBeNull();
        const ref = refAttention(d, qv, kv, vv, {
          causal: c.causal,
          mask: c.mask ? (_b, h, i, j) => (c.mask === 'bool' ? boolAt(h, i, j) : addAt(h, i, j)) : undefined,
        });
        expectClose(await out.data(), ref, 2e-5, device);
        disposeAll(out, q, k.view, k.buf, v.view, v.buf, maskT);
      });
    }
  }
});
