import { describe, expect, it } from 'vitest';
import { buildGguf, VT } from './gguf_builder.js';
import { rng, xpu } from './helpers.js';

/**
 * Thousands of seeded mutations of a valid GGUF file (bit flips anywhere, truncations, rewritten
 * counts, lengths, types and offsets at the places they live). Every one must either read cleanly
 * (header and every tensor) or fail with XpuFormatError: no other exception, no hang, no huge
 * allocation.
 */

const ITERATIONS = 4000;

function baseFile(): Uint8Array {
  const r = rng(3);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
  return buildGguf({
    kv: [
      { key: 'general.architecture', type: VT.STR, value: 'llama' },
      { key: 'general.alignment', type: VT.U32, value: 32 },
      { key: 'llama.block_count', type: VT.U32, value: 2 },
      { key: 'llama.rope.freq_base', type: VT.F32, value: 10000 },
      { key: 'x.i64', type: VT.I64, value: -3n },
      { key: 'x.flag', type: VT.BOOL, value: true },
      { key: 'tokenizer.ggml.tokens', type: VT.ARR, itemType: VT.STR, value: ['<s>', 'Ġthe', '日本', 'a b'] },
      { key: 'tokenizer.ggml.token_type', type: VT.ARR, itemType: VT.I32, value: [3, 1, 1, 1] },
      { key: 'x.nested', type: VT.ARR, itemType: VT.ARR, nested: VT.U16, value: [[1, 2], [3]] },
    ],
    tensors: [
      { name: 'token_embd.weight', dims: [32, 2], type: 8, data: bytes(68) }, // Q8_0 (scales may be NaN: fine)
      { name: 'blk.0.attn_norm.weight', dims: [8], type: 0, data: bytes(32) },
      { name: 'blk.0.ffn_up.weight', dims: [256], type: 12, data: bytes(144) }, // Q4_K
      { name: 'blk.0.attn_q.weight', dims: [32, 1], type: 3, data: bytes(20) }, // Q4_1
      { name: 'h', dims: [4], type: 1, data: bytes(8) },
    ],
  });
}

/** Offsets of the u64 lengths/counts and u32 types in the base file, found by walking it. */
function fieldOffsets(file: Uint8Array): { u64: number[]; u32: number[] } {
  const dv = new DataView(file.buffer, file.byteOffset);
  const u64: number[] = [8, 16];
  const u32: number[] = [4];
  let p = 24;
  const str = () => {
    u64.push(p);
    const n = Number(dv.getBigUint64(p, true));
    p += 8 + n;
  };
  const value = (t: number): void => {
    const sizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
    if (t === VT.STR) return str();
    if (t === VT.ARR) {
      u32.push(p);
      const it = dv.getUint32(p, true);
      u64.push(p + 4);
      const n = Number(dv.getBigUint64(p + 4, true));
      p += 12;
      for (let i = 0; i < n; i++) value(it);
      return;
    }
    p += sizes[t];
  };
  const nT = Number(dv.getBigUint64(8, true));
  const nKv = Number(dv.getBigUint64(16, true));
  for (let i = 0; i < nKv; i++) {
    str();
    u32.push(p);
    const t = dv.getUint32(p, true);
    p += 4;
    value(t);
  }
  for (let i = 0; i < nT; i++) {
    str();
    u32.push(p);
    const nd = dv.getUint32(p, true);
    p += 4;
    for (let d = 0; d < nd; d++) {
      u64.push(p);
      p += 8;
    }
    u32.push(p);
    p += 4;
    u64.push(p);
    p += 8;
  }
  return { u64, u32 };
}

function mutate(base: Uint8Array, fields: { u64: number[]; u32: number[] }, seed: number): Uint8Array {
  const r = rng(seed);
  const pick = (n: number) => Math.floor(r() * n);
  const out = base.slice();
  const dv = new DataView(out.buffer);
  switch (pick(5)) {
    case 0: // 1-4 bit flips anywhere
      for (let k = 1 + pick(4); k > 0; k--) out[pick(out.length)] ^= 1 << pick(8);
      return out;
    case 1: // truncation
      return base.slice(0, pick(base.length));
    case 2: {
      // a length/count/dim/offset rewritten: small shifts, zero, huge, random 64-bit
      const at = fields.u64[pick(fields.u64.length)];
      const old = dv.getBigUint64(at, true);
      const choices = [
        old + BigInt(pick(9)) - 4n,
        0n,
        2n ** 64n - 1n,
        BigInt(pick(base.length * 2)),
        BigInt(Math.floor(r() * 2 ** 53)),
        old * 2n,
        old + 32n,
      ];
      dv.setBigUint64(at, BigInt.asUintN(64, choices[pick(choices.length)]), true);
      return out;
    }
    case 3: {
      // a type / dim count rewritten
      const at = fields.u32[pick(fields.u32.length)];
      const choices = [pick(16), pick(41), 0xffffffff, dv.getUint32(at, true) ^ (1 << pick(32)), 9];
      dv.setUint32(at, choices[pick(choices.length)] >>> 0, true);
      return out;
    }
    default: {
      // a run of random bytes somewhere in the header
      const end = Math.min(out.length, 400);
      const at = pick(end);
      for (let i = at; i < Math.min(end, at + 1 + pick(8)); i++) out[i] = pick(256);
      return out;
    }
  }
}

describe('GGUF fuzz', () => {
  it(`survives ${ITERATIONS} mutated files with only XpuFormatError`, async () => {
    const base = baseFile();
    const fields = fieldOffsets(base);
    // The walk must have found every field, or the targeted mutations test nothing.
    expect(fields.u64.length).toBeGreaterThan(25);
    let ok = 0;
    let rejected = 0;
    const unexpected: string[] = [];
    for (let seed = 0; seed < ITERATIONS; seed++) {
      const bytes = mutate(base, fields, 5000 + seed);
      try {
        const r = await xpu.io.GgufReader.open(bytes);
        for (const name of r.names()) {
          const info = r.info(name);
          // A valid file may hold a type that is known but not decodable (IQ*, I32...): its bytes
          // must still read; decoding it is a dtype question, not a format one.
          if (!xpu.quant.canDequantize(info.type)) expect((await r.raw(name)).length).toBe(info.byteLength);
          else expect((await r.float32(name)).length).toBe(info.count);
        }
        await r.close();
        ok++;
      } catch (e) {
        if (e instanceof xpu.XpuFormatError) rejected++;
        else unexpected.push(`seed ${5000 + seed}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      }
    }
    expect(unexpected.slice(0, 5)).toEqual([]);
    // Both outcomes must occur, or the mutations prove nothing.
    expect(rejected).toBeGreaterThan(ITERATIONS / 2);
    expect(ok).toBeGreaterThan(50);
  }, 60_000);
});
