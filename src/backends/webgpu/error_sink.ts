/**
 * The device's uncaptured errors, in order, so that the code that just made a WebGPU call can
 * tell whether that call raised one.
 *
 * Dawn (npm `webgpu` 0.6.2) dispatches `uncapturederror` synchronously, inside the call that
 * failed (createComputePipeline, createBindGroup, CommandEncoder.finish, Queue.submit);
 * tests/launch_errors.test.ts pins that. So `mark()` before a call and `take(mark)` after it
 * returns exactly that call's errors, and the caller can attribute them: a bad pipeline throws at
 * the op that asked for it, and a rejected batch is replayed launch by launch (queue.ts). Errors
 * nobody took (a driver that reports later, an internal error while kernels run) stay queued and
 * are raised at the next read, never returned as stale memory.
 */
export class ErrorSink {
  /** Queued messages with their sequence numbers (marks are sequence numbers). */
  #messages: { seq: number; text: string }[] = [];
  #next = 0;
  /** The sequence number of the latest message dropped by the bound. */
  #lastDropped = -1;

  constructor(device: GPUDevice) {
    device.addEventListener('uncapturederror', (ev) => {
      const seq = this.#next++;
      // Keep a bounded number: a broken device may report thousands.
      if (this.#messages.length < 64) this.#messages.push({ seq, text: (ev as GPUUncapturedErrorEvent).error.message });
      else this.#lastDropped = seq;
    });
  }

  mark(): number {
    return this.#next;
  }

  /** The messages reported since `mark`, removed from the queue (they are now the caller's). */
  take(mark: number): string[] {
    if (this.#next === mark) return [];
    const mine = this.#messages.filter((m) => m.seq >= mark);
    this.#messages = this.#messages.filter((m) => m.seq < mark);
    if (!mine.length && this.#lastDropped >= mark) return ['(error messages dropped: too many errors)'];
    return mine.map((m) => m.text);
  }

  /** Puts taken messages back (nobody could be blamed for them): the next read raises them. */
  requeue(messages: string[]): void {
    this.#messages.unshift(...messages.map((text) => ({ seq: -1, text })));
  }

  /** Every message not taken by a caller, removed from the queue. */
  drain(): string[] {
    const out = this.#messages.map((m) => m.text);
    this.#messages = [];
    return out;
  }
}

const sinks = new WeakMap<GPUDevice, ErrorSink>();

/** The one sink of a device (its listener is added once). */
export function errorSink(device: GPUDevice): ErrorSink {
  let s = sinks.get(device);
  if (!s) sinks.set(device, (s = new ErrorSink(device)));
  return s;
}
