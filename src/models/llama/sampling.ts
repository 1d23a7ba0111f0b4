import { XpuValueError } from '../../errors.js';
import { mulberry32 } from '../../host_rng.js';

export interface SamplingOptions {
  /** 0 (default) is greedy: the argmax, deterministic. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1: all). */
  topP?: number;
}

/** A seeded host PRNG (mulberry32): the same seed gives the same samples on every device. */
export const samplerRng = mulberry32;

export function checkSampling(o: SamplingOptions): void {
  const t = o.temperature ?? 0;
  if (!(t >= 0) || !Number.isFinite(t))
    throw new XpuValueError('temperature must be >= 0', {
      op: 'generate',
      arg: 'temperature',
      expected: 'a finite number >= 0',
      got: String(t),
    });
  if (o.topK !== undefined && (!Number.isInteger(o.topK) || o.topK < 0))
    throw new XpuValueError('topK must be an integer >= 0', {
      op: 'generate',
      arg: 'topK',
      expected: 'an integer >= 0',
      got: String(o.topK),
    });
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1))
    throw new XpuValueError('topP must be in (0, 1]', { op: 'generate', arg: 'topP', expected: '0 < topP <= 1', got: String(o.topP) });
}

/** The index of the largest logit (the first one on ties; NaN never wins). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best] || Number.isNaN(logits[best])) best = i;
  return best;
}

/**
 * Picks the next token from one row of logits: greedy at temperature 0, otherwise softmax of
 * logits / temperature filtered by top-k then top-p (HF's order), sampled with `rand`.
 */
export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, rand: () => number): number {
  const temperature = o.temperature ?? 0;
  if (temperature === 0) return argmax(logits);
  const order = byLogitDescending(logits);
  const k = o.topK && o.topK > 0 ? Math.min(o.topK, order.length) : order.length;
  const kept = order.slice(0, k);
  const top = logits[kept[0]];
  const weights = kept.map((i) => Math.exp((logits[i] - top) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let n = kept.length;
  const p = o.topP ?? 1;
  if (p < 1) {
    let acc = 0;
    for (n = 0; n < kept.length;) {
      acc += weights[n++] / total;
      if (acc >= p) break;
    }
  }
  const mass = weights.slice(0, n).reduce((a, b) => a + b, 0);
  let r = rand() * mass;
  for (let i = 0; i < n; i++) {
    r -= weights[i];
    if (r < 0) return kept[i];
  }
  return kept[n - 1];
}

const INDEX_SPAN = 2 ** 21;

/**
 * Token indices ordered by logit, largest first, ties by lower index (NaN counts as -Infinity).
 * A comparator sort of a 49k vocabulary took ~50 ms a token, as long as a decode step; when every
 * logit is a float32 value (model output always is) each becomes one float64 key, its order-
 * preserving 32 bits above a 21-bit index, and the keys go through one native numeric sort.
 */
function byLogitDescending(logits: ArrayLike<number>): number[] {
  const n = logits.length;
  const values = new Float64Array(n);
  let f32 = n <= INDEX_SPAN;
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    values[i] = x !== x ? -Infinity : x === 0 ? 0 : x; // NaN last; -0 ties with +0
    if (f32 && Math.fround(values[i]) !== values[i]) f32 = false;
  }
  if (!f32) return Array.from({ length: n }, (_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  const asFloat = new Float32Array(values);
  const bits = new Uint32Array(asFloat.buffer);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const b = bits[i];
    // IEEE bits -> an unsigned key in the floats' order (negatives reversed), then descending.
    const ascending = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    keys[i] = (0xffffffff - ascending) * INDEX_SPAN + i;
  }
  keys.sort();
  const out = new Array<number>(n);
  for (let j = 0; j < n; j++) out[j] = keys[j] % INDEX_SPAN;
  return out;
}
