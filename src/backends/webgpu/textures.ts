import type { CommandQueue } from './queue.js';

/**
 * The pool of the rgba32float textures that the texture variants pack operands into (GEMM:
 * gemm_texture.ts, attention: attention_texture.ts). A texture is keyed by its family, role and
 * size, and reused by every later launch of that size: WebGPU orders the next pack after the reads
 * of the previous launch. Each family keeps its few most recently used textures; evicting one
 * first submits the pending work that may use it.
 */

export interface TextureFamily {
  /** Label prefix: 'gemm', 'attention'. */
  name: string;
  /** Textures the family keeps at most. */
  capacity: number;
}

export class TexturePool {
  readonly #pools = new Map<string, Map<string, GPUTexture>>();

  constructor(
    private readonly device: GPUDevice,
    private readonly queue: CommandQueue,
  ) {}

  /** A texture of `size` ([w, h] for a 2-D texture, [w, h, layers] for an array) for `role` in `family`. */
  get(family: TextureFamily, role: string, size: [number, number] | [number, number, number]): GPUTexture {
    let pool = this.#pools.get(family.name);
    if (!pool) this.#pools.set(family.name, (pool = new Map()));
    const key = `${role}:${size.join('x')}`;
    let t = pool.get(key);
    if (t) {
      pool.delete(key); // most recently used last
      pool.set(key, t);
      return t;
    }
    if (pool.size >= family.capacity) {
      this.queue.flush(); // recorded commands may still use the evicted texture
      const [oldKey, old] = pool.entries().next().value as [string, GPUTexture];
      pool.delete(oldKey);
      old.destroy();
    }
    t = this.device.createTexture({
      size,
      format: 'rgba32float',
      usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING,
      label: `${family.name}-${key}`,
    });
    pool.set(key, t);
    return t;
  }

  /** Destroys every pooled texture (emptyCache); pending work is submitted first. */
  release(): void {
    if (![...this.#pools.values()].some((p) => p.size)) return;
    this.queue.flush();
    for (const pool of this.#pools.values()) for (const t of pool.values()) t.destroy();
    this.#pools.clear();
  }
}
