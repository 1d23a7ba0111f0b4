import { endianness } from 'node:os';
import type { DeviceLike } from '../device/device.js';
import { XpuFormatError, XpuValueError } from '../errors.js';
import { fromHost } from '../ops/creation.js';
import type { HostArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { BufferSource, FileSource, type ByteSource } from './byte_source.js';
import {
  FILE_DTYPES,
  parseHeader,
  parseHeaderLength,
  type FileDType,
  type SafetensorsHeader,
  type TensorEntry,
} from './safetensors_format.js';

// Tensor bytes are little-endian in the file and are viewed in place as typed arrays.
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Turns one tensor's file bytes (a fresh, aligned buffer) into host data in its load dtype. */
function decode(fd: FileDType, bytes: Uint8Array, n: number): HostArray {
  const buf = bytes.buffer;
  switch (fd) {
    case 'F32':
      return new Float32Array(buf, bytes.byteOffset, n);
    case 'F16':
      return new Uint16Array(buf, bytes.byteOffset, n);
    case 'BF16': {
      // bfloat16 is the top half of a float32: widen by shifting the bits up.
      const src = new Uint16Array(buf, bytes.byteOffset, n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] << 16;
      return new Float32Array(out.buffer);
    }
    case 'I32':
      return new Int32Array(buf, bytes.byteOffset, n);
    case 'U32':
      return new Uint32Array(buf, bytes.byteOffset, n);
    case 'I8':
      return new Int8Array(buf, bytes.byteOffset, n);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buf, bytes.byteOffset, n);
  }
}

/**
 * A safetensors file opened for reading. Only the header is read at open; each tensor is then
 * read with its own positioned read into its own buffer, so peak host memory is one tensor.
 */
export class SafetensorsReader {
  readonly metadata: Readonly<Record<string, string>>;
  readonly #entries: Map<string, TensorEntry>;

  private constructor(
    private readonly source: ByteSource,
    header: SafetensorsHeader,
  ) {
    this.metadata = header.metadata;
    this.#entries = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Opens a file path, or reads from bytes already in memory. */
  static async open(from: string | Uint8Array | ByteSource): Promise<SafetensorsReader> {
    if (!LITTLE_ENDIAN_HOST)
      throw new XpuValueError('safetensors needs a little-endian host', {
        op: 'safetensors',
        expected: 'a little-endian CPU',
        got: 'big-endian',
      });
    const source = typeof from === 'string' ? await FileSource.open(from) : from instanceof Uint8Array ? new BufferSource(from) : from;
    try {
      const n = parseHeaderLength(source.name, await source.read(0, 8), source.size);
      const headerBytes = await source.read(8, n);
      if (headerBytes.length !== n)
        throw new XpuFormatError(`${source.name}: file ended inside the header`, { op: 'safetensors', arg: 'file' });
      return new SafetensorsReader(source, parseHeader(source.name, headerBytes, source.size));
    } catch (e) {
      await source.close();
      throw e;
    }
  }

  /** Tensor names in file order. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Shape, file dtype and the dtype it loads as, without reading data. */
  info(name: string): { shape: number[]; fileDtype: FileDType; dtype: (typeof FILE_DTYPES)[FileDType]['dtype'] } {
    const e = this.#entry(name);
    return { shape: e.shape.slice(), fileDtype: e.fileDtype, dtype: FILE_DTYPES[e.fileDtype].dtype };
  }

  #entry(name: string): TensorEntry {
    const e = this.#entries.get(name);
    if (!e)
      throw new XpuValueError('no tensor of that name in the file', {
        op: 'safetensors.read',
        arg: 'name',
        expected: `one of ${this.names().slice(0, 8).join(', ')}${this.#entries.size > 8 ? ', ...' : ''}`,
        got: name,
      });
    return e;
  }

  /** Reads one tensor onto `device` (default device when omitted). BF16 arrives as float32. */
  async tensor(name: string, options: { device?: DeviceLike } = {}): Promise<Tensor> {
    const e = this.#entry(name);
    const bytes = await this.source.read(e.begin, e.end - e.begin);
    if (bytes.length !== e.end - e.begin) {
      throw new XpuFormatError(`${this.source.name}: file ended inside tensor '${name}' (truncated?)`, {
        op: 'safetensors.read',
        arg: 'file',
        expected: `${e.end - e.begin} bytes`,
        got: `${bytes.length}`,
      });
    }
    const n = e.shape.reduce((a, b) => a * b, 1);
    return fromHost(decode(e.fileDtype, bytes, n), e.shape, FILE_DTYPES[e.fileDtype].dtype, options.device, 'safetensors.read');
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

/** Reads every tensor of a file into a name -> tensor map (small files; big ones use the reader). */
export async function loadSafetensors(
  from: string | Uint8Array,
  options: { device?: DeviceLike } = {},
): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  const r = await SafetensorsReader.open(from);
  const tensors = new Map<string, Tensor>();
  try {
    for (const name of r.names()) tensors.set(name, await r.tensor(name, options));
    return { tensors, metadata: { ...r.metadata } };
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  } finally {
    await r.close();
  }
}
