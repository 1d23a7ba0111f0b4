/** Most bind groups kept; past it the cache starts over (a chain's groups are made again once). */
const MAX_GROUPS = 4096;

/**
 * Bind groups kept by (layout, uniform block size, buffers and bound sizes). Dawn's
 * createBindGroup was ~40 us of a ~70 us host-side 256-element add on lavapipe
 * (bench/tools/dispatch_profile.ts), while an eager chain binds the same few buffers again and
 * again: the caching allocator hands a freed block straight back to the next op. The uniform
 * block is bound with a dynamic offset into the queue's arena (pipelines.ts), so one group serves
 * every launch over the same buffers.
 *
 * Safe with the allocator's reuse: a group names GPUBuffers, not tensors, and a buffer handed to a
 * new tensor is the same buffer; a destroyed buffer is never bound again, so its groups are never
 * hit (they are dropped by clear(), called when the allocator destroys its blocks, or when the
 * cache is full). Launches that bind textures are not cached (their views are made per launch).
 */
export class BindGroupCache {
  readonly #groups = new Map<string, GPUBindGroup>();
  readonly #ids = new WeakMap<object, number>();
  #next = 1;
  hits = 0;
  misses = 0;
  /** Off: every launch makes its group (bench/tools/dispatch_profile.ts compares the two). */
  enabled = true;

  #id(o: object): number {
    let id = this.#ids.get(o);
    if (id === undefined) this.#ids.set(o, (id = this.#next++));
    return id;
  }

  /** The cache key of a launch, or undefined when it binds a texture. */
  key(
    layout: GPUBindGroupLayout,
    uniformBytes: number,
    buffers: readonly ({ buffer: GPUBuffer; size: number } | { view: GPUTextureView })[],
  ): string | undefined {
    if (!this.enabled) return undefined;
    let k = `${this.#id(layout)}|${uniformBytes}`;
    for (const b of buffers) {
      if (!('buffer' in b)) return undefined;
      k += `|${this.#id(b.buffer)}:${b.size}`;
    }
    return k;
  }

  get(key: string): GPUBindGroup | undefined {
    const g = this.#groups.get(key);
    if (g) this.hits++;
    else this.misses++;
    return g;
  }

  set(key: string, group: GPUBindGroup): void {
    if (this.#groups.size >= MAX_GROUPS) this.#groups.clear();
    this.#groups.set(key, group);
  }

  clear(): void {
    this.#groups.clear();
  }

  get size(): number {
    return this.#groups.size;
  }
}
