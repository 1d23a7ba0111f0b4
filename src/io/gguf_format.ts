import { XpuFormatError } from '../errors.js';
import { ggmlTypeById, type GgmlTypeInfo } from '../quant/gguf_types.js';
import type { ByteSource } from './byte_source.js';

/**
 * The GGUF layout (ggml-org/ggml docs/gguf.md), versions 2 and 3, little-endian:
 *   u32 magic "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count
 *   metadata_kv_count x { string key, u32 value_type, value }
 *   tensor_count x { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
 *   padding to general.alignment (default 32), then the data section; each tensor's offset is
 *   relative to it and a multiple of the alignment.
 * A string is u64 byte length + UTF-8 bytes (no NUL). An array is u32 item type + u64 count +
 * items (arrays may nest). v1 (32-bit counts) is gone from ggml and refused here; v3 only added
 * big-endian files, which carry no marker: a version that reads as 2 or 3 only byte-swapped is
 * how ggml spots them, and so do we (refused: the data would need swapping too).
 *
 * Parsing reads the header through a chunked cursor over positioned reads, so only the metadata
 * and tensor infos are read, never the tensor data. Every malformed case is an XpuFormatError.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;
/** Arrays of arrays deeper than this are refused (the format allows nesting; files use none). */
export const GGUF_MAX_ARRAY_DEPTH = 8;
/** The spec's limit on keys; tensor names are at most 64 bytes (GGML_MAX_NAME). */
export const GGUF_MAX_KEY_BYTES = 65535;
export const GGUF_MAX_NAME_BYTES = 64;
/** One string above this is refused before allocating (a vocabulary is a few MB in all). */
export const GGUF_MAX_STRING_BYTES = 1 << 28;

/** Metadata value types (gguf_metadata_value_type). */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Fixed-size item types and their byte sizes. */
const FIXED_SIZE: Partial<Record<GgufValueType, number>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

/**
 * A metadata value as JavaScript holds it: 8- to 32-bit integers and floats are numbers; 64-bit
 * integers are numbers when they are safe integers, bigints otherwise; arrays of fixed-size
 * numbers are typed arrays (64-bit integers: BigInt64Array / BigUint64Array, exact); arrays of
 * strings, bools or arrays are plain arrays.
 */
export type GgufValue = number | bigint | boolean | string | GgufArray;
export type GgufArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array
  | boolean[]
  | string[]
  | GgufArray[];

/** The declared type of a metadata value: its type, and for arrays the item type (recursively). */
export interface GgufTypeDesc {
  type: GgufValueType;
  items?: GgufTypeDesc;
}

export interface GgufTensorInfo {
  name: string;
  /** GGUF's dims, innermost (contiguous) first: ne[0], ne[1], ... */
  dims: number[];
  /** Row-major shape (dims reversed), as tensors in xpu and PyTorch are written. */
  shape: number[];
  type: GgmlTypeInfo;
  /** Elements (product of dims). */
  count: number;
  /** Offset relative to the data section, as stored. */
  offset: number;
  /** Absolute byte position of the data in the file, and its length. */
  begin: number;
  byteLength: number;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  types: Map<string, GgufTypeDesc>;
  /** Tensor infos in file order (the order of the header). */
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute position of the data section. */
  dataStart: number;
}

const OP = 'gguf';

/** Reads a header sequentially through positioned reads of ~1 MiB. */
class Cursor {
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(this.buf.buffer);
  private bufStart = 0;
  /** Absolute position of the next byte to parse. */
  pos = 0;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly src: ByteSource) {}

  fail(message: string, expected?: string, got?: string): never {
    throw new XpuFormatError(`${this.src.name}: ${message}`, { op: OP, arg: 'file', expected, got });
  }

  get remaining(): number {
    return this.src.size - this.pos;
  }

  /** Makes `n` bytes from `pos` available, or fails as a truncated file. */
  async need(n: number, what: string): Promise<void> {
    if (this.pos + n <= this.bufStart + this.buf.length) return;
    if (n > this.remaining)
      this.fail(`file ends inside ${what} (truncated?)`, `${n} more bytes at offset ${this.pos}`, `${Math.max(0, this.remaining)}`);
    const bytes = await this.src.read(this.pos, Math.max(n, 1 << 20));
    if (bytes.length < n) this.fail(`file ends inside ${what} (truncated?)`, `${n} bytes at offset ${this.pos}`, `${bytes.length}`);
    this.buf = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.bufStart = this.pos;
  }

  private at(n: number): number {
    const i = this.pos - this.bufStart;
    this.pos += n;
    return i;
  }

  // Callers have called need() for these bytes.
  u8(): number {
    return this.view.getUint8(this.at(1));
  }
  u32(): number {
    return this.view.getUint32(this.at(4), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.at(8), true);
  }
  bytes(n: number): Uint8Array {
    const i = this.at(n);
    return this.buf.subarray(i, i + n);
  }

  async readU32(what: string): Promise<number> {
    await this.need(4, what);
    return this.u32();
  }

  /** A u64 that must be a count or offset JavaScript can hold exactly. */
  async readSize(what: string): Promise<number> {
    await this.need(8, what);
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} is implausibly large`, `<= ${Number.MAX_SAFE_INTEGER}`, v.toString());
    return Number(v);
  }

  async readString(what: string, maxBytes = GGUF_MAX_STRING_BYTES): Promise<string> {
    const n = await this.readSize(`the length of ${what}`);
    if (n > maxBytes) this.fail(`${what} is too long`, `<= ${maxBytes} bytes`, `${n}`);
    if (n > this.remaining) this.fail(`${what} runs past the end of the file`, `<= ${this.remaining} bytes`, `${n}`);
    await this.need(n, what);
    try {
      return this.utf8.decode(this.bytes(n));
    } catch {
      this.fail(`${what} is not valid UTF-8`);
    }
  }

  /** A fresh, aligned copy of the next n bytes, read in chunks for long arrays. */
  async copy(n: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const step = Math.min(n - done, 1 << 20);
      await this.need(step, what);
      out.set(this.bytes(step), done);
      done += step;
    }
    return out;
  }
}

const typeName = (t: number): string => GgufValueType[t] ?? `unknown (${t})`;

/** Reads one value of type `type` (depth counts enclosing arrays). */
async function readValue(c: Cursor, type: number, what: string, depth: number): Promise<{ value: GgufValue; desc: GgufTypeDesc }> {
  switch (type) {
    case GgufValueType.STRING:
      return { value: await c.readString(what), desc: { type } };
    case GgufValueType.ARRAY:
      return readArray(c, what, depth + 1);
    case GgufValueType.BOOL: {
      await c.need(1, what);
      const b = c.u8();
      // The spec: anything but 0 or 1 means a broken model or writer.
      if (b > 1) c.fail(`${what}: a bool must be 0 or 1`, '0 or 1', `${b}`);
      return { value: b === 1, desc: { type } };
    }
  }
  const size = FIXED_SIZE[type as GgufValueType];
  if (size === undefined) c.fail(`${what} has an unknown value type`, 'a gguf_metadata_value_type (0..12)', `${type}`);
  await c.need(size, what);
  const b = c.bytes(size);
  const dv = new DataView(b.buffer, b.byteOffset, size);
  let value: number | bigint;
  switch (type) {
    case GgufValueType.UINT8:
      value = dv.getUint8(0);
      break;
    case GgufValueType.INT8:
      value = dv.getInt8(0);
      break;
    case GgufValueType.UINT16:
      value = dv.getUint16(0, true);
      break;
    case GgufValueType.INT16:
      value = dv.getInt16(0, true);
      break;
    case GgufValueType.UINT32:
      value = dv.getUint32(0, true);
      break;
    case GgufValueType.INT32:
      value = dv.getInt32(0, true);
      break;
    case GgufValueType.FLOAT32:
      value = dv.getFloat32(0, true);
      break;
    case GgufValueType.FLOAT64:
      value = dv.getFloat64(0, true);
      break;
    default: {
      const v = type === GgufValueType.UINT64 ? dv.getBigUint64(0, true) : dv.getBigInt64(0, true);
      value = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
  }
  return { value, desc: { type } };
}

const TYPED: Partial<Record<GgufValueType, (b: ArrayBufferLike) => GgufArray>> = {
  [GgufValueType.UINT8]: (b) => new Uint8Array(b),
  [GgufValueType.INT8]: (b) => new Int8Array(b),
  [GgufValueType.UINT16]: (b) => new Uint16Array(b),
  [GgufValueType.INT16]: (b) => new Int16Array(b),
  [GgufValueType.UINT32]: (b) => new Uint32Array(b),
  [GgufValueType.INT32]: (b) => new Int32Array(b),
  [GgufValueType.FLOAT32]: (b) => new Float32Array(b),
  [GgufValueType.FLOAT64]: (b) => new Float64Array(b),
  [GgufValueType.UINT64]: (b) => new BigUint64Array(b),
  [GgufValueType.INT64]: (b) => new BigInt64Array(b),
};

async function readArray(c: Cursor, what: string, depth: number): Promise<{ value: GgufArray; desc: GgufTypeDesc }> {
  if (depth > GGUF_MAX_ARRAY_DEPTH) c.fail(`${what}: arrays nested too deeply`, `<= ${GGUF_MAX_ARRAY_DEPTH} levels`, `${depth}`);
  await c.need(12, what);
  const itemType = c.u32();
  const n64 = c.u64();
  // Every item takes at least one byte (a string or array header more), so a count above the
  // bytes left is a broken file; checking it first keeps a bad count from allocating.
  const minItem =
    FIXED_SIZE[itemType as GgufValueType] ?? (itemType === GgufValueType.STRING ? 8 : itemType === GgufValueType.ARRAY ? 12 : 1);
  if (n64 * BigInt(minItem) > BigInt(c.remaining))
    c.fail(`${what}: array of ${n64} items runs past the end of the file`, `<= ${Math.floor(c.remaining / minItem)} items`, n64.toString());
  const n = Number(n64);
  const size = FIXED_SIZE[itemType as GgufValueType];
  if (size !== undefined && itemType !== GgufValueType.BOOL) {
    const bytes = await c.copy(n * size, what);
    // GGUF is little-endian and the reader refuses big-endian hosts, so the bytes are the values.
    return { value: TYPED[itemType as GgufValueType]!(bytes.buffer), desc: { type: GgufValueType.ARRAY, items: { type: itemType } } };
  }
  if (itemType !== GgufValueType.BOOL && itemType !== GgufValueType.STRING && itemType !== GgufValueType.ARRAY) {
    c.fail(`${what}: array of an unknown value type`, 'a gguf_metadata_value_type (0..12)', `${itemType}`);
  }
  const items: GgufValue[] = [];
  let itemDesc: GgufTypeDesc = { type: itemType };
  for (let i = 0; i < n; i++) {
    const { value, desc } = await readValue(c, itemType, `${what}[${i}]`, depth);
    items.push(value);
    if (i === 0) itemDesc = desc;
  }
  return { value: items as GgufArray, desc: { type: GgufValueType.ARRAY, items: itemDesc } };
}

async function readPreamble(c: Cursor): Promise<{ version: number; nTensors: number; nKv: number }> {
  await c.need(4, 'the magic');
  const magic = c.u32();
  if (magic !== GGUF_MAGIC) {
    const got = [...new Uint8Array(new Uint32Array([magic]).buffer)]
      .map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`))
      .join('');
    c.fail('not a GGUF file (bad magic)', "'GGUF'", `'${got}'`);
  }
  const version = await c.readU32('the version');
  const swapped = (((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24)) >>> 0;
  if (version !== 2 && version !== 3) {
    if (swapped === 2 || swapped === 3)
      c.fail('big-endian GGUF files are not supported', 'a little-endian file', `version bytes of a big-endian v${swapped}`);
    if (version === 1) c.fail('GGUF v1 is not supported (ggml dropped it too); convert the file again', 'version 2 or 3', '1');
    c.fail('unsupported GGUF version', '2 or 3', `${version}`);
  }
  const nTensors = await c.readSize('the tensor count');
  const nKv = await c.readSize('the metadata count');
  // Bounds before any loop: a tensor info takes >= 24 bytes, a key-value pair >= 13.
  if (nTensors * 24 > c.remaining) c.fail('tensor count does not fit the file', `<= ${Math.floor(c.remaining / 24)}`, `${nTensors}`);
  if (nKv * 13 > c.remaining) c.fail('metadata count does not fit the file', `<= ${Math.floor(c.remaining / 13)}`, `${nKv}`);
  return { version, nTensors, nKv };
}

async function readMetadata(c: Cursor, nKv: number): Promise<{ metadata: Map<string, GgufValue>; types: Map<string, GgufTypeDesc> }> {
  const metadata = new Map<string, GgufValue>();
  const types = new Map<string, GgufTypeDesc>();
  for (let i = 0; i < nKv; i++) {
    const key = await c.readString(`metadata key ${i}`, GGUF_MAX_KEY_BYTES);
    if (key.length === 0) c.fail(`metadata key ${i} is empty`);
    if (metadata.has(key)) c.fail(`duplicate metadata key '${key}'`);
    const type = await c.readU32(`the type of '${key}'`);
    const { value, desc } = await readValue(c, type, `metadata '${key}'`, 0);
    metadata.set(key, value);
    types.set(key, desc);
  }
  return { metadata, types };
}

function alignmentOf(c: Cursor, metadata: Map<string, GgufValue>, types: Map<string, GgufTypeDesc>): number {
  if (!metadata.has('general.alignment')) return GGUF_DEFAULT_ALIGNMENT;
  const t = types.get('general.alignment')!.type;
  const a = metadata.get('general.alignment');
  if (t !== GgufValueType.UINT32) c.fail("'general.alignment' must be a uint32", 'UINT32', typeName(t));
  const n = a as number;
  if (n === 0 || (n & (n - 1)) !== 0) c.fail("'general.alignment' must be a power of 2", 'a power of 2', `${n}`);
  return n;
}

async function readTensorInfo(c: Cursor, i: number, names: Set<string>): Promise<Omit<GgufTensorInfo, 'begin'>> {
  const name = await c.readString(`tensor name ${i}`, GGUF_MAX_NAME_BYTES);
  if (names.has(name)) c.fail(`duplicate tensor name '${name}'`);
  names.add(name);
  const where = `tensor '${name}'`;
  const nDims = await c.readU32(`the dims of ${where}`);
  if (nDims > GGUF_MAX_DIMS) c.fail(`${where} has too many dims`, `<= ${GGUF_MAX_DIMS}`, `${nDims}`);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < nDims; d++) {
    const n = await c.readSize(`dim ${d} of ${where}`);
    dims.push(n);
    count *= n;
  }
  if (!Number.isSafeInteger(count)) c.fail(`${where} has too many elements`, `<= ${Number.MAX_SAFE_INTEGER}`, `[${dims.join(', ')}]`);
  const typeId = await c.readU32(`the type of ${where}`);
  const type = ggmlTypeById(typeId);
  if (!type) c.fail(`${where} has an unknown ggml type`, 'a ggml_type id of the GGUF spec', `${typeId}`);
  // Rows are whole blocks (ggml checks the same): ne[0] must divide into them.
  const rowLen = dims.length ? dims[0] : 1;
  if (rowLen % type.blockSize !== 0)
    c.fail(`${where}: a ${type.name} row of ${rowLen} is not a whole number of blocks`, `a multiple of ${type.blockSize}`, `${rowLen}`);
  const offset = await c.readSize(`the offset of ${where}`);
  return { name, dims, shape: dims.slice().reverse(), type, count, offset, byteLength: (count / type.blockSize) * type.typeSize };
}

/** Parses a whole GGUF header from `src` and checks every tensor against the file. */
export async function parseGguf(src: ByteSource): Promise<GgufHeader> {
  const c = new Cursor(src);
  const { version, nTensors, nKv } = await readPreamble(c);
  const { metadata, types } = await readMetadata(c, nKv);
  const alignment = alignmentOf(c, metadata, types);
  const infos: Omit<GgufTensorInfo, 'begin'>[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) infos.push(await readTensorInfo(c, i, names));
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = infos.map((t) => ({ ...t, begin: dataStart + t.offset }));
  checkLayout(c, tensors, alignment, dataStart, src.size);
  return { version, metadata, types, tensors, alignment, dataStart };
}

/** Offsets aligned, every tensor inside the file, no two overlapping (gaps are allowed). */
function checkLayout(c: Cursor, tensors: GgufTensorInfo[], alignment: number, dataStart: number, fileSize: number): void {
  for (const t of tensors) {
    if (t.offset % alignment !== 0)
      c.fail(`tensor '${t.name}' is not aligned`, `an offset that is a multiple of ${alignment}`, `${t.offset}`);
    if (t.begin + t.byteLength > fileSize)
      c.fail(`tensor '${t.name}' runs past the end of the file (truncated?)`, `end <= ${fileSize}`, `${t.begin + t.byteLength}`);
  }
  const sorted = tensors.slice().sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].begin < prev.begin + prev.byteLength)
      c.fail(
        `tensor '${sorted[i].name}' overlaps tensor '${prev.name}'`,
        `offset >= ${prev.offset + prev.byteLength}`,
        `${sorted[i].offset}`,
      );
  }
  if (tensors.length && dataStart > fileSize) c.fail('data section starts past the end of the file', `<= ${fileSize}`, `${dataStart}`);
}
