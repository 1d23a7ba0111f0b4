import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectEqual, randomData, randomInts, testDevices, xpu } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'xpu-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file built by hand from a header object and raw data, independent of our writer. */
function handMade(header: unknown, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

async function expectFormatError(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  let err: unknown;
  try {
    const r = await xpu.io.SafetensorsReader.open(bytes);
    for (const n of r.names()) (await r.tensor(n, { device: 'cpu' })).dispose();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(xpu.XpuFormatError);
  expect((err as Error).message).toMatch(pattern);
}

describe('safetensors', () => {
  for (const device of testDevices()) {
    it(`round-trips every dtype through a file on ${device}`, async () => {
      const f32 = xpu.tensor(Float32Array.from(randomData(3 * 5, 1)), { shape: [3, 5], device });
      const tensors: [string, InstanceType<typeof xpu.Tensor>][] = [
        ['a.f32', f32],
        ['b.f16', xpu.tensor(Float32Array.from(randomData(7, 2)), { shape: [7], dtype: 'float16', device })],
        ['c.i32', xpu.tensor(randomInts(4, 3, -1000, 1000), { shape: [2, 2], device })],
        ['d.i8', xpu.tensor(Int8Array.from(randomInts(6, 4, -128, 127)), { shape: [1, 6], device })],
        ['e.u8', xpu.tensor(Uint8Array.from(randomInts(5, 5, 0, 255)), { shape: [5], device })],
        ['f.scalar', xpu.tensor(Float32Array.of(3.5), { shape: [], device })],
        ['g.empty', xpu.zeros([0, 4], { device })],
        ['h.view', xpu.transpose(f32, 0, 1)], // non-contiguous: written row-major
      ];
      const path = join(dir, `rt-${device}.safetensors`);
      await xpu.io.saveSafetensors(path, tensors, { format: 'pt', note: 'round trip' });
      const { tensors: back, metadata } = await xpu.io.loadSafetensors(path, { device });
      expect(metadata).toEqual({ format: 'pt', note: 'round trip' });
      expect([...back.keys()].sort()).toEqual(tensors.map(([n]) => n).sort());
      for (const [name, t] of tensors) {
        const b = back.get(name)!;
        expect(b.shape, name).toEqual(t.shape);
        expect(b.dtype, name).toBe(t.dtype);
        expect(b.device.type).toBe(device);
        expectEqual(await b.data(), await t.data(), name);
        b.dispose();
      }
      for (const [, t] of tensors) t.dispose();
    });
  }

  it('reads a hand-made file: BF16 widens to float32, offsets in any order, padded header', async () => {
    // bf16 bits of 1.0, -2.5, 3.140625 and a float32 [2]; the f32 tensor comes first in the data.
    const data = new Uint8Array(14);
    const dv = new DataView(data.buffer);
    dv.setFloat32(0, 0.25, true);
    dv.setFloat32(4, -7, true);
    [0x3f80, 0xc020, 0x4049].forEach((b, i) => dv.setUint16(8 + 2 * i, b, true));
    const header = { w: { dtype: 'BF16', shape: [3], data_offsets: [8, 14] }, v: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const json = JSON.stringify(header) + '   ';
    const bytes = handMade(JSON.parse(json), data);
    const r = await xpu.io.SafetensorsReader.open(bytes);
    expect(r.names()).toEqual(['v', 'w']);
    expect(r.info('w')).toEqual({ shape: [3], fileDtype: 'BF16', dtype: 'float32' });
    const w = await r.tensor('w', { device: 'cpu' });
    expect(Array.from(await w.data())).toEqual([1, -2.5, 3.140625]);
    const v = await r.tensor('v', { device: 'cpu' });
    expect(Array.from(await v.data())).toEqual([0.25, -7]);
    await expect(r.tensor('nope')).rejects.toBeInstanceOf(xpu.XpuValueError);
    await r.close();
  });

  it('gives typed, specific errors for malformed files', async () => {
    const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const data = new Uint8Array(8);
    await expectFormatError(new Uint8Array(5), /shorter than the 8-byte/);
    await expectFormatError(handMade(ok, data, 10n ** 12n), /implausibly large/);
    await expectFormatError(handMade(ok, data, 500n), /past the end of the file/);
    await expectFormatError(handMade(ok, data, 0n), /header length is 0/);
    await expectFormatError(handMade(ok, data.subarray(0, 6)), /past the end of the data/);
    await expectFormatError(handMade({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, data), /unknown or unsupported dtype/);
    await expectFormatError(handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), /shape and byte size disagree/);
    await expectFormatError(
      handMade(
        { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } },
        data.subarray(0, 6),
      ),
      /overlaps/,
    );
    await expectFormatError(handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data), /gap before/);
    await expectFormatError(handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, data), /no tensor covers/);
    await expectFormatError(handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, data), /begin after end/);
    await expectFormatError(handMade({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data), /bad shape/);
    await expectFormatError(handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, data), /bad data_offsets/);
    await expectFormatError(handMade({ __metadata__: { k: 1 }, ...ok }, data), /__metadata__/);
    await expectFormatError(handMade([1, 2], data), /not a JSON object/);
    const notJson = handMade(ok, data);
    notJson[9] = 0x7b; // '{{' ...
    await expectFormatError(notJson, /not valid JSON/);
    const badUtf8 = handMade(ok, data);
    badUtf8[12] = 0xff;
    await expectFormatError(badUtf8, /UTF-8/);
  });

  it('reports truncation of a file on disk after open', async () => {
    const t = xpu.tensor(Float32Array.from(randomData(64, 9)), { device: 'cpu' });
    const bytes = await xpu.io.serializeSafetensors({ t });
    const path = join(dir, 'trunc.safetensors');
    writeFileSync(path, bytes);
    const r = await xpu.io.SafetensorsReader.open(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 10)); // shrinks under the open reader
    await expect(r.tensor('t')).rejects.toBeInstanceOf(xpu.XpuFormatError);
    await r.close();
    t.dispose();
  });
});
