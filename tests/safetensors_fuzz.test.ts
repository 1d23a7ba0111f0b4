import { describe, expect, it } from 'vitest';
import { randomData, rng, xpu } from './helpers.js';

/**
 * Thousands of seeded mutations of a valid file (byte flips anywhere, truncations, edits of the
 * header length and of the header JSON). Every one must either read cleanly or fail with
 * XpuFormatError: no other exception, no crash, no hang.
 */

const ITERATIONS = 4000;

async function baseFile(): Promise<Uint8Array> {
  const t = (shape: number[], dtype: 'float32' | 'float16' | 'int8' | 'int32', seed: number) =>
    xpu.tensor(
      Float32Array.from(
        randomData(
          shape.reduce((a, b) => a * b, 1),
          seed,
          50,
        ),
      ),
      { shape, dtype, device: 'cpu' },
    );
  return xpu.io.serializeSafetensors(
    {
      'model.embed_tokens.weight': t([4, 3], 'float32', 1),
      'model.norm.weight': t([3], 'float16', 2),
      'q.int8': t([2, 2], 'int8', 3),
      ids: t([5], 'int32', 4),
    },
    { format: 'pt' },
  );
}

/** Edits that keep the JSON parseable but break the content in a specific way. */
const HEADER_EDITS: ((h: Record<string, any>, r: () => number) => void)[] = [
  (h) => {
    h['q.int8'].dtype = 'Q4';
  },
  (h) => {
    h['q.int8'].dtype = 7;
  },
  (h, r) => {
    h['ids'].shape = [Math.floor(r() * 10)];
  },
  (h) => {
    h['ids'].shape = [1e300];
  },
  (h) => {
    h['ids'].shape = 'five';
  },
  (h, r) => {
    h['ids'].data_offsets[0] += Math.floor(r() * 9) - 4;
  },
  (h, r) => {
    h['ids'].data_offsets[1] += Math.floor(r() * 9) - 4;
  },
  (h) => {
    h['ids'].data_offsets = [2 ** 60, 2 ** 60 + 20];
  },
  (h) => {
    h['ids'].data_offsets = [-4, 16];
  },
  (h) => {
    h['ids'].data_offsets = [0.5, 20.5];
  },
  (h) => {
    h['model.norm.weight'].data_offsets = h['q.int8'].data_offsets;
  },
  (h) => {
    delete h['ids'].dtype;
  },
  (h) => {
    delete h['ids'];
  },
  (h) => {
    h['ids'] = null;
  },
  (h) => {
    h.__metadata__ = { format: ['pt'] };
  },
  (h) => {
    h.__metadata__ = 'pt';
  },
  (h) => {
    h[''] = { dtype: 'U8', shape: [0], data_offsets: [0, 0] };
  },
  (h) => {
    h.extra = { dtype: 'U8', shape: [0], data_offsets: [0, 0] };
  }, // valid: empty tensor
];

function mutate(base: Uint8Array, seed: number): Uint8Array {
  const r = rng(seed);
  const pick = (n: number) => Math.floor(r() * n);
  const headerLen = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  const kind = pick(5);
  if (kind === 0) {
    // Flip 1-4 random bits anywhere (header length, JSON or data).
    const out = base.slice();
    for (let k = 1 + pick(4); k > 0; k--) out[pick(out.length)] ^= 1 << pick(8);
    return out;
  }
  if (kind === 1) return base.slice(0, pick(base.length)); // truncation
  if (kind === 2) {
    // A different header length: small shifts, zero, huge, or random 64-bit.
    const out = base.slice();
    const dv = new DataView(out.buffer);
    const choices = [
      BigInt(headerLen + pick(17) - 8),
      0n,
      2n ** 64n - 1n,
      BigInt(pick(base.length * 2)),
      BigInt(Math.floor(r() * 2 ** 53)),
    ];
    dv.setBigUint64(0, choices[pick(choices.length)] & (2n ** 64n - 1n), true);
    return out;
  }
  const json = new TextDecoder().decode(base.subarray(8, 8 + headerLen));
  const data = base.subarray(8 + headerLen);
  let text: string;
  if (kind === 3) {
    const h = JSON.parse(json);
    HEADER_EDITS[pick(HEADER_EDITS.length)](h, r);
    text = JSON.stringify(h);
  } else {
    // Raw text damage: delete, duplicate or replace a character of the JSON.
    const at = pick(json.length);
    const junk = '{}[]":,0-9ae \u00e9'[pick(15)];
    const op = pick(3);
    text =
      op === 0
        ? json.slice(0, at) + json.slice(at + 1)
        : op === 1
          ? json.slice(0, at) + json[at] + json.slice(at)
          : json.slice(0, at) + junk + json.slice(at + 1);
  }
  const enc = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + enc.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(enc.length), true);
  out.set(enc, 8);
  out.set(data, 8 + enc.length);
  return out;
}

describe('safetensors fuzz', () => {
  it(`survives ${ITERATIONS} mutated files with only XpuFormatError`, async () => {
    const base = await baseFile();
    let ok = 0;
    let rejected = 0;
    const unexpected: string[] = [];
    for (let seed = 0; seed < ITERATIONS; seed++) {
      const bytes = mutate(base, 1000 + seed);
      try {
        const r = await xpu.io.SafetensorsReader.open(bytes);
        for (const name of r.names()) {
          const t = await r.tensor(name, { device: 'cpu' });
          expect(t.numel * 1).toBe(r.info(name).shape.reduce((a, b) => a * b, 1));
          await t.data();
          t.dispose();
        }
        await r.close();
        ok++;
      } catch (e) {
        if (e instanceof xpu.XpuFormatError) rejected++;
        else unexpected.push(`seed ${1000 + seed}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      }
    }
    expect(unexpected.slice(0, 5)).toEqual([]);
    // The mutations must actually exercise both outcomes, or the test proves nothing.
    expect(rejected).toBeGreaterThan(ITERATIONS / 2);
    expect(ok).toBeGreaterThan(10);
  }, 60_000);
});
