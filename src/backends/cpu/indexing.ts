/**
 * Walks an n-d index space in row-major order, keeping each operand's storage index up to date
 * incrementally (an odometer), so the CPU kernels do no division per element.
 */
export class StridedWalker {
  readonly coords: number[];
  readonly e: number[];
  constructor(
    readonly shape: readonly number[],
    readonly strides: readonly (readonly number[])[],
    offsets: readonly number[],
  ) {
    this.coords = new Array<number>(shape.length).fill(0);
    this.e = offsets.slice();
  }

  /** Moves to the next index in row-major order. */
  next(): void {
    const { shape, strides, coords, e } = this;
    for (let d = shape.length - 1; d >= 0; d--) {
      coords[d]++;
      for (let k = 0; k < e.length; k++) e[k] += strides[k][d];
      if (coords[d] < shape[d]) return;
      for (let k = 0; k < e.length; k++) e[k] -= strides[k][d] * shape[d];
      coords[d] = 0;
    }
  }
}
