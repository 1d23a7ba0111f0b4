import { dtypeInfo, type ComputeKind, type DType } from '../../tensor/dtype.js';

/**
 * WGSL preludes that specialise the kernel files in kernels/: storage bindings, per-dtype
 * loaders and storers over raw u32 words, and the uniform Params struct. Shapes never enter the
 * source (they travel in uniforms), so a pipeline is compiled once per (kernel, dtypes, rank-free
 * parameters).
 */

export const MAX_RANK = 8;

/** WGSL expression that reads element `e` (u32) of binding `buf` as the dtype's compute type. */
export function loadExpr(dtype: DType, buf: string, e: string): string {
  switch (dtype) {
    case 'float32': return `bitcast<f32>(${buf}[${e}])`;
    case 'float16': return `unpack2x16float(${buf}[${e} >> 1u])[${e} & 1u]`;
    case 'int32': return `bitcast<i32>(${buf}[${e}])`;
    case 'uint32': return `${buf}[${e}]`;
    case 'int8': return `extractBits(bitcast<i32>(${buf}[${e} >> 2u]), (${e} & 3u) * 8u, 8u)`;
    case 'uint8': case 'bool': return `extractBits(${buf}[${e} >> 2u], (${e} & 3u) * 8u, 8u)`;
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

/** fn store_word(w, v): packs EPW values of the output's compute type into word w of `out`. */
export function storeWordFn(dtype: DType): string {
  const r = dtypeInfo(dtype).compute;
  let body: string;
  switch (dtype) {
    case 'float32': case 'int32': body = 'out[w] = bitcast<u32>(v[0]);'; break;
    case 'uint32': body = 'out[w] = v[0];'; break;
    case 'float16': body = 'out[w] = pack2x16float(vec2<f32>(v[0], v[1]));'; break;
    case 'int8': case 'uint8': case 'bool': {
      const b = (j: number) => (r === 'i32' ? `(bitcast<u32>(v[${j}]) & 0xffu)` : `(v[${j}] & 0xffu)`);
      body = `out[w] = ${b(0)} | (${b(1)} << 8u) | (${b(2)} << 16u) | (${b(3)} << 24u);`;
      break;
    }
  }
  return `fn store_word(w: u32, v: array<R, EPW>) {\n  ${body}\n}`;
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

/** A typed loader `fn ld{k}(e: i32) -> {to}` for input k. */
export function loaderFn(k: number, dtype: DType, to: ComputeKind): string {
  const from = dtypeInfo(dtype).compute;
  return `fn ld${k}(e: i32) -> ${to} {\n  let u = u32(e);\n  return ${convertExpr(loadExpr(dtype, `in${k}`, 'u'), from, to)};\n}`;
}

/** Little-endian packing of uniform values, laid out as the WGSL struct expects. */
export class UniformWriter {
  readonly #u32: number[] = [];
  readonly #kinds: ('u' | 'i' | 'f')[] = [];

  u32(...v: number[]): this {
    for (const x of v) { this.#u32.push(x); this.#kinds.push('u'); }
    return this;
  }

  i32(...v: number[]): this {
    for (const x of v) { this.#u32.push(x); this.#kinds.push('i'); }
    return this;
  }

  f32(...v: number[]): this {
    for (const x of v) { this.#u32.push(x); this.#kinds.push('f'); }
    return this;
  }

  /** An array of `len` (padded) values of one kind, e.g. a shape as array<vec4<u32>, 2>. */
  array(kind: 'u' | 'i', values: readonly number[], len: number): this {
    for (let j = 0; j < len; j++) { this.#u32.push(values[j] ?? 0); this.#kinds.push(kind); }
    return this;
  }

  /** Pads to a 16-byte boundary (vec4 alignment). */
  align16(): this {
    while (this.#u32.length % 4) { this.#u32.push(0); this.#kinds.push('u'); }
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
