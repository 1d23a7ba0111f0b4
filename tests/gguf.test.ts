import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildGguf, tensorBytes, VT, type KV, type TensorSpec } from './gguf_builder.js';
import { xpu } from './helpers.js';
import { requireModel, runModelTests } from './model_files.js';

/**
 * The GGUF reader against a file written by ggml-org's own Python writer (gguf.GGUFWriter,
 * tests/fixtures/gguf/make_fixtures.py), against files from the test-side writer, and against
 * every malformed case the reader names. Quant formats: gguf_quant.test.ts; fuzzing:
 * gguf_fuzz.test.ts.
 */

const FIXTURES = new URL('./fixtures/gguf/', import.meta.url);
const b64bits = (s: string) => new Uint32Array(new Uint8Array(Buffer.from(s, 'base64')).buffer);

async function expectFormatError(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  let err: unknown;
  try {
    const r = await xpu.io.GgufReader.open(bytes);
    for (const n of r.names()) await r.float32(n);
    await r.close();
  } catch (e) {
    err = e;
  }
  expect(err, `expected an XpuFormatError matching ${pattern}`).toBeInstanceOf(xpu.XpuFormatError);
  expect((err as Error).message).toMatch(pattern);
}

describe('GGUF reader: a file from gguf.GGUFWriter (Python)', () => {
  const expected = JSON.parse(readFileSync(new URL('python_writer.json', FIXTURES), 'utf8'));

  it('reads the version, alignment and every metadata value type', async () => {
    const r = await xpu.io.GgufReader.open(new URL('python_writer.gguf', FIXTURES).pathname);
    expect(r.version).toBe(3);
    expect(r.alignment).toBe(64);
    for (const [key, want] of Object.entries(expected.metadata)) {
      const got = r.get(key);
      if (want && typeof want === 'object' && 'bigint' in want) expect(got, key).toBe(BigInt((want as { bigint: string }).bigint));
      else expect(got, key).toBe(want);
    }
    const T = xpu.io.GgufValueType;
    expect(r.types.get('test.u64_small')).toEqual({ type: T.UINT64 });
    expect(r.types.get('test.i16')).toEqual({ type: T.INT16 });
    expect(Array.from(r.get('test.arr_u8') as Uint8Array)).toEqual([1, 2, 255]);
    expect(r.get('test.arr_u8')).toBeInstanceOf(Uint8Array);
    expect(Array.from(r.get('test.arr_i16') as Int16Array)).toEqual([-1, 2, -32768]);
    expect(Array.from(r.get('test.arr_i32') as Int32Array)).toEqual([-5, 0, 7]);
    expect(Array.from(r.get('test.arr_f32') as Float32Array)).toEqual([0.5, -1.25, 3]);
    expect(Array.from(r.get('test.arr_u64') as BigUint64Array)).toEqual([1n, 2n ** 64n - 1n]);
    expect(r.get('test.arr_bool')).toEqual([true, false, true]);
    expect(r.getStringArray('test.arr_str')).toEqual(['a', '', 'ĠĊ', '日本']);
    expect(r.get('test.arr_nested')).toEqual([['x', 'y'], ['z']]);
    expect(r.types.get('test.arr_nested')).toEqual({ type: T.ARRAY, items: { type: T.ARRAY, items: { type: T.STRING } } });
    expect((r.get('test.arr_nested_int') as Int32Array[]).map((a) => Array.from(a))).toEqual([[1, 2], [3]]);
    expect(r.getString('general.architecture')).toBe('llama');
    expect(r.getNumber('test.u32')).toBe(4000000000);
    expect(r.getBool('test.bool_true')).toBe(true);
    expect(r.getNumber('missing.key', 7)).toBe(7);
    expect(() => r.getString('test.u32')).toThrow(xpu.XpuFormatError);
    expect(() => r.getNumber('missing.key')).toThrow(xpu.XpuFormatError);
    await r.close();
  });

  it('locates and decodes every tensor bit for bit as gguf.quants.dequantize', async () => {
    const r = await xpu.io.GgufReader.open(new URL('python_writer.gguf', FIXTURES).pathname);
    expect(r.names()).toEqual(expected.tensors.map((t: { name: string }) => t.name));
    for (const t of expected.tensors) {
      const info = r.info(t.name);
      expect(info.type.name, t.name).toBe(t.type);
      expect(info.shape, t.name).toEqual(t.shape);
      expect(info.dims, t.name).toEqual([...t.shape].reverse());
      expect(info.begin, t.name).toBe(t.begin);
      expect(info.begin % 64).toBe(0);
      const got = await r.float32(t.name);
      expect(Array.from(new Uint32Array(got.buffer)), t.name).toEqual(Array.from(b64bits(t.values)));
      const tensor = await r.tensor(t.name, { device: 'cpu' });
      expect(tensor.shape).toEqual(t.shape);
      expect(tensor.dtype).toBe('float32');
      tensor.dispose();
    }
    await r.close();
  });
});

/** A valid small file, and variants with one thing broken. */
function validSpec(): { kv: KV[]; tensors: TensorSpec[] } {
  const f32 = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
  const q8 = new Uint8Array(34 * 2).fill(1);
  return {
    kv: [
      { key: 'general.architecture', type: VT.STR, value: 'llama' },
      { key: 'x.count', type: VT.U32, value: 3 },
      { key: 'x.list', type: VT.ARR, itemType: VT.STR, value: ['a', 'b'] },
    ],
    tensors: [
      { name: 'a', dims: [3, 2], type: 0, data: f32 },
      { name: 'b', dims: [64], type: 8, data: q8 },
    ],
  };
}

describe('GGUF reader: files from the test writer', () => {
  it('reads v2 and v3 files; shape is dims reversed; tensors decode', async () => {
    for (const version of [2, 3]) {
      const r = await xpu.io.GgufReader.open(buildGguf({ version, ...validSpec() }));
      expect(r.version).toBe(version);
      expect(r.info('a').shape).toEqual([2, 3]);
      expect(Array.from(await r.float32('a'))).toEqual([1, 2, 3, 4, 5, 6]);
      expect(r.info('b').byteLength).toBe(68);
      await r.close();
    }
  });

  it('honours general.alignment and an empty file', async () => {
    const spec = validSpec();
    const r = await xpu.io.GgufReader.open(
      buildGguf({ alignment: 128, kv: [...spec.kv, { key: 'general.alignment', type: VT.U32, value: 128 }], tensors: spec.tensors }),
    );
    expect(r.alignment).toBe(128);
    expect(r.dataStart % 128).toBe(0);
    expect(r.info('b').begin % 128).toBe(0);
    expect(Array.from(await r.float32('a'))).toEqual([1, 2, 3, 4, 5, 6]);
    const empty = await xpu.io.GgufReader.open(buildGguf({}));
    expect(empty.names()).toEqual([]);
    expect(empty.metadata.size).toBe(0);
  });

  it('keeps 64-bit integers exact: numbers when safe, bigints otherwise', async () => {
    const r = await xpu.io.GgufReader.open(
      buildGguf({
        kv: [
          { key: 'a', type: VT.U64, value: 2n ** 53n - 1n },
          { key: 'b', type: VT.U64, value: 2n ** 53n },
          { key: 'c', type: VT.I64, value: -(2n ** 60n) },
          { key: 'd', type: VT.I64, value: -5n },
          { key: 'e', type: VT.ARR, itemType: VT.I64, value: [-1n, 2n ** 62n] },
        ],
      }),
    );
    expect(r.get('a')).toBe(2 ** 53 - 1);
    expect(r.get('b')).toBe(2n ** 53n);
    expect(r.get('c')).toBe(-(2n ** 60n));
    expect(r.get('d')).toBe(-5);
    expect(Array.from(r.get('e') as BigInt64Array)).toEqual([-1n, 2n ** 62n]);
  });

  it('reads the header through positioned reads only, never the tensor data', async () => {
    const bytes = buildGguf(validSpec());
    const reads: [number, number][] = [];
    const source = {
      size: bytes.length,
      name: 'spy',
      async read(p: number, n: number) {
        reads.push([p, n]);
        return bytes.slice(p, Math.min(bytes.length, p + n));
      },
      async close() {},
    };
    const r = await xpu.io.GgufReader.open(source);
    const first = reads.length;
    await r.float32('b');
    expect(reads.length).toBe(first + 1);
    expect(reads[first]).toEqual([r.info('b').begin, 68]);
  });
});

describe('GGUF reader: every malformed case is an XpuFormatError', () => {
  const v = validSpec;
  const patch = (bytes: Uint8Array, at: number, f: (d: DataView) => void) => {
    const out = bytes.slice();
    f(new DataView(out.buffer));
    return out;
  };

  it('bad magic, v1, unknown versions, big-endian files', async () => {
    await expectFormatError(buildGguf({ ...v(), magic: 'GGML' }), /bad magic/);
    await expectFormatError(buildGguf({ ...v(), version: 1 }), /v1 is not supported/);
    await expectFormatError(buildGguf({ ...v(), version: 4 }), /unsupported GGUF version/);
    await expectFormatError(buildGguf({ ...v(), version: 0x03000000 }), /big-endian/);
    await expectFormatError(new Uint8Array([0x47, 0x47]), /ends inside the magic/);
  });

  it('counts that cannot fit the file', async () => {
    const bytes = buildGguf(v());
    await expectFormatError(
      patch(bytes, 8, (d) => d.setBigUint64(8, 2n ** 40n, true)),
      /tensor count does not fit/,
    );
    await expectFormatError(
      patch(bytes, 16, (d) => d.setBigUint64(16, 2n ** 63n, true)),
      /implausibly large/,
    );
    await expectFormatError(
      patch(bytes, 16, (d) => d.setBigUint64(16, 10n ** 6n, true)),
      /metadata count does not fit/,
    );
  });

  it('metadata: unknown types, bad bools, bad UTF-8, empty and duplicate keys, huge arrays, deep nesting', async () => {
    const base = v();
    await expectFormatError(buildGguf({ kv: [{ key: 'k', type: 13, value: 0 }] }), /unknown value type/);
    await expectFormatError(buildGguf({ kv: [{ key: 'k', type: VT.BOOL, value: 2 }] }), /bool must be 0 or 1/);
    await expectFormatError(buildGguf({ kv: [{ key: '', type: VT.U8, value: 1 }] }), /is empty/);
    await expectFormatError(buildGguf({ kv: [base.kv[1], base.kv[1]] }), /duplicate metadata key/);
    await expectFormatError(buildGguf({ kv: [{ key: 'k', type: VT.ARR, itemType: 42, value: [] }] }), /array of an unknown value type/);
    // A string value with an invalid UTF-8 byte (0xff).
    const s = buildGguf({ kv: [{ key: 'k', type: VT.STR, value: 'abc' }] });
    const at = s.indexOf(0x61, 24 + 8 + 1 + 4 + 8);
    await expectFormatError(
      patch(s, at, (d) => d.setUint8(at, 0xff)),
      /not valid UTF-8/,
    );
    // An array claiming more items than bytes left.
    const arr = buildGguf({ kv: [{ key: 'k', type: VT.ARR, itemType: VT.U32, value: [1, 2] }] });
    const countAt = 24 + 8 + 1 + 4 + 4;
    await expectFormatError(
      patch(arr, countAt, (d) => d.setBigUint64(countAt, 2n ** 50n, true)),
      /runs past the end/,
    );
    // A string whose length runs past the end.
    const lenAt = 24 + 8 + 1 + 4;
    await expectFormatError(
      patch(s, lenAt, (d) => d.setBigUint64(lenAt, 1000n, true)),
      /runs past the end/,
    );
    await expectFormatError(buildNested(10), /nested too deeply/);
    const fine = await xpu.io.GgufReader.open(buildNested(3));
    expect(fine.get('k')).toEqual([[new Uint8Array([7])]]);
  });

  it('general.alignment of the wrong type or not a power of 2', async () => {
    await expectFormatError(buildGguf({ kv: [{ key: 'general.alignment', type: VT.U64, value: 32n }] }), /must be a uint32/);
    await expectFormatError(buildGguf({ kv: [{ key: 'general.alignment', type: VT.U32, value: 48 }] }), /power of 2/);
    await expectFormatError(buildGguf({ kv: [{ key: 'general.alignment', type: VT.U32, value: 0 }] }), /power of 2/);
  });

  it('tensor infos: duplicates, too many dims, unknown types, partial blocks, long names', async () => {
    const { kv, tensors } = v();
    await expectFormatError(buildGguf({ kv, tensors: [tensors[0], { ...tensors[1], name: 'a' }] }), /duplicate tensor name/);
    await expectFormatError(buildGguf({ kv, tensors: [{ ...tensors[0], dims: [1, 1, 1, 1, 6] }] }), /too many dims/);
    await expectFormatError(buildGguf({ kv, tensors: [{ ...tensors[0], type: 4 }] }), /unknown ggml type/);
    await expectFormatError(
      buildGguf({ kv, tensors: [{ ...tensors[1], dims: [48], data: new Uint8Array(34 * 2) }] }),
      /not a whole number of blocks/,
    );
    await expectFormatError(buildGguf({ kv, tensors: [{ ...tensors[0], name: 'n'.repeat(65) }] }), /too long/);
  });

  it('tensor data: misaligned, overlapping, past the end, truncated file', async () => {
    const { kv, tensors } = v();
    await expectFormatError(buildGguf({ kv, tensors: [tensors[0], { ...tensors[1], offset: 40 }] }), /not aligned/);
    await expectFormatError(
      buildGguf({
        kv,
        tensors: [
          { ...tensors[0], offset: 32 },
          { ...tensors[1], offset: 32 },
        ],
      }),
      /overlaps/,
    );
    const ok = buildGguf({ kv, tensors });
    await expectFormatError(ok.slice(0, ok.length - 40), /runs past the end/);
    await expectFormatError(ok.slice(0, 30), /ends inside|runs past|does not fit/);
    expect(tensorBytes(8, [64])).toBe(68);
  });

  it('asking for an absent tensor is an XpuValueError', async () => {
    const r = await xpu.io.GgufReader.open(buildGguf(v()));
    await expect(r.float32('nope')).rejects.toThrow(xpu.XpuValueError);
  });
});

/** `levels` arrays nested in one another around a single u8 (built by hand: the writer nests once). */
function buildNested(levels: number): Uint8Array {
  const parts: number[] = [];
  const u32 = (x: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, x, true);
    parts.push(...b);
  };
  const u64 = (x: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(x), true);
    parts.push(...b);
  };
  parts.push(...new TextEncoder().encode('GGUF'));
  u32(3);
  u64(0);
  u64(1);
  u64(1);
  parts.push(0x6b); // key 'k'
  u32(VT.ARR);
  for (let i = 0; i < levels; i++) {
    u32(i === levels - 1 ? VT.U8 : VT.ARR);
    u64(1);
  }
  parts.push(7);
  return Uint8Array.from(parts);
}

describe.runIf(runModelTests)('GGUF reader: SmolLM2-135M-Instruct (Q4_1)', () => {
  it('reads its metadata and 272 tensor infos', async () => {
    const r = await xpu.io.GgufReader.open(requireModel());
    expect(r.getString('general.architecture')).toBe('llama');
    expect(r.getNumber('llama.block_count')).toBe(30);
    expect(r.getNumber('llama.embedding_length')).toBe(576);
    expect(r.getStringArray('tokenizer.ggml.tokens')).toHaveLength(49152);
    expect(r.names()).toHaveLength(272);
    expect(r.info('blk.0.attn_q.weight').type.name).toBe('Q4_1');
    expect(r.info('token_embd.weight').shape).toEqual([49152, 576]);
    await r.close();
  });
});
