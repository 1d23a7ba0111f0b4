/**
 * Uniform blocks declared once (ONNX Runtime WebGPU's registerUniforms idea): one declaration
 * gives both the WGSL struct a kernel reads and a typed writer that lays the values out as that
 * struct (WGSL's uniform address space rules), so a launcher and its kernel cannot drift apart
 * field by field.
 *
 *   const SUM_PARAMS = uniformStruct('SumParams', { mn: 'u32', slices: 'u32', pad0: 'u32', pad1: 'u32' });
 *   SUM_PARAMS.wgsl                          // struct SumParams { mn: u32, slices: u32, pad0: u32, pad1: u32, }
 *   SUM_PARAMS.write({ mn, slices })          // ArrayBuffer of 16 bytes; pad* fields may be left out (0)
 *
 * Field types: a scalar ('u32', 'i32', 'f32'), a vector ('vec4<u32>', 'vec4<i32>', 'vec4<f32>':
 * up to 4 values), or an array of vec4s ({ array: 'i32', length: 8 }: array<vec4<i32>, 2>, up to
 * `length` values, row-major, zero-padded). Missing array elements are written as 0.
 */

export type Scalar = 'u32' | 'i32' | 'f32';
export type Vec4 = 'vec4<u32>' | 'vec4<i32>' | 'vec4<f32>';
/**
 * `length` values of one kind, packed 4 to a vec4 (WGSL arrays of scalars in a uniform block need
 * a 16-byte stride). With `stride`, the values may also be given as a list of rows, row r filling
 * values [r * stride, r * stride + row length) (e.g. one row of strides per input).
 */
export interface Vec4Array {
  array: Scalar;
  length: number;
  stride?: number;
}
export type FieldType = Scalar | Vec4 | Vec4Array;
export type StructDecl = Record<string, FieldType>;

/** A field's value: a number per scalar, a list per vector or array, or rows for an array with a stride. */
export type FieldValue<T extends FieldType> = T extends Scalar
  ? number
  : T extends { stride: number }
    ? readonly number[] | readonly (readonly number[])[]
    : readonly number[];

/** The values of a struct; pad* fields may be omitted (0). */
export type UniformValues<D extends StructDecl> = {
  [K in keyof D as K extends `pad${string}` ? never : K]: FieldValue<D[K]>;
} & {
  [K in keyof D as K extends `pad${string}` ? K : never]?: FieldValue<D[K]>;
};

interface Field {
  name: string;
  kind: Scalar;
  /** Byte offset in the block. */
  offset: number;
  /** Values: 1 (scalar), 4 (vec4) or the array's length rounded up to whole vec4s. */
  count: number;
  /** Values per row when the array may be given as rows. */
  stride: number;
  wgsl: string;
  scalar: boolean;
}

export interface UniformStruct<D extends StructDecl> {
  readonly name: string;
  /** The WGSL struct declaration. */
  readonly wgsl: string;
  /** Bytes of the block (a multiple of 16). */
  readonly size: number;
  /** The block for these values, laid out as the struct. */
  write(values: UniformValues<D>): ArrayBuffer;
}

const roundUp = (x: number, a: number): number => Math.ceil(x / a) * a;

function fieldOf(name: string, t: FieldType, at: number): Field {
  if (typeof t === 'object') {
    const vecs = Math.ceil(t.length / 4);
    return {
      name,
      kind: t.array,
      offset: roundUp(at, 16),
      count: vecs * 4,
      stride: t.stride ?? 0,
      wgsl: `array<vec4<${t.array}>, ${vecs}>`,
      scalar: false,
    };
  }
  if (t.startsWith('vec4'))
    return { name, kind: t.slice(5, 8) as Scalar, offset: roundUp(at, 16), count: 4, stride: 0, wgsl: t, scalar: false };
  return { name, kind: t as Scalar, offset: roundUp(at, 4), count: 1, stride: 0, wgsl: t, scalar: true };
}

/** Declares a uniform struct: its WGSL text and its writer (see the module comment). */
export function uniformStruct<D extends StructDecl>(name: string, decl: D): UniformStruct<D> {
  const fields: Field[] = [];
  let at = 0;
  for (const [n, t] of Object.entries(decl)) {
    const f = fieldOf(n, t, at);
    fields.push(f);
    at = f.offset + 4 * f.count;
  }
  const size = roundUp(Math.max(at, 16), 16);
  // Scalars four to a line, vectors and arrays on lines of their own (as the hand-written structs were).
  const lines: string[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length) lines.push(`  ${run.join(' ')}`);
    run = [];
  };
  for (const f of fields) {
    if (!f.scalar) {
      flush();
      lines.push(`  ${f.name}: ${f.wgsl},`);
      continue;
    }
    run.push(`${f.name}: ${f.wgsl},`);
    if (run.length === 4) flush();
  }
  flush();
  const wgsl = `struct ${name} {\n${lines.join('\n')}\n}`;
  return {
    name,
    wgsl,
    size,
    write(values: UniformValues<D>): ArrayBuffer {
      const buf = new ArrayBuffer(size);
      const dv = new DataView(buf);
      const v = values as Record<string, number | readonly number[] | readonly (readonly number[])[] | undefined>;
      for (const f of fields) {
        const x = v[f.name];
        if (x === undefined) continue;
        if (typeof x === 'number') {
          put(dv, f.kind, f.offset, x);
          continue;
        }
        if (f.stride && x.length && typeof x[0] !== 'number') {
          const rows = x as readonly (readonly number[])[];
          if (rows.length * f.stride > f.count)
            throw new Error(`uniforms ${name}.${f.name}: ${rows.length} rows of ${f.stride} for ${f.count} values`);
          for (let r = 0; r < rows.length; r++) {
            const row = rows[r];
            if (row.length > f.stride) throw new Error(`uniforms ${name}.${f.name}: a row of ${row.length} values for ${f.stride}`);
            for (let j = 0; j < row.length; j++) put(dv, f.kind, f.offset + 4 * (r * f.stride + j), row[j] ?? 0);
          }
          continue;
        }
        const list = x as readonly number[];
        if (list.length > f.count) throw new Error(`uniforms ${name}.${f.name}: ${list.length} values for ${f.count}`);
        for (let j = 0; j < list.length; j++) put(dv, f.kind, f.offset + 4 * j, list[j] ?? 0);
      }
      return buf;
    },
  };
}

function put(dv: DataView, kind: Scalar, offset: number, x: number): void {
  if (kind === 'f32') dv.setFloat32(offset, x, true);
  else if (kind === 'i32') dv.setInt32(offset, x, true);
  else dv.setUint32(offset, x >>> 0, true);
}

/** The u32 bits of an f32 value (for a field whose words the kernel bitcasts per element). */
export function f32Bits(x: number): number {
  F32[0] = x;
  return U32[0];
}
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
