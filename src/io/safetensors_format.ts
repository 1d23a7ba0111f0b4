import { XpuFormatError } from '../errors.js';
import type { DType } from '../tensor/dtype.js';

/**
 * The safetensors layout (https://github.com/huggingface/safetensors, "Format" in its README):
 *   8 bytes   N, unsigned little-endian 64-bit: the header's byte length
 *   N bytes   a UTF-8 JSON object: name -> {dtype, shape, data_offsets: [begin, end]}, plus an
 *             optional "__metadata__": {string: string}; may be padded with trailing spaces
 *   rest      the data; offsets are relative to its start, and the tensors cover it exactly
 *             (no overlaps, no holes), as the reference implementation requires.
 * This file only validates; reading bytes is elsewhere.
 */

/** File dtypes we read, with their byte size and the tensor dtype they load as. */
export const FILE_DTYPES = {
  F32: { itemsize: 4, dtype: 'float32' },
  F16: { itemsize: 2, dtype: 'float16' },
  BF16: { itemsize: 2, dtype: 'float32' }, // no bfloat16 tensors: widened to float32 on load
  I32: { itemsize: 4, dtype: 'int32' },
  U32: { itemsize: 4, dtype: 'uint32' },
  I8: { itemsize: 1, dtype: 'int8' },
  U8: { itemsize: 1, dtype: 'uint8' },
  BOOL: { itemsize: 1, dtype: 'bool' },
} as const satisfies Record<string, { itemsize: number; dtype: DType }>;

export type FileDType = keyof typeof FILE_DTYPES;

/** How each tensor dtype is written. */
export const DTYPE_TO_FILE: Record<DType, FileDType> = {
  float32: 'F32',
  float16: 'F16',
  int32: 'I32',
  uint32: 'U32',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

export interface TensorEntry {
  name: string;
  fileDtype: FileDType;
  shape: number[];
  /** Absolute byte positions in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Entries in file order (by offset). */
  tensors: TensorEntry[];
  metadata: Record<string, string>;
  /** Where the data section starts (8 + N). */
  dataStart: number;
}

/** Headers above this are refused before allocating (the reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

const OP = 'safetensors';

function fail(file: string, message: string, expected?: string, got?: string): never {
  throw new XpuFormatError(`${file}: ${message}`, { op: OP, arg: 'file', expected, got });
}

/** Reads N from the first 8 bytes and checks it fits the file. */
export function parseHeaderLength(file: string, first8: Uint8Array, fileSize: number): number {
  if (first8.length < 8) fail(file, 'file is shorter than the 8-byte header length', '>= 8 bytes', `${fileSize} bytes`);
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = dv.getBigUint64(0, true);
  if (n === 0n) fail(file, 'header length is 0', 'a JSON header of at least 2 bytes', '0');
  if (n > BigInt(MAX_HEADER_BYTES)) fail(file, 'header length is implausibly large', `<= ${MAX_HEADER_BYTES}`, n.toString());
  if (n > BigInt(fileSize - 8)) fail(file, 'header length runs past the end of the file (truncated?)', `<= ${fileSize - 8}`, n.toString());
  return Number(n);
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNatural = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Parses and validates the header JSON against a data section of `dataSize` bytes. */
export function parseHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail(file, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(file, 'header is not a JSON object', "a header starting with '{'", JSON.stringify(text.slice(0, 20)));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) fail(file, 'header is not a JSON object');

  let metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string'))
        fail(file, '__metadata__ must map strings to strings');
      metadata = value as Record<string, string>;
      continue;
    }
    tensors.push(parseEntry(file, name, value, dataStart, dataSize));
  }
  checkCoverage(file, tensors, dataStart, dataSize);
  return { tensors, metadata, dataStart };
}

function parseEntry(file: string, name: string, value: unknown, dataStart: number, dataSize: number): TensorEntry {
  const where = `tensor '${name}'`;
  if (name.length === 0) fail(file, 'a tensor has an empty name');
  if (!isObject(value)) fail(file, `${where} is not an object`, '{dtype, shape, data_offsets}', JSON.stringify(value)?.slice(0, 40));
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !Object.hasOwn(FILE_DTYPES, dtype)) {
    fail(file, `${where} has an unknown or unsupported dtype`, Object.keys(FILE_DTYPES).join(' | '), JSON.stringify(dtype));
  }
  if (!Array.isArray(shape) || !shape.every(isNatural))
    fail(file, `${where} has a bad shape`, 'an array of integers >= 0', JSON.stringify(shape)?.slice(0, 60));
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNatural)) {
    fail(file, `${where} has bad data_offsets`, '[begin, end] integers >= 0', JSON.stringify(offsets)?.slice(0, 60));
  }
  const [b, e] = offsets as number[];
  if (b > e) fail(file, `${where} has data_offsets with begin after end`, 'begin <= end', `[${b}, ${e}]`);
  if (e > dataSize)
    fail(file, `${where} runs past the end of the data (truncated file or bad offsets)`, `end <= ${dataSize}`, `[${b}, ${e}]`);
  const fd = dtype as FileDType;
  // Bytes the shape needs, in floating point so a huge shape cannot wrap around.
  let need = FILE_DTYPES[fd].itemsize;
  for (const s of shape as number[]) need *= s;
  if (need !== e - b)
    fail(file, `${where}: shape and byte size disagree`, `${need} bytes for ${fd}[${(shape as number[]).join(', ')}]`, `${e - b} bytes`);
  return { name, fileDtype: fd, shape: (shape as number[]).slice(), begin: dataStart + b, end: dataStart + e };
}

/** The tensors must tile the data section exactly: sorted by begin, each starts where the last ended. */
function checkCoverage(file: string, tensors: TensorEntry[], dataStart: number, dataSize: number): void {
  tensors.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = dataStart;
  for (const t of tensors) {
    if (t.begin < at)
      fail(file, `tensor '${t.name}' overlaps the tensor before it`, `begin >= ${at - dataStart}`, `${t.begin - dataStart}`);
    if (t.begin > at) fail(file, `there is a gap before tensor '${t.name}'`, `begin ${at - dataStart}`, `${t.begin - dataStart}`);
    at = t.end;
  }
  if (at !== dataStart + dataSize)
    fail(file, 'data section has bytes no tensor covers', `${at - dataStart} bytes of data`, `${dataSize} bytes`);
}
