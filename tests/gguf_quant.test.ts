import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rng, xpu } from './helpers.js';

/**
 * GGUF quant formats, two independent ways:
 *  1. blocks encoded here from chosen fields (scales, mins, quants) by the format's definition
 *     (ggml-common.h structs, weight i described directly, not by ggml's loop order), decoded by
 *     xpu and compared with d * scale * q (- min) computed from the fields;
 *  2. random blocks decoded by ggml's own Python package (gguf.quants.dequantize, numpy), the
 *     vectors committed in tests/fixtures/gguf/quant_golden.json with make_fixtures.py: equal to
 *     the bit.
 */

const { dequantizeGguf } = xpu.quant;

/** float16 bits of a value that float16 holds exactly (the fields here are chosen so). */
function f16(x: number): number {
  if (x === 0) return Object.is(x, -0) ? 0x8000 : 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (e < -14) e = -14; // subnormal
  const mant = a / 2 ** e;
  const bits = e === -14 && mant < 1 ? sign | Math.round(mant * 1024) : sign | ((e + 15) << 10) | Math.round((mant - 1) * 1024);
  if (((bits >> 10) & 31) !== 0 && Math.abs((1024 + (bits & 1023)) * 2 ** (((bits >> 10) & 31) - 25)) !== a)
    throw new Error(`${x} is not a float16`);
  return bits;
}

class Block {
  readonly b: Uint8Array;
  constructor(size: number) {
    this.b = new Uint8Array(size);
  }
  half(at: number, x: number) {
    const h = f16(x);
    this.b[at] = h & 255;
    this.b[at + 1] = h >> 8;
  }
}

const pick = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const exactF32 = (xs: number[]) => xs.map((x) => Math.fround(x));

function check(type: string, bytes: Uint8Array, expected: number[]): void {
  const got = dequantizeGguf(type, bytes, expected.length);
  expect(Array.from(got), type).toEqual(exactF32(expected));
}

describe('GGUF quant formats from hand-encoded blocks', () => {
  const r = rng(7);

  it('Q4_0: w = d (q - 8); byte j holds weights j (low nibble) and j + 16 (high)', () => {
    const blk = new Block(18);
    const d = -0.375;
    blk.half(0, d);
    const q = Array.from({ length: 32 }, () => pick(r, 0, 15));
    for (let j = 0; j < 16; j++) blk.b[2 + j] = q[j] | (q[j + 16] << 4);
    check(
      'Q4_0',
      blk.b,
      q.map((v) => d * (v - 8)),
    );
  });

  it('Q4_1: w = d q + m', () => {
    const blk = new Block(20);
    const d = 0.0625,
      m = -1.5;
    blk.half(0, d);
    blk.half(2, m);
    const q = Array.from({ length: 32 }, () => pick(r, 0, 15));
    for (let j = 0; j < 16; j++) blk.b[4 + j] = q[j] | (q[j + 16] << 4);
    check(
      'Q4_1',
      blk.b,
      q.map((v) => d * v + m),
    );
  });

  it('Q5_0 / Q5_1: the fifth bit of weight i is bit i of a little-endian u32', () => {
    for (const withMin of [false, true]) {
      const blk = new Block(withMin ? 24 : 22);
      const d = 0.125,
        m = 0.75;
      blk.half(0, d);
      if (withMin) blk.half(2, m);
      const q = Array.from({ length: 32 }, () => pick(r, 0, 31));
      const hAt = withMin ? 4 : 2;
      let qh = 0;
      for (let i = 0; i < 32; i++) qh |= (q[i] >> 4) << i;
      new DataView(blk.b.buffer).setUint32(hAt, qh >>> 0, true);
      for (let j = 0; j < 16; j++) blk.b[hAt + 4 + j] = (q[j] & 15) | ((q[j + 16] & 15) << 4);
      check(
        withMin ? 'Q5_1' : 'Q5_0',
        blk.b,
        q.map((v) => (withMin ? d * v + m : d * (v - 16))),
      );
    }
  });

  it('Q8_0: w = d q, q int8', () => {
    const blk = new Block(34);
    const d = 2 ** -10;
    blk.half(0, d);
    const q = Array.from({ length: 32 }, () => pick(r, -128, 127));
    q.forEach((v, i) => {
      blk.b[2 + i] = v & 255;
    });
    check(
      'Q8_0',
      blk.b,
      q.map((v) => d * v),
    );
  });

  it('Q2_K: 16 groups of 16 with 4-bit scale and min; weight i in qs[32 (i/128) + i%32] at bit 2 ((i%128)/32)', () => {
    const blk = new Block(84);
    const d = 0.5,
      dmin = 0.25;
    const sc = Array.from({ length: 16 }, () => pick(r, 0, 15));
    const mn = Array.from({ length: 16 }, () => pick(r, 0, 15));
    const q = Array.from({ length: 256 }, () => pick(r, 0, 3));
    sc.forEach((s, g) => {
      blk.b[g] = s | (mn[g] << 4);
    });
    q.forEach((v, i) => {
      blk.b[16 + 32 * Math.floor(i / 128) + (i % 32)] |= v << (2 * Math.floor((i % 128) / 32));
    });
    blk.half(80, d);
    blk.half(82, dmin);
    check(
      'Q2_K',
      blk.b,
      q.map((v, i) => d * sc[i >> 4] * v - dmin * mn[i >> 4]),
    );
  });

  it('Q3_K: signed 6-bit scales (bias 32), low 2 bits in qs, third bit in hmask (clear: -4)', () => {
    const blk = new Block(110);
    const d = 0.5;
    const s = Array.from({ length: 16 }, () => pick(r, -32, 31));
    const q = Array.from({ length: 256 }, () => pick(r, -4, 3));
    q.forEach((v, i) => {
      const n = Math.floor(i / 128),
        plane = Math.floor((i % 128) / 32),
        l = i % 32;
      const high = v >= 0 ? 1 : 0;
      blk.b[32 + 32 * n + l] |= (v + (high ? 0 : 4)) << (2 * plane);
      blk.b[l] |= high << (4 * n + plane);
    });
    s.forEach((v, j) => {
      const u = v + 32;
      if (j < 8) blk.b[96 + j] |= u & 15;
      else blk.b[96 + j - 8] |= (u & 15) << 4;
      blk.b[96 + 8 + (j % 4)] |= (u >> 4) << (2 * Math.floor(j / 4));
    });
    blk.half(108, d);
    check(
      'Q3_K',
      blk.b,
      q.map((v, i) => d * s[i >> 4] * v),
    );
  });

  /** Q4_K / Q5_K's 12 bytes of eight 6-bit scales and mins. */
  function packScaleMin(b: Uint8Array, at: number, sc: number[], mn: number[]): void {
    for (let j = 0; j < 4; j++) {
      b[at + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
      b[at + j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
      b[at + j + 8] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
    }
  }

  it('Q4_K / Q5_K: eight 32-weight sub-blocks with 6-bit scale and min; sub-block 2r low nibbles of qs[32r..], 2r+1 high', () => {
    for (const five of [false, true]) {
      const blk = new Block(five ? 176 : 144);
      const d = 0.25,
        dmin = 0.125;
      blk.half(0, d);
      blk.half(2, dmin);
      const sc = Array.from({ length: 8 }, () => pick(r, 0, 63));
      const mn = Array.from({ length: 8 }, () => pick(r, 0, 63));
      packScaleMin(blk.b, 4, sc, mn);
      const q = Array.from({ length: 256 }, () => pick(r, 0, five ? 31 : 15));
      const qs = five ? 48 : 16;
      q.forEach((v, i) => {
        const j = i >> 5,
          run = j >> 1,
          l = i % 32;
        blk.b[qs + 32 * run + l] |= (v & 15) << (j % 2 ? 4 : 0);
        if (five) blk.b[16 + l] |= (v >> 4) << j;
      });
      check(
        five ? 'Q5_K' : 'Q4_K',
        blk.b,
        q.map((v, i) => d * sc[i >> 5] * v - dmin * mn[i >> 5]),
      );
    }
  });

  it('Q6_K: int8 scale per 16 weights; 4 low bits in ql, 2 high bits in qh, minus 32', () => {
    const blk = new Block(210);
    const d = -0.0078125;
    const sc = Array.from({ length: 16 }, () => pick(r, -128, 127));
    const q = Array.from({ length: 256 }, () => pick(r, -32, 31));
    q.forEach((v, i) => {
      const u = v + 32,
        n = i >> 7,
        quarter = (i % 128) >> 5,
        l = i % 32;
      const ql = 64 * n + (quarter % 2 ? 32 : 0) + l;
      blk.b[ql] |= (u & 15) << (quarter >= 2 ? 4 : 0);
      blk.b[128 + 32 * n + l] |= (u >> 4) << (2 * quarter);
    });
    sc.forEach((s, j) => {
      blk.b[192 + j] = s & 255;
    });
    blk.half(208, d);
    check(
      'Q6_K',
      blk.b,
      q.map((v, i) => d * sc[i >> 4] * v),
    );
  });

  it('F16 (subnormals, infinities), BF16 and F32', () => {
    const h = new Uint16Array([0x0000, 0x8000, 0x0001, 0x03ff, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00]);
    check('F16', new Uint8Array(h.buffer), [0, -0, 2 ** -24, 1023 * 2 ** -24, 1, -2, 65504, Infinity, -Infinity]);
    const bf = new Uint16Array([0x3f80, 0xc040, 0x0001, 0x7f80]);
    check('BF16', new Uint8Array(bf.buffer), [1, -3, 2 ** -133, Infinity]);
    const f = new Float32Array([1.5, -2.25, 3e-39]);
    check('F32', new Uint8Array(f.buffer), Array.from(f));
    // Unaligned source bytes decode too.
    const off = new Uint8Array(13);
    off.set(new Uint8Array(f.buffer), 1);
    expect(Array.from(dequantizeGguf('F32', off.subarray(1), 3))).toEqual(Array.from(f));
  });
});

describe('GGUF quant formats against gguf.quants.dequantize (numpy)', () => {
  const golden = JSON.parse(readFileSync(new URL('./fixtures/gguf/quant_golden.json', import.meta.url), 'utf8')) as {
    formats: { type: string; count: number; bytes: string; values: string }[];
  };

  it('covers every format the issue names', () => {
    expect(golden.formats.map((f) => f.type).sort()).toEqual([
      'BF16',
      'F16',
      'F32',
      'Q2_K',
      'Q3_K',
      'Q4_0',
      'Q4_1',
      'Q4_K',
      'Q5_0',
      'Q5_1',
      'Q5_K',
      'Q6_K',
      'Q8_0',
    ]);
  });

  for (const name of ['F32', 'F16', 'BF16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K']) {
    it(`${name}: bit-identical`, () => {
      const g = golden.formats.find((f) => f.type === name)!;
      const bytes = new Uint8Array(Buffer.from(g.bytes, 'base64'));
      const want = new Uint32Array(new Uint8Array(Buffer.from(g.values, 'base64')).buffer);
      const got = new Uint32Array(dequantizeGguf(name, bytes, g.count).buffer);
      let bad = -1;
      for (let i = 0; i < want.length && bad < 0; i++) if (got[i] !== want[i]) bad = i;
      expect(bad, bad >= 0 ? `first mismatch at ${bad}: ${got[bad].toString(16)} vs ${want[bad].toString(16)}` : '').toBe(-1);
      expect(got.length).toBe(want.length);
    });
  }
});

describe('dequantizeGguf arguments', () => {
  it('refuses unsupported types, partial blocks and wrong byte lengths with typed errors', () => {
    expect(() => dequantizeGguf('IQ2_XXS', new Uint8Array(66), 256)).toThrow(xpu.XpuDTypeError);
    expect(() => dequantizeGguf(4, new Uint8Array(18), 32)).toThrow(xpu.XpuDTypeError);
    expect(() => dequantizeGguf('Q4_0', new Uint8Array(18), 16)).toThrow(xpu.XpuShapeError);
    expect(() => dequantizeGguf('Q4_0', new Uint8Array(17), 32)).toThrow(xpu.XpuShapeError);
    expect(() => dequantizeGguf('Q4_0', new Uint8Array(18), 32, new Float32Array(8))).toThrow(xpu.XpuShapeError);
    expect(xpu.quant.ggmlTypeByName('Q6_K')).toMatchObject({ id: 14, blockSize: 256, typeSize: 210 });
    expect(xpu.quant.canDequantize('Q4_K')).toBe(true);
  });
});
