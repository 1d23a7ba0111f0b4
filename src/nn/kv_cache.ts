import type { DeviceLike } from '../device/device.js';
import { XpuIndexError, XpuValueError } from '../errors.js';
import { tensorArg } from '../ops/common.js';
import { copyInto } from '../ops/copy_into.js';
import { intArg } from '../tensor/shape.js';
import { zeros } from '../ops/creation.js';
import { narrow, permute } from '../ops/views.js';
import type { DType } from '../tensor/dtype.js';
import { keep } from '../tensor/scope_api.js';
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
  /**
   * [B, Hkv, maxLen, D] views of each keys / values buffer, made once per buffer: update()
   * narrows them to the filled prefix. Keyed by the buffer they view, since a static decode
   * (llama/static_decode.ts) replaces the buffers in keys / values.
   */
  readonly #headMajor = new Map<Tensor, Tensor>();
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
    const write = (cache: Tensor, x: Tensor): void => {
      const slot = narrow(cache, 1, start, l);
      copyInto(slot, x);
      slot.dispose();
    };
    write(this.keys[layer], k);
    write(this.values[layer], v);
    return {
      keys: narrow(this.#headMajorOf(this.keys[layer]), 2, 0, start + l),
      values: narrow(this.#headMajorOf(this.values[layer]), 2, 0, start + l),
    };
  }

  #headMajorOf(buffer: Tensor): Tensor {
    let v = this.#headMajor.get(buffer);
    if (!v) {
      // A replaced buffer's view goes with it (it would keep the old storage alive).
      for (const [b, old] of this.#headMajor)
        if (!this.keys.includes(b) && !this.values.includes(b)) {
          old.dispose();
          this.#headMajor.delete(b);
        }
      v = keep(permute(buffer, [0, 2, 1, 3])); // outlives the forward pass's scope
      this.#headMajor.set(buffer, v);
    }
    return v;
  }

  /** Bytes held on the device. */
  get bytes(): number {
    return this.keys.concat(this.values).reduce((a, t) => a + t.ref.storage.byteLength, 0);
  }

  dispose(): void {
    for (const t of this.keys.concat(this.values, [...this.#headMajor.values()])) t.dispose();
    this.#headMajor.clear();
  }
}
