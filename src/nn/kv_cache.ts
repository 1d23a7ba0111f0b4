import type { DeviceLike } from '../device/device.js';
import { XpuIndexError, XpuValueError } from '../errors.js';
import { tensorArg } from '../ops/common.js';
import { copyInto } from '../ops/copy_into.js';
import { intArg } from '../tensor/shape.js';
import { zeros } from '../ops/creation.js';
import { narrow, permute } from '../ops/views.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Preallocated keys and values for every layer, [B, maxLen, Hkv, D] each: position-major, so the
 * K or V of a step (all heads of L new positions) is one contiguous run per batch row, written in
 * place with one device copy (ops/copy_into.ts). Attention reads [B, Hkv, S, D] views of the
 * filled prefix (permuted strides, no copy).
 */
export class KVCache {
  readonly keys: Tensor[] = [];
  readonly values: Tensor[] = [];
  /** Positions filled so far (the next token's position). */
  length = 0;

  constructor(
    readonly numLayers: number,
    readonly batch: number,
    readonly maxLen: number,
    readonly kvHeads: number,
    readonly headDim: number,
    options: { device?: DeviceLike; dtype?: DType } = {},
  ) {
    for (const [arg, v] of Object.entries({ numLayers, batch, maxLen, kvHeads, headDim })) {
      if (!Number.isInteger(v) || v <= 0)
        throw new XpuValueError('cache sizes must be positive integers', {
          op: 'KVCache',
          arg,
          expected: 'an integer >= 1',
          got: String(v),
        });
    }
    for (let i = 0; i < numLayers; i++) {
      this.keys.push(zeros([batch, maxLen, kvHeads, headDim], options));
      this.values.push(zeros([batch, maxLen, kvHeads, headDim], options));
    }
  }

  /**
   * Writes k, v [B, L, Hkv, D] at positions start .. start + L - 1 of `layer` and returns views
   * [B, Hkv, start + L, D] of everything up to them (the caller disposes the views).
   */
  update(layer: number, k: Tensor, v: Tensor, start: number): { keys: Tensor; values: Tensor } {
    const op = 'KVCache.update';
    intArg(op, 'layer', layer, { min: 0, max: this.numLayers - 1, rangeError: XpuIndexError });
    tensorArg(op, 'k', k);
    tensorArg(op, 'v', v);
    intArg(op, 'start', start, { min: 0, rangeError: XpuIndexError });
    const l = k.shape[1];
    if (start + l > this.maxLen) {
      throw new XpuIndexError('KV cache is full', {
        op: 'KVCache.update',
        arg: 'start',
        expected: `start + length <= ${this.maxLen} (maxLen)`,
        got: `${start} + ${l}`,
      });
    }
    const out: Tensor[] = [];
    for (const [cache, x] of [
      [this.keys[layer], k],
      [this.values[layer], v],
    ] as const) {
      const slot = narrow(cache, 1, start, l);
      copyInto(slot, x);
      slot.dispose();
      const filled = narrow(cache, 1, 0, start + l);
      out.push(permute(filled, [0, 2, 1, 3]));
      filled.dispose();
    }
    return { keys: out[0], values: out[1] };
  }

  /** Bytes held on the device. */
  get bytes(): number {
    return this.keys.concat(this.values).reduce((a, t) => a + t.ref.storage.byteLength, 0);
  }

  dispose(): void {
    for (const t of this.keys.concat(this.values)) t.dispose();
  }
}
