import { endianness } from 'node:os';
import type { DeviceLike } from '../device/device.js';
import { XpuFormatError, XpuValueError } from '../errors.js';
import { fromHost } from '../ops/creation.js';
import { dequantizeGguf } from '../quant/gguf_dequant.js';
import type { Tensor } from '../tensor/tensor.js';
import { BufferSource, FileSource, type ByteSource } from './byte_source.js';
import { GgufValueType, parseGguf, type GgufHeader, type GgufTensorInfo, type GgufTypeDesc, type GgufValue } from './gguf_format.js';

const OP = 'gguf';

/**
 * A GGUF file opened for reading (llama.cpp's model format). Open reads the header only
 * (metadata and tensor infos); each tensor is then read with one positioned read of its bytes, so
 * a model never sits in memory twice.
 */
export class GgufReader {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  /** The declared type of every metadata value (so uint32 and int32 stay apart). */
  readonly types: ReadonlyMap<string, GgufTypeDesc>;
  readonly alignment: number;
  readonly dataStart: number;
  readonly #tensors: Map<string, GgufTensorInfo>;

  private constructor(
    private readonly source: ByteSource,
    header: GgufHeader,
  ) {
    this.version = header.version;
    this.metadata = header.metadata;
    this.types = header.types;
    this.alignment = header.alignment;
    this.dataStart = header.dataStart;
    this.#tensors = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Opens a file path, or reads from bytes already in memory. */
  static async open(from: string | Uint8Array | ByteSource): Promise<GgufReader> {
    // Typed arrays of metadata and tensor bytes are viewed in place: host order must be GGUF's.
    if (endianness() !== 'LE')
      throw new XpuValueError('GGUF needs a little-endian host', { op: OP, expected: 'a little-endian CPU', got: 'big-endian' });
    const source = typeof from === 'string' ? await FileSource.open(from) : from instanceof Uint8Array ? new BufferSource(from) : from;
    try {
      return new GgufReader(source, await parseGguf(source));
    } catch (e) {
      await source.close();
      throw e;
    }
  }

  get path(): string {
    return this.source.name;
  }

  /** Tensor infos in file order. */
  tensorInfos(): GgufTensorInfo[] {
    return [...this.#tensors.values()];
  }

  names(): string[] {
    return [...this.#tensors.keys()];
  }

  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  info(name: string): GgufTensorInfo {
    const t = this.#tensors.get(name);
    if (!t)
      throw new XpuValueError('no tensor of that name in the file', {
        op: 'gguf.info',
        arg: 'name',
        expected: `one of ${this.names().slice(0, 6).join(', ')}${this.#tensors.size > 6 ? ', ...' : ''}`,
        got: name,
      });
    return t;
  }

  /** A metadata value, or undefined when absent. */
  get(key: string): GgufValue | undefined {
    return this.metadata.get(key);
  }

  /** A string value; a missing key returns `fallback` (throws when there is none), a wrong type throws. */
  getString(key: string, fallback?: string): string {
    const v = this.metadata.get(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string') this.#wrong(key, 'a string', v);
    return v as string;
  }

  /** A number value of any numeric type (64-bit ones only when exact); as getString for absence. */
  getNumber(key: string, fallback?: number): number {
    const v = this.metadata.get(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number') this.#wrong(key, 'a number', v);
    return v as number;
  }

  getBool(key: string, fallback?: boolean): boolean {
    const v = this.metadata.get(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'boolean') this.#wrong(key, 'a bool', v);
    return v as boolean;
  }

  /** An array of strings (tokenizer.ggml.tokens, merges...). */
  getStringArray(key: string): string[] {
    const v = this.metadata.get(key);
    const t = this.types.get(key);
    if (!Array.isArray(v) || t?.items?.type !== GgufValueType.STRING) this.#wrong(key, 'an array of strings', v);
    return v as string[];
  }

  #wrong(key: string, expected: string, v: GgufValue | undefined): never {
    const t = this.types.get(key);
    const got = v === undefined ? 'no such key' : `${GgufValueType[t!.type]}${t!.items ? ` of ${GgufValueType[t!.items.type]}` : ''}`;
    throw new XpuFormatError(`${this.source.name}: metadata '${key}' is missing or has the wrong type`, {
      op: OP,
      arg: key,
      expected,
      got,
    });
  }

  /** The tensor's bytes as stored (quantized blocks untouched). */
  async raw(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    const bytes = await this.source.read(t.begin, t.byteLength);
    if (bytes.length !== t.byteLength) {
      throw new XpuFormatError(`${this.source.name}: file ended inside tensor '${name}' (truncated?)`, {
        op: 'gguf.read',
        arg: 'file',
        expected: `${t.byteLength} bytes`,
        got: `${bytes.length}`,
      });
    }
    return bytes;
  }

  /** The tensor decoded to float32 on the host (quant formats as gguf_dequant.ts decodes them). */
  async float32(name: string): Promise<Float32Array> {
    const t = this.info(name);
    return dequantizeGguf(t.type, await this.raw(name), t.count);
  }

  /** The tensor as a float32 xpu tensor of its row-major shape, on `device` (default device). */
  async tensor(name: string, options: { device?: DeviceLike } = {}): Promise<Tensor> {
    const t = this.info(name);
    return fromHost(await this.float32(name), t.shape, 'float32', options.device, 'gguf.read');
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}
