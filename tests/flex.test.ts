import { afterEach, describe, expect, it } from 'vitest';
import { setAttentionConfigOverride } from '../src/backends/webgpu/attention_config.js';
import { caught, expectClose, testDevices, xpu } from './helpers.js';
import { disposeAll, makeQkv, refAttention, type Dims, type RefOptions } from './attention_helpers.js';

/**
 * flexAttention: every README example (causal, sliding window, ALiBi, softcap, document masking,
 * prefix-LM) on both devices against the float64 definition, with and without a block mask, on
 * both xpu paths; the block mask's classification; and expressions that must be refused.
 */

const TOL = 2e-5;
const D: Dims = { B: 2, Hq: 4, Hkv: 2, L: 37, S: 53, E: 16, Ev: 16 };
const WINDOW = 8;
const PREFIX = 11;
const SOFTCAP = 2;

afterEach(() => setAttentionConfigOverride(null));

interface Example {
  name: string;
  score?: string;
  mask?: string;
  captures?: (device: string) => Record<string, xpu.Tensor>;
  ref: (caps: Record<string, Float64Array>) => RefOptions;
}

const slopes = Float64Array.from({ length: D.Hq }, (_, h) => 2 ** ((-8 * (h + 1)) / D.Hq));
// Documents: lengths 10, 17, 26 over the longer sequence; queries and keys share positions.
const docOf = (i: number) => (i < 10 ? 0 : i < 27 ? 1 : 2);
const docIds = Float64Array.from({ length: D.S }, (_, i) => docOf(i));

const EXAMPLES: Example[] = [
  { name: 'causal', mask: 'kv_idx <= q_idx', ref: () => ({ causal: true }) },
  {
    name: 'sliding window',
    mask: `kv_idx <= q_idx && q_idx - kv_idx < ${WINDOW}`,
    ref: () => ({ maskMod: (_b, _h, i, j) => j <= i && i - j < WINDOW }),
  },
  {
    name: 'ALiBi',
    score: 'score + slopes[h] * (kv_idx - q_idx)',
    mask: 'kv_idx <= q_idx',
    captures: (device) => ({ slopes: xpu.tensor(slopes, { device }) }),
    ref: () => ({ causal: true, scoreMod: (s, _b, h, i, j) => s + Math.fround(slopes[h]) * (j - i) }),
  },
  { name: 'softcap', score: `${SOFTCAP} * tanh(score / ${SOFTCAP})`, ref: () => ({ scoreMod: (s) => SOFTCAP * Math.tanh(s / SOFTCAP) }) },
  {
    name: 'document masking',
    mask: 'doc[q_idx] == doc[kv_idx] && kv_idx <= q_idx',
    captures: (device) => ({ doc: xpu.tensor(Int32Array.from(docIds), { device, dtype: 'int32' }) }),
    ref: () => ({ maskMod: (_b, _h, i, j) => docOf(i) === docOf(j) && j <= i }),
  },
  { name: 'prefix-LM', mask: `kv_idx < ${PREFIX} || kv_idx <= q_idx`, ref: () => ({ maskMod: (_b, _h, i, j) => j < PREFIX || j <= i }) },
];

async function runExample(device: string, ex: Example, blocks: boolean, seed: number): Promise<void> {
  const t = makeQkv(device, 'float32', D, seed);
  const caps = ex.captures?.(device) ?? {};
  const scoreMod = ex.score ? xpu.flex.scoreMod(ex.score, caps) : undefined;
  const maskMod = ex.mask ? xpu.flex.maskMod(ex.mask, caps) : undefined;
  const blockMask =
    blocks && maskMod ? await xpu.flex.createBlockMask(maskMod, null, null, D.L, D.S, { blockSize: 16, device }) : undefined;
  const out = xpu.flexAttention(t.q, t.k, t.v, { scoreMod, maskMod: blockMask ? undefined : maskMod, blockMask, enableGqa: true });
  try {
    const got = await out.data();
    expect(got.some((x) => Number.isNaN(x))).toBe(false);
    expectClose(got, refAttention(D, t.qv, t.kv, t.vv, ex.ref({})), TOL, `${device} ${ex.name} blocks=${blocks}`);
  } finally {
    disposeAll(out, t.q, t.k, t.v, ...Object.values(caps));
    blockMask?.dispose();
  }
}

for (const device of testDevices()) {
  describe(`flexAttention on ${device}`, () => {
    for (const ex of EXAMPLES) {
      it(ex.name, async () => {
        await runExample(device, ex, false, 21);
        if (ex.mask) await runExample(device, ex, true, 22);
      });
    }

    it('a mask that empties whole rows gives 0 there, and the builder gives the same as text', async () => {
      const t = makeQkv(device, 'float32', D, 31);
      const b = xpu.flex.build;
      const text = xpu.flex.maskMod('q_idx % 5 != 0 && kv_idx <= q_idx');
      const built = xpu.flex.maskMod(b.and(b.ne(b.mod(b.qIdx, 5), 0), b.le(b.kvIdx, b.qIdx)));
      expect(built.key).toBe(text.key);
      const out = xpu.flexAttention(t.q, t.k, t.v, { maskMod: built, enableGqa: true });
      const got = await out.data();
      expectClose(got, refAttention(D, t.qv, t.kv, t.vv, { maskMod: (_b, _h, i, j) => i % 5 !== 0 && j <= i }), TOL, 'builder');
      expect(got.slice(0, D.Ev).every((x) => x === 0)).toBe(true); // row 0 is fully masked
      disposeAll(out, t.q, t.k, t.v);
    });

    it('flexAttention without modifications is SDPA, and scale applies before scoreMod', async () => {
      const t = makeQkv(device, 'float32', D, 41);
      const a = xpu.flexAttention(t.q, t.k, t.v, { enableGqa: true, scale: 0.5, scoreMod: xpu.flex.scoreMod('score * 2') });
      expectClose(await a.data(), refAttention(D, t.qv, t.kv, t.vv, { scale: 1 }), TOL, 'scale then scoreMod');
      disposeAll(a, t.q, t.k, t.v);
    });
  });
}

if (testDevices().includes('xpu')) {
  it('flex on the xpu decode path (L = 1, sliding window with a block mask)', async () => {
    const d: Dims = { B: 1, Hq: 2, Hkv: 1, L: 1, S: 300, E: 32, Ev: 32 };
    const t = makeQkv('xpu', 'float32', d, 51);
    const mm = xpu.flex.maskMod('kv_idx >= 150 && kv_idx < 270');
    const bm = await xpu.flex.createBlockMask(mm, 1, 1, d.L, d.S, { blockSize: 32, device: 'xpu' });
    for (const path of ['decode', 'prefill'] as const) {
      setAttentionConfigOverride((c) => ({ ...c, path, chunk: 64 }));
      const out = xpu.flexAttention(t.q, t.k, t.v, { blockMask: bm, scoreMod: xpu.flex.scoreMod('score - kv_idx / 100'), enableGqa: true });
      expectClose(
        await out.data(),
        refAttention(d, t.qv, t.kv, t.vv, { maskMod: (_b, _h, _i, j) => j >= 150 && j < 270, scoreMod: (s, _b, _h, _i, j) => s - j / 100 }),
        TOL,
        path,
      );
      out.dispose();
    }
    disposeAll(t.q, t.k, t.v);
    bm.dispose();
  });
}

describe('block masks', () => {
  it('classify tiles as empty, partial and full', async () => {
    const bm = await xpu.flex.createBlockMask(xpu.flex.maskMod('kv_idx <= q_idx'), null, null, 64, 64, { blockSize: 16, device: 'cpu' });
    expect(bm.flags.shape).toEqual([1, 1, 4, 4]);
    const flags = Array.from(await bm.flags.data());
    // Lower triangle full, diagonal partial, upper empty.
    expect(flags).toEqual([1, 0, 0, 0, 2, 1, 0, 0, 2, 2, 1, 0, 2, 2, 2, 1]);
    expect(bm.counts).toEqual([6, 4, 6]);
    expect(bm.sparsity()).toBeCloseTo(6 / 16);
  });

  it('refuses bad arguments and a mask made for another shape', async () => {
    const mm = xpu.flex.maskMod('kv_idx <= q_idx');
    await expect(xpu.flex.createBlockMask(mm, 1, 1, 8, 8, { blockSize: 24 })).rejects.toBeInstanceOf(xpu.XpuValueError);
    await expect(xpu.flex.createBlockMask(xpu.flex.scoreMod('score') as never, 1, 1, 8, 8)).rejects.toBeInstanceOf(xpu.XpuValueError);
    const bm = await xpu.flex.createBlockMask(mm, 1, 1, 8, 8, { blockSize: 16, device: 'cpu' });
    const q = xpu.randn([1, 1, 9, 4], { device: 'cpu' });
    caught(() => xpu.flexAttention(q, q, q, { blockMask: bm }), xpu.XpuShapeError);
    const q8 = xpu.randn([1, 1, 8, 4], { device: 'cpu' });
    caught(() => xpu.flexAttention(q8, q8, q8, { blockMask: bm, maskMod: xpu.flex.maskMod('true') }), xpu.XpuValueError);
  });
});

describe('modification expressions', () => {
  const bad: [string, 'score' | 'mask', RegExp][] = [
    ['score +', 'score', /unexpected the end/],
    ['score + foo', 'score', /unknown name 'foo'/],
    ['score; fn main()', 'score', /unexpected character ';'/],
    ['kv_idx <= q_idx', 'score', /must give a number/],
    ['score + 1', 'mask', /score is not available|must give a bool/],
    ['exp(score, 2)', 'score', /exp takes 1 argument/],
    ['1e999 + score', 'score', /out of range/],
    ['slopes[h] + score', 'score', /unknown captured tensor 'slopes'/],
    ['q_idx < kv_idx < 3', 'mask', /unexpected '<'/],
    ['(q_idx < 3) + 1 > 0', 'mask', /must be a number/],
    ['`${x}`', 'score', /unexpected character/],
  ];
  for (const [text, kind, re] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      const err = caught(() => (kind === 'score' ? xpu.flex.scoreMod(text) : xpu.flex.maskMod(text)), xpu.XpuValueError);
      expect(err.message).toMatch(re);
      expect(err.arg).toBe('expression');
    });
  }

  it('refuses forged trees, bad capture names and strings where a modification belongs', () => {
    caught(() => xpu.flex.scoreMod({ kind: 'var', name: 'x; }' } as never), xpu.XpuValueError);
    caught(() => xpu.flex.scoreMod({ kind: 'num', value: Number.NaN }), xpu.XpuValueError);
    caught(
      () =>
        xpu.flex.scoreMod({ kind: 'binary', op: '<<' as never, left: { kind: 'num', value: 1 }, right: { kind: 'var', name: 'score' } }),
      xpu.XpuValueError,
    );
    caught(() => xpu.flex.scoreMod('score', { 'a b': xpu.ones([2], { device: 'cpu' }) }), xpu.XpuValueError);
    caught(() => xpu.flex.scoreMod('score', { exp: xpu.ones([2], { device: 'cpu' }) }), xpu.XpuValueError);
    caught(() => xpu.flex.scoreMod('s[h, h] + score', { s: xpu.ones([2], { device: 'cpu' }) }), xpu.XpuValueError);
    const q = xpu.randn([1, 1, 4, 4], { device: 'cpu' });
    caught(() => xpu.flexAttention(q, q, q, { scoreMod: 'score * 2' as never }), xpu.XpuValueError);
    // A FlexMod-shaped object with a forged tree is checked again by flexAttention.
    const forged = { kind: 'score', key: 'x', captures: new Map(), expr: { kind: 'call', fn: 'eval', args: [] } };
    caught(() => xpu.flexAttention(q, q, q, { scoreMod: forged as never }), xpu.XpuValueError);
  });
});

/*
 * The checker and the emitters read one snapshot of the tree (src/flex/check.ts snapshotExpr):
 * a tree that answers differently on each read must not pass the checker with one expression
 * and reach the shader or the cpu closures as another.
 */
const causal = (_b: number, _h: number, i: number, j: number) => j <= i;

/** A var node whose `name` reads 'kv_idx' the first time and 'b' (b <= q_idx: no mask) after. */
function twoFacedVar(): { node: object; reads: () => number } {
  let n = 0;
  const target = { kind: 'var', name: 'kv_idx' };
  const node = new Proxy(target, {
    getOwnPropertyDescriptor(t, key) {
      if (key !== 'name') return Reflect.getOwnPropertyDescriptor(t, key);
      return { value: n++ === 0 ? 'kv_idx' : 'b', writable: true, enumerable: true, configurable: true };
    },
    get(t, key) {
      if (key !== 'name') return Reflect.get(t, key);
      return n++ === 0 ? 'kv_idx' : 'b';
    },
  });
  return { node, reads: () => n };
}

describe('expression trees are snapshotted once', () => {
  it('a node with a getter is refused without running the getter', () => {
    let reads = 0;
    const tree = {
      kind: 'binary',
      op: '+',
      left: { kind: 'var', name: 'score' },
      get right() {
        reads++;
        return reads === 1 ? { kind: 'num', value: 1 } : { kind: 'var', name: 'score; }' };
      },
    };
    const err = caught(() => xpu.flex.scoreMod(tree as never), xpu.XpuValueError);
    expect(err.arg).toBe('expression');
    expect(err.message).toMatch(/plain data/);
    expect(reads).toBe(0);
  });

  it('a Proxy node is read once: the mod holds a frozen copy of what was checked', () => {
    const { node, reads } = twoFacedVar();
    const mod = xpu.flex.maskMod({ kind: 'binary', op: '<=', left: node as never, right: { kind: 'var', name: 'q_idx' } });
    expect(reads()).toBe(1);
    expect(mod.key).toBe('(kv_idx<=q_idx)');
    expect(mod.key).toBe(xpu.flex.maskMod('kv_idx <= q_idx').key);
    expect(Object.isFrozen(mod.expr)).toBe(true);
    expect(Object.isFrozen((mod.expr as { left: object }).left)).toBe(true);
    // The copy is not the user's object: it cannot change afterwards.
    expect((mod.expr as { left: object }).left).not.toBe(node);
  });

  it('changing a built tree after scoreMod() does not change the mod', () => {
    const b = xpu.flex.build;
    const tree = b.add(b.score, 1) as { right: { value: number } };
    const mod = xpu.flex.scoreMod(tree as never);
    tree.right.value = 100;
    expect(mod.key).toBe('(score+1)');
    expect((mod.expr as unknown as { right: { value: number } }).right.value).toBe(1);
  });

  it('shared subtrees and cycles are bounded, not followed forever', () => {
    let t: Record<string, unknown> = { kind: 'var', name: 'score' };
    for (let i = 0; i < 40; i++) t = { kind: 'binary', op: '+', left: t, right: t }; // 2^40 nodes as a tree
    expect(caught(() => xpu.flex.scoreMod(t as never), xpu.XpuValueError).message).toMatch(/too many nodes/);
    const loop: Record<string, unknown> = { kind: 'unary', op: '-' };
    loop.arg = loop;
    expect(caught(() => xpu.flex.scoreMod(loop as never), xpu.XpuValueError).message).toMatch(/too deep/);
    caught(() => xpu.flex.scoreMod({ kind: 'var', name: { toString: () => 'score' } } as never), xpu.XpuValueError);
    caught(
      () => xpu.flex.scoreMod({ kind: 'call', fn: 'exp', args: { length: 1, 0: { kind: 'var', name: 'score' } } } as never),
      xpu.XpuValueError,
    );
  });
});

for (const device of testDevices()) {
  describe(`flexAttention checks and runs one snapshot on ${device}`, () => {
    it('a two-faced tree, a forged FlexMod with a getter and a forged BlockMask all run the checked expression', async () => {
      const t = makeQkv(device, 'float32', D, 61);
      const want = refAttention(D, t.qv, t.kv, t.vv, { maskMod: causal });
      // What a second read would give (b <= q_idx: nothing masked) differs, so the test can fail.
      expect(Math.max(...want.map((x, i) => Math.abs(x - refAttention(D, t.qv, t.kv, t.vv)[i])))).toBeGreaterThan(1e-3);
      const outs: xpu.Tensor[] = [];
      try {
        // 1. A Proxy node inside a mod made by maskMod().
        const { node } = twoFacedVar();
        const proxied = xpu.flex.maskMod({ kind: 'binary', op: '<=', left: node as never, right: { kind: 'var', name: 'q_idx' } });
        outs.push(xpu.flexAttention(t.q, t.k, t.v, { maskMod: proxied, enableGqa: true }));
        // 2. A FlexMod-shaped object whose `expr` getter gives the causal tree first, then a tree
        //    that would mask nothing; its key lies too.
        const first = xpu.flex.maskMod('kv_idx <= q_idx').expr;
        const second = xpu.flex.maskMod('b <= q_idx').expr;
        let exprReads = 0;
        const forged = {
          kind: 'mask',
          key: 'true',
          captures: new Map(),
          get expr() {
            return exprReads++ === 0 ? first : second;
          },
        };
        outs.push(xpu.flexAttention(t.q, t.k, t.v, { maskMod: forged as never, enableGqa: true }));
        expect(exprReads).toBe(1);
        // 3. The same forged mod through createBlockMask: classified and run from one read.
        exprReads = 0;
        const bm = await xpu.flex.createBlockMask(forged as never, null, null, D.L, D.S, { blockSize: 16, device });
        expect(exprReads).toBe(1);
        expect(bm.maskMod.key).toBe('(kv_idx<=q_idx)');
        expect(bm.counts[0]).toBeGreaterThan(0); // causal: tiles above the diagonal are empty
        exprReads = 0;
        outs.push(xpu.flexAttention(t.q, t.k, t.v, { blockMask: bm, enableGqa: true }));
        // 4. A BlockMask built by hand around the forged mod: flexAttention snapshots it too.
        exprReads = 0;
        const handMade = new xpu.BlockMask(bm.flags, forged as never, bm.blockSize, bm.qLen, bm.kvLen, bm.counts);
        outs.push(xpu.flexAttention(t.q, t.k, t.v, { blockMask: handMade, enableGqa: true }));
        expect(exprReads).toBe(1);
        for (const [i, out] of outs.entries()) expectClose(await out.data(), want, TOL, `${device} case ${i + 1}`);
        bm.dispose();
      } finally {
        disposeAll(t.q, t.k, t.v, ...outs);
      }
    });
  });
}
