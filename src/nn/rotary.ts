import type { Device } from '../device/device.js';
import { XpuIndexError, XpuValueError } from '../errors.js';
import { tensorArg } from '../ops/common.js';
import { fromHost } from '../ops/creation.js';
import { fmtValue } from '../format_value.js';
import { intArg, numberArg } from '../tensor/shape.js';
import { applyRotary } from '../ops/rotary.js';
import { narrow, reshape } from '../ops/views.js';
import { allocHost, castNumber, writeHost, type DType } from '../tensor/dtype.js';
import { keep } from '../tensor/scope_api.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Rotary position embeddings in the "rotate half" layout of Hugging Face transformers' Llama
 * (dims i and i + D/2 form a pair), so HF checkpoints load without permuting q/k weights.
 */

/** Llama 3's frequency rescaling for long context (HF rope_scaling with rope_type 'llama3'). */
export interface RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/**
 * inv_freq[i] = theta^(-2i/D) for i < D/2, then Llama 3 scaling: wavelengths shorter than
 * orig/high_freq_factor keep their frequency, longer than orig/low_freq_factor are divided by
 * `factor`, and the band between blends the two linearly in orig/wavelength.
 */
export function ropeInvFreq(headDim: number, theta: number, scaling?: RopeScaling): Float64Array {
  if (!Number.isInteger(headDim) || headDim <= 0 || headDim % 2)
    throw new XpuValueError('head dim must be a positive even integer', {
      op: 'rope',
      arg: 'headDim',
      expected: 'an even integer',
      got: String(headDim),
    });
  if (!(numberArg('rope', 'theta', theta) > 0))
    throw new XpuValueError('rope theta must be positive', { op: 'rope', arg: 'theta', expected: '> 0', got: String(theta) });
  const half = headDim / 2;
  const inv = Float64Array.from({ length: half }, (_, i) => theta ** (-(2 * i) / headDim));
  if (!scaling) return inv;
  const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositionEmbeddings: orig } = scaling;
  for (const v of [factor, low, high, orig]) numberArg('rope', 'scaling', v);
  if (!(factor > 0 && low > 0 && high > low && orig > 0)) {
    throw new XpuValueError('bad llama3 rope_scaling', {
      op: 'rope',
      arg: 'scaling',
      expected: 'factor > 0, 0 < low_freq_factor < high_freq_factor, original_max_position_embeddings > 0',
      got: fmtValue(scaling),
    });
  }
  const lowWavelen = orig / low;
  const highWavelen = orig / high;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / factor;
    const smooth = (orig / wavelen - low) / (high - low);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

/** cos/sin tables for positions [0, maxPositions), built once per device and dtype. */
export class RotaryEmbedding {
  readonly #tables = new Map<string, { cos: Tensor; sin: Tensor }>();
  /**
   * The [1, L, 1, D] cos/sin views of the last positions applied, per device and dtype: every
   * layer of a step rotates q and k at the same positions, so a decode step makes them once
   * instead of twice per layer (kept out of scopes; replaced when the positions move).
   */
  readonly #views = new Map<string, { start: number; l: number; cos: Tensor; sin: Tensor }>();
  readonly invFreq: Float64Array;

  constructor(
    readonly headDim: number,
    readonly maxPositions: number,
    theta: number,
    scaling?: RopeScaling,
  ) {
    this.invFreq = ropeInvFreq(headDim, theta, scaling);
  }

  /**
   * cos[p, j] = cos(p * inv[j mod D/2]) and sin[p, j] = sin(p * inv[j mod D/2]); applyRotary
   * (src/ops/rotary.ts) applies rotate-half's sign itself.
   */
  #table(device: Device, dtype: DType): { cos: Tensor; sin: Tensor } {
    const key = `${device}|${dtype}`;
    let t = this.#tables.get(key);
    if (!t) {
      const d = this.headDim;
      const half = d / 2;
      const cos = allocHost(dtype, this.maxPositions * d);
      const sin = allocHost(dtype, this.maxPositions * d);
      for (let p = 0; p < this.maxPositions; p++) {
        for (let j = 0; j < d; j++) {
          // Angles in float64 (p * inv up to ~1e5 rad): rounding the angle first would be far off.
          const a = p * this.invFreq[j % half];
          writeHost(cos, dtype, p * d + j, castNumber(Math.cos(a), dtype));
          writeHost(sin, dtype, p * d + j, castNumber(Math.sin(a), dtype));
        }
      }
      // keep(): the tables outlive the scope() of the forward pass that first needs them.
      t = {
        cos: keep(fromHost(cos, [this.maxPositions, d], dtype, device, 'rope')),
        sin: keep(fromHost(sin, [this.maxPositions, d], dtype, device, 'rope')),
      };
      this.#tables.set(key, t);
    }
    return t;
  }

  /** The cos and sin tables [maxPositions, D] on a device (owned by this object; do not dispose). */
  tables(device: Device, dtype: DType): { cos: Tensor; sin: Tensor } {
    return this.#table(device, dtype);
  }

  /** Rotates x [B, L, H, D] whose tokens sit at positions start .. start + L - 1. */
  apply(x: Tensor, start: number): Tensor {
    tensorArg('rope', 'input', x);
    intArg('rope', 'start', start, { min: 0, rangeError: XpuIndexError });
    const [, l, , d] = x.shape;
    if (start < 0 || start + l > this.maxPositions) {
      throw new XpuIndexError('position beyond the rotary table', {
        op: 'rope',
        arg: 'start',
        expected: `positions < ${this.maxPositions} (max_position_embeddings)`,
        got: `${start} .. ${start + l - 1}`,
      });
    }
    const { cos, sin } = this.#positionViews(x.device, x.dtype, start, l, d);
    return applyRotary(x, cos, sin);
  }

  #positionViews(device: Device, dtype: DType, start: number, l: number, d: number): { cos: Tensor; sin: Tensor } {
    const key = `${device}|${dtype}`;
    const hit = this.#views.get(key);
    if (hit && hit.start === start && hit.l === l && !hit.cos.isDisposed && !hit.sin.isDisposed) return hit;
    if (hit) {
      hit.cos.dispose();
      hit.sin.dispose();
    }
    const { cos, sin } = this.#table(device, dtype);
    const at = (t: Tensor): Tensor => {
      const rows = narrow(t, 0, start, l);
      const v = keep(reshape(rows, [1, l, 1, d]));
      rows.dispose();
      return v;
    };
    const views = { start, l, cos: at(cos), sin: at(sin) };
    this.#views.set(key, views);
    return views;
  }

  dispose(): void {
    for (const v of this.#views.values()) {
      v.cos.dispose();
      v.sin.dispose();
    }
    this.#views.clear();
    for (const t of this.#tables.values()) {
      t.cos.dispose();
      t.sin.dispose();
    }
    this.#tables.clear();
  }
}
