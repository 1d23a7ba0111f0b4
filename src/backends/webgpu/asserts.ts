import { XpuIndexError } from '../../errors.js';

/**
 * Device-side index asserts (as torch's CUDA device asserts): a kernel that finds an index out of
 * range cannot throw, so it sets its launch's slot in a small storage buffer, and the queue reads
 * the slots back with the next read or synchronize() and raises XpuIndexError there, naming the
 * op. Each launch has its own slot (a flag word and the first bad index), so every failing
 * launch is known, not only the first, and its output can be marked failed.
 *
 * Slots are never reused while a launch may still write them: a check seals every buffer with
 * slots in use (later launches get slots in a fresh buffer), copies the sealed buffers out in the
 * same submission as the read, and zeroes and recycles them only after that copy completed.
 */

/** Launches per flag buffer (two words each). */
export const ASSERT_SLOTS = 256;
const SLOT_BYTES = 8;
export const ASSERT_BYTES = ASSERT_SLOTS * SLOT_BYTES;
/** One launch's slot, with what the error will say. */
export interface AssertSlot {
  buffer: GPUBuffer;
  /** Slot index within the buffer (the kernel gets it in a uniform). */
  slot: number;
  op: string;
  arg: string;
  /** Valid indices are [0, size). */
  size: number;
  /** Set by the queue when the launch is recorded: what it wrote (to mark failed on a hit). */
  launch?: unknown;
}

interface FlagBuffer {
  buffer: GPUBuffer;
  slots: AssertSlot[];
}

/** Buffers sealed by one check, copied into `staging` back to back. */
export interface SealedAsserts {
  staging: GPUBuffer;
  parts: FlagBuffer[];
  /** The copies seal() recorded (the queue keeps them with its batch, to replay them). */
  copies: [GPUBuffer, number, GPUBuffer, number, number][];
}

export interface AssertHit {
  slot: AssertSlot;
  error: XpuIndexError;
}

export class IndexAsserts {
  #current: FlagBuffer | null = null;
  /** Filled buffers, not sealed yet. */
  #full: FlagBuffer[] = [];
  #free: GPUBuffer[] = [];
  /** Slots handed out and not yet read back (sealed or not). */
  outstanding = 0;

  constructor(private readonly device: GPUDevice) {}

  /** A slot for one launch; bind `buffer` (ASSERT_BYTES) and pass `slot` to the kernel. */
  reserve(op: string, arg: string, size: number): AssertSlot {
    if (this.#current && this.#current.slots.length >= ASSERT_SLOTS) {
      this.#full.push(this.#current);
      this.#current = null;
    }
    // New buffers are zero-filled by WebGPU; recycled ones were zeroed by recycle().
    this.#current ??= {
      buffer:
        this.#free.pop() ??
        this.device.createBuffer({
          size: ASSERT_BYTES,
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
          label: 'xpu-index-asserts',
        }),
      slots: [],
    };
    const s: AssertSlot = { buffer: this.#current.buffer, slot: this.#current.slots.length, op, arg, size };
    this.#current.slots.push(s);
    this.outstanding++;
    return s;
  }

  /** Seals every buffer in use and records their copy-out into `encoder` (no pass open); null when none is in use. */
  seal(encoder: GPUCommandEncoder): SealedAsserts | null {
    const parts = [...this.#full, ...(this.#current ? [this.#current] : [])];
    this.#full = [];
    this.#current = null;
    if (!parts.length) return null;
    const staging = this.device.createBuffer({
      size: parts.length * ASSERT_BYTES,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'xpu-index-asserts-readback',
    });
    const copies = parts.map((p, i): [GPUBuffer, number, GPUBuffer, number, number] => [
      p.buffer,
      0,
      staging,
      i * ASSERT_BYTES,
      p.slots.length * SLOT_BYTES,
    ]);
    for (const c of copies) encoder.copyBufferToBuffer(...c);
    return { staging, parts, copies };
  }

  /** After `sealed.staging` is mapped: the slots that fired, in launch order; recycles the buffers. */
  collect(sealed: SealedAsserts): AssertHit[] {
    const words = new Uint32Array(sealed.staging.getMappedRange());
    const hits: AssertHit[] = [];
    sealed.parts.forEach((p, i) => {
      const base = (i * ASSERT_BYTES) / 4;
      for (const s of p.slots) {
        if (words[base + 2 * s.slot] === 0) continue;
        const bad = words[base + 2 * s.slot + 1] | 0;
        hits.push({
          slot: s,
          error: new XpuIndexError('index out of range (found on the device, reported at the next read or synchronize)', {
            op: s.op,
            arg: s.arg,
            expected: `indices in [0, ${s.size - 1}] (negative indices are not wrapped)`,
            got: String(bad),
          }),
        });
      }
    });
    sealed.staging.unmap();
    this.release(sealed);
    return hits;
  }

  /** Gives the sealed buffers back (zeroed; the writes run before any later submission). */
  release(sealed: SealedAsserts): void {
    sealed.staging.destroy();
    const zero = new Uint8Array(ASSERT_BYTES);
    for (const p of sealed.parts) {
      this.outstanding -= p.slots.length;
      this.device.queue.writeBuffer(p.buffer, 0, zero);
      this.#free.push(p.buffer);
    }
  }
}
