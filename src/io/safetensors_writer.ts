import { open } from 'node:fs/promises';
import { XpuValueError } from '../errors.js';
import { tensorArg } from '../ops/common.js';
import { readContiguous } from '../ops/transfer.js';
import type { Tensor } from '../tensor/tensor.js';
import { DTYPE_TO_FILE } from './safetensors_format.js';

export type NamedTensors = Record<string, Tensor> | Iterable<readonly [string, Tensor]>;

function entriesOf(tensors: NamedTensors): [string, Tensor][] {
  const list =
    Symbol.iterator in tensors
      ? [...(tensors as Iterable<readonly [string, Tensor]>)].map(([n, t]) => [n, t] as [string, Tensor])
      : Object.entries(tensors);
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (typeof name !== 'string' || name.length === 0 || name === '__metadata__' || seen.has(name)) {
      throw new XpuValueError('tensor names must be unique, non-empty and not __metadata__', {
        op: 'saveSafetensors',
        arg: 'tensors',
        expected: 'unique names',
        got: JSON.stringify(name),
      });
    }
    seen.add(name);
    tensorArg('saveSafetensors', name, t);
  }
  return list;
}

/**
 * The 8-byte length plus the JSON header for tensors laid out back to back in the given order.
 * The header is padded with spaces so the data starts 8-byte aligned (the spec allows it).
 */
export function encodeHeader(list: readonly [string, Tensor][], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new XpuValueError('metadata values must be strings', {
          op: 'saveSafetensors',
          arg: 'metadata',
          expected: 'string values',
          got: `${k}: ${typeof v}`,
        });
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of list) {
    const bytes = t.numel * (t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'uint32' ? 4 : t.dtype === 'float16' ? 2 : 1);
    header[name] = { dtype: DTYPE_TO_FILE[t.dtype], shape: t.shape.slice(), data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((json.length + 8) / 8) * 8 - 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/** Bytes of one tensor as stored (raw dtype layout, row-major). */
async function tensorBytes(t: Tensor): Promise<Uint8Array> {
  const host = await readContiguous(t, 'saveSafetensors');
  return new Uint8Array(host.buffer, host.byteOffset, t.numel * host.BYTES_PER_ELEMENT);
}

/** Writes tensors to a safetensors file, streaming one tensor at a time. */
export async function saveSafetensors(path: string, tensors: NamedTensors, metadata?: Record<string, string>): Promise<void> {
  const list = entriesOf(tensors);
  const fh = await open(path, 'w');
  try {
    let at = 0;
    const write = async (b: Uint8Array) => {
      let done = 0;
      while (done < b.length) done += (await fh.write(b, done, b.length - done, at + done)).bytesWritten;
      at += b.length;
    };
    await write(encodeHeader(list, metadata));
    for (const [, t] of list) await write(await tensorBytes(t));
  } finally {
    await fh.close();
  }
}

/** The whole file as bytes in memory (small tensors; tests). */
export async function serializeSafetensors(tensors: NamedTensors, metadata?: Record<string, string>): Promise<Uint8Array> {
  const list = entriesOf(tensors);
  const parts = [encodeHeader(list, metadata)];
  for (const [, t] of list) parts.push(await tensorBytes(t));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
