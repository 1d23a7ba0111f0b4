import { dtypeInfo } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { now, recordTiming } from './timing.js';

/** Collects one collective's timing (timing.ts) as it runs: staging in, engine, staging out. */
export class Clock {
  readonly #start = now();
  #stageIn = 0;
  #stageOut = 0;
  #engine = 0;

  constructor(
    readonly op: string,
    readonly input: Tensor,
  ) {}

  async stageIn<T>(fn: () => Promise<T>): Promise<T> {
    const t = now();
    try {
      return await fn();
    } finally {
      this.#stageIn += now() - t;
    }
  }

  async stageOut<T>(fn: () => Promise<T> | T): Promise<T> {
    const t = now();
    try {
      return await fn();
    } finally {
      this.#stageOut += now() - t;
    }
  }

  engine(seconds: number): void {
    this.#engine += seconds * 1e3;
  }

  done(): void {
    recordTiming({
      op: this.op,
      bytes: this.input.numel * dtypeInfo(this.input.dtype).itemsize,
      stageInMs: this.#stageIn,
      engineMs: this.#engine,
      stageOutMs: this.#stageOut,
      totalMs: now() - this.#start,
    });
  }
}
