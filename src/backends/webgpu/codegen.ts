import { dtypeInfo, type ComputeKind, type DType } from '../../tensor/dtype.js';
import { XpuShapeError } from '../../errors.js';

/**
 * WGSL preludes that specialise the kernel files in kernels/: storage bindings, per-dtype
 * loaders and storers over raw u32 words, and the uniform Params struct. Shapes never enter the
 * source (they travel in uniforms), so a pipeline is compiled once per (kernel, dtypes, rank-free
 * parameters).
 */

export const MAX_RANK = 8;

/**
 * Most elements a map or rows launch indexes: element and word indices are u32 and element
 * offsets i32 in the kernels, so more would wrap into wrong addresses rather than fail.
 * (Reductions go past it in levels: reduce_split.ts.)
 */
export const MAX_KERNEL_ELEMENTS = 2 ** 31 - 1;

export function checkKernelElements(op: string, n: number): void {
  if (n > MAX_KERNEL_ELEMENTS) {
    throw new XpuShapeError('too many elements for one GPU kernel', {
      op,
      arg: 'input',
      expected: `at most ${MAX_KERNEL_ELEMENTS} elements (2^31 - 1: 32-bit indices)`,
      got: String(n),
    });
  }
}

/**
 * WGSL expression that reads element `e` (u32) of binding `buf` as the dtype's compute type.
 * `word` spells the access to word `w` (default `buf[w]`; the vectorised map binds vec4 words).
 */
export function loadExpr(dtype: DType, buf: string, e: string, word: (w: string) => string = (w) => `${buf}[${w}]`): string {
  switch (dtype) {
    case 'float32':
      return `bitcast<f32>(${word(e)})`;
    case 'float16':
      return `unpack2x16float(${word(`${e} >> 1u`)})[${e} & 1u]`;
    case 'int32':
      return `bitcast<i32>(${word(e)})`;
    case 'uint32':
      return word(e);
    case 'int8':
      return `extractBits(bitcast<i32>(${word(`${e} >> 2u`)}), (${e} & 3u) * 8u, 8u)`;
    case 'uint8':
    case 'bool':
      return `extractBits(${word(`${e} >> 2u`)}, (${e} & 3u) * 8u, 8u)`;
  }
}

/** Element `sub` (a constant) of the word expression `w`, in the dtype's compute type. */
export function extractExpr(dtype: DType, w: string, sub: number): string {
  switch (dtype) {
    case 'float32':
      return `bitcast<f32>(${w})`;
    case 'float16':
      return `unpack2x16float(${w})[${sub}]`;
    case 'int32':
      return `bitcast<i32>(${w})`;
    case 'uint32':
      return w;
    case 'int8':
      return `extractBits(bitcast<i32>(${w}), ${sub * 8}u, 8u)`;
    case 'uint8':
    case 'bool':
      return `extractBits(${w}, ${sub * 8}u, 8u)`;
  }
}

/** Converts a WGSL value between compute kinds, matching convertKind() in tensor/dtype.ts. */
export function convertExpr(x: string, from: ComputeKind, to: ComputeKind): string {
  if (from === to) return x;
  if (to === 'f32') return `f32(${x})`;
  if (from === 'f32') return to === 'i32' ? `i32(${x})` : `bitcast<u32>(i32(${x}))`;
  return `bitcast<${to}>(${x})`;
}

export const elementsPerWord = (d: DType): number => 4 / dtypeInfo(d).itemsize;

/** The u32 word packing the values `v` (EPW of them, in the dtype's compute type). */
export function packWordExpr(dtype: DType, v: readonly string[]): string {
  const r = dtypeInfo(dtype).compute;
  switch (dtype) {
    case 'float32':
    case 'int32':
      return `bitcast<u32>(${v[0]})`;
    case 'uint32':
      return v[0];
    case 'float16':
      return `pack2x16float(vec2<f32>(${v[0]}, ${v[1]}))`;
    case 'int8':
    case 'uint8':
    case 'bool': {
      const b = (j: number) => (r === 'i32' ? `(bitcast<u32>(${v[j]}) & 0xffu)` : `(${v[j]} & 0xffu)`);
      return `${b(0)} | (${b(1)} << 8u) | (${b(2)} << 16u) | (${b(3)} << 24u)`;
    }
  }
}

/**
 * fn write_word(w): computes the EPW elements of output word w and stores them packed. Elements
 * past the end (the tail of the last word) are computed at the last valid index and masked out,
 * which keeps the code branch-free. `store` spells the store of word w (the vectorised map binds
 * `out` as vec4 words).
 */
export function writeWordFn(dtype: DType, store: (w: string) => string = (w) => `out[${w}]`): string {
  const epw = elementsPerWord(dtype);
  const lines = ['  let i0 = w * EPW;', '  let v0 = element(i0);'];
  for (let j = 1; j < epw; j++) lines.push(`  let v${j} = select(R(0), element(min(i0 + ${j}u, P.numel - 1u)), i0 + ${j}u < P.numel);`);
  const vals = Array.from({ length: epw }, (_, j) => `v${j}`);
  return `fn write_word(w: u32) {\n${lines.join('\n')}\n  ${store('w')} = ${packWordExpr(dtype, vals)};\n}`;
}

/**
 * fn element(i) -> R for a map kernel of `rank` (after merging dims): the coordinates of output
 * element i and each input's storage index e0..eN, unrolled for the rank so that uniforms are read
 * at constant indices and the outermost dim needs no division; then the kernel's body. Kernels
 * that read coordinates get them in `c`.
 */
export function mapElementFn(kernel: { wgsl: string; lazy?: boolean; usesCoords?: boolean }, nin: number, rank: number): string {
  const lines: string[] = [];
  for (let k = 0; k < nin; k++) lines.push(`  var e${k} = P.off[${k}].x;`);
  if (kernel.usesCoords) lines.push(`  var c: array<u32, ${MAX_RANK}>;`);
  if (rank > 0) lines.push('  var rem = i;');
  for (let d = rank - 1; d >= 0; d--) {
    const at = `[${Math.floor(d / 4)}][${d % 4}]`;
    if (d > 0) lines.push(`  let c${d} = rem % P.shape${at};`, `  rem = rem / P.shape${at};`);
    else lines.push('  let c0 = rem;');
    for (let k = 0; k < nin; k++) lines.push(`  e${k} += i32(c${d}) * P.st[${2 * k + Math.floor(d / 4)}]${`[${d % 4}]`};`);
    if (kernel.usesCoords) lines.push(`  c[${d}] = c${d};`);
  }
  if (!kernel.lazy) for (let k = 0; k < nin; k++) lines.push(`  let x${k} = ld${k}(e${k});`);
  return `fn element(i: u32) -> R {\n${lines.join('\n')}\n  ${kernel.wgsl}\n}`;
}

export function enables(f16: boolean): string {
  return f16 ? 'enable f16;\n' : '';
}

/** Binding declarations: 0 = uniforms, 1 = out, 2.. = inputs (all raw u32 words). */
export function bindings(numInputs: number, extra: string[] = []): string {
  const lines = ['@group(0) @binding(0) var<uniform> P: Params;', '@group(0) @binding(1) var<storage, read_write> out: array<u32>;'];
  for (let k = 0; k < numInputs; k++) lines.push(`@group(0) @binding(${k + 2}) var<storage, read> in${k}: array<u32>;`);
  extra.forEach((name, j) => lines.push(`@group(0) @binding(${numInputs + 2 + j}) var<storage, read> ${name}: array<u32>;`));
  return lines.join('\n');
}

/** A typed loader `fn ld{k}(e: i32) -> {to}` for input k (`word`: as in loadExpr). */
export function loaderFn(k: number, dtype: DType, to: ComputeKind, word?: (w: string) => string): string {
  const from = dtypeInfo(dtype).compute;
  return `fn ld${k}(e: i32) -> ${to} {\n  let u = u32(e);\n  return ${convertExpr(loadExpr(dtype, `in${k}`, 'u', word), from, to)};\n}`;
}

/**
 * Little-endian packing of uniform values in the order given (hand-written kernels in tests;
 * launchers declare their uniform structs once, uniforms.ts).
 */
export class UniformWriter {
  readonly #u32: number[] = [];
  readonly #kinds: ('u' | 'i' | 'f')[] = [];

  u32(...v: number[]): this {
    for (const x of v) {
      this.#u32.push(x);
      this.#kinds.push('u');
    }
    return this;
  }

  i32(...v: number[]): this {
    for (const x of v) {
      this.#u32.push(x);
      this.#kinds.push('i');
    }
    return this;
  }

  f32(...v: number[]): this {
    for (const x of v) {
      this.#u32.push(x);
      this.#kinds.push('f');
    }
    return this;
  }

  /** An array of `len` (padded) values of one kind, e.g. a shape as array<vec4<u32>, 2>. */
  array(kind: 'u' | 'i', values: readonly number[], len: number): this {
    for (let j = 0; j < len; j++) {
      this.#u32.push(values[j] ?? 0);
      this.#kinds.push(kind);
    }
    return this;
  }

  /** Pads to a 16-byte boundary (vec4 alignment). */
  align16(): this {
    while (this.#u32.length % 4) {
      this.#u32.push(0);
      this.#kinds.push('u');
    }
    return this;
  }

  finish(): ArrayBuffer {
    this.align16();
    const buf = new ArrayBuffer(this.#u32.length * 4);
    const dv = new DataView(buf);
    this.#u32.forEach((v, j) => {
      const kind = this.#kinds[j];
      if (kind === 'f') dv.setFloat32(j * 4, v, true);
      else if (kind === 'i') dv.setInt32(j * 4, v, true);
      else dv.setUint32(j * 4, v >>> 0, true);
    });
    return buf;
  }
}
