/**
 * A small GGUF writer for tests, written from the spec (ggml-org/ggml docs/gguf.md) and kept
 * apart from src/io: tests build valid files with it, then break them on purpose.
 */

export const VT = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9, U64: 10, I64: 11, F64: 12 } as const;

export interface KV {
  key: string;
  type: number;
  value: unknown;
  /** Arrays: the item type (nested arrays: an ARR item type with `nested` describing inner items). */
  itemType?: number;
  nested?: number;
}

export interface TensorSpec {
  name: string;
  /** GGUF order (ne[0] first). */
  dims: number[];
  /** ggml type id. */
  type: number;
  data: Uint8Array;
  /** Overrides the computed offset (relative to the data section). */
  offset?: number;
}

class Out {
  private chunks: number[] = [];
  u8(v: number) {
    this.chunks.push(v & 255);
  }
  bytes(b: Uint8Array) {
    for (const x of b) this.chunks.push(x);
  }
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.bytes(b);
  }
  u64(v: number | bigint) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
    this.bytes(b);
  }
  str(s: string) {
    const e = new TextEncoder().encode(s);
    this.u64(e.length);
    this.bytes(e);
  }
  get length() {
    return this.chunks.length;
  }
  result() {
    return Uint8Array.from(this.chunks);
  }
}

function writeValue(o: Out, type: number, v: unknown, itemType?: number, nested?: number): void {
  const dv = (n: number, f: (d: DataView) => void) => {
    const b = new Uint8Array(n);
    f(new DataView(b.buffer));
    o.bytes(b);
  };
  switch (type) {
    case VT.U8:
      o.u8(v as number);
      break;
    case VT.I8:
      o.u8((v as number) & 255);
      break;
    case VT.U16:
      dv(2, (d) => d.setUint16(0, v as number, true));
      break;
    case VT.I16:
      dv(2, (d) => d.setInt16(0, v as number, true));
      break;
    case VT.U32:
      o.u32(v as number);
      break;
    case VT.I32:
      dv(4, (d) => d.setInt32(0, v as number, true));
      break;
    case VT.F32:
      dv(4, (d) => d.setFloat32(0, v as number, true));
      break;
    case VT.F64:
      dv(8, (d) => d.setFloat64(0, v as number, true));
      break;
    case VT.BOOL:
      o.u8(v === true ? 1 : v === false ? 0 : (v as number));
      break;
    case VT.STR:
      o.str(v as string);
      break;
    case VT.U64:
    case VT.I64:
      o.u64(v as bigint | number);
      break;
    case VT.ARR: {
      const items = v as unknown[];
      o.u32(itemType!);
      o.u64(items.length);
      for (const it of items) writeValue(o, itemType!, it, nested, undefined);
      break;
    }
    default:
      o.u32(0); // unknown types write nothing meaningful; tests patch bytes instead
  }
}

const BLOCK: Record<number, [number, number]> = {
  0: [1, 4],
  1: [1, 2],
  2: [32, 18],
  3: [32, 20],
  6: [32, 22],
  7: [32, 24],
  8: [32, 34],
  10: [256, 84],
  11: [256, 110],
  12: [256, 144],
  13: [256, 176],
  14: [256, 210],
  30: [1, 2],
};

/** Bytes a tensor of `dims` and ggml `type` takes. */
export function tensorBytes(type: number, dims: number[]): number {
  const [bs, ts] = BLOCK[type];
  return (dims.reduce((a, b) => a * b, 1) / bs) * ts;
}

export function buildGguf(spec: { version?: number; kv?: KV[]; tensors?: TensorSpec[]; alignment?: number; magic?: string }): Uint8Array {
  const alignment = spec.alignment ?? 32;
  const kv = spec.kv ?? [];
  const tensors = spec.tensors ?? [];
  const o = new Out();
  o.bytes(new TextEncoder().encode(spec.magic ?? 'GGUF'));
  o.u32(spec.version ?? 3);
  o.u64(tensors.length);
  o.u64(kv.length);
  for (const { key, type, value, itemType, nested } of kv) {
    o.str(key);
    o.u32(type);
    writeValue(o, type, value, itemType, nested);
  }
  let at = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(t.offset ?? at);
    at = Math.ceil(((t.offset ?? at) + t.data.length) / alignment) * alignment;
    o.str(t.name);
    o.u32(t.dims.length);
    for (const d of t.dims) o.u64(d);
    o.u32(t.type);
    o.u64(offsets[offsets.length - 1]);
  }
  while (o.length % alignment !== 0) o.u8(0);
  const header = o.result();
  const dataLen = tensors.reduce((m, t, i) => Math.max(m, offsets[i] + t.data.length), 0);
  const out = new Uint8Array(header.length + Math.ceil(dataLen / alignment) * alignment);
  out.set(header);
  tensors.forEach((t, i) => out.set(t.data, header.length + offsets[i]));
  return out;
}
