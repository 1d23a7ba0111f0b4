import { XpuDeviceError, XpuShapeError, XpuValueError } from '../../errors.js';
import { BlockMask } from '../../flex/block_mask.js';
import { checkedMod, isFlexMod, type FlexMod } from '../../flex/mods.js';
import type { Tensor } from '../../tensor/tensor.js';
import { copyAs } from '../common.js';
import { recordAttention } from './backward.js';
import { checkQkv, operand4, runAttention } from './run.js';
import { checkScale } from './sdpa.js';
import type { AttentionCapture, AttentionSpec } from './spec.js';

export interface FlexAttentionOptions {
  /** xpu.flex.scoreMod('...'): a new score from (score, b, h, q_idx, kv_idx). */
  scoreMod?: FlexMod | null;
  /** xpu.flex.maskMod('...'): whether (b, h, q_idx, kv_idx) attends. */
  maskMod?: FlexMod | null;
  /** From createBlockMask: skips empty tiles; its mask modification applies (maskMod may be left out). */
  blockMask?: BlockMask | null;
  /** Multiplies q.k before scoreMod; default 1 / sqrt(E). */
  scale?: number | null;
  enableGqa?: boolean;
}

/**
 * PyTorch's flex_attention: attention whose scores pass through a score modification and a mask
 * modification written in xpu's expression language (src/flex), compiled to WGSL on xpu and to
 * JavaScript on cpu. q [B, Hq, L, E], k [B, Hkv, S, E], v [B, Hkv, S, Ev] -> [B, Hq, L, Ev]. A
 * query row with every key masked gives 0, as PyTorch's flex_attention does.
 */
export function flexAttention(query: Tensor, key: Tensor, value: Tensor, options: FlexAttentionOptions = {}): Tensor {
  const { spec, temps } = flexSpec(query, key, value, options);
  try {
    const out = runAttention(OP, query.device, query, spec);
    const captured = [options.scoreMod, options.maskMod, options.blockMask?.maskMod].flatMap((m) =>
      m ? [...m.captures].map(([name, t]) => ({ arg: `captures.${name}`, t })) : [],
    );
    // The capture copies and the block flags are what the spec reads: the node keeps them alive.
    recordAttention(OP, spec, query, key, value, out, [
      ...captured,
      ...temps.map((t) => ({ arg: 'captures', t })),
      { arg: 'blockMask', t: options.blockMask?.flags },
    ]);
    return out;
  } finally {
    for (const t of temps) t.dispose();
  }
}

const OP = 'flexAttention';

/**
 * Checks flexAttention's arguments into the primitive's spec (also what its backward runs);
 * `temps` are the float32 copies of the captured tensors the spec reads, for the caller to
 * dispose when the spec is no longer used.
 */
export function flexSpec(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  options: FlexAttentionOptions = {},
): { spec: AttentionSpec; temps: Tensor[] } {
  const op = OP;
  if (typeof options !== 'object' || options === null)
    throw new XpuValueError('options must be an object', {
      op,
      arg: 'options',
      expected: '{ scoreMod, maskMod, blockMask, scale, enableGqa }',
      got: String(options),
    });
  const enableGqa = options.enableGqa ?? false;
  if (typeof enableGqa !== 'boolean')
    throw new XpuValueError('enableGqa must be a boolean', { op, arg: 'enableGqa', expected: 'true or false', got: String(enableGqa) });
  const dims = checkQkv(op, query, key, value, enableGqa, false);
  const scale = checkScale(op, options.scale, dims.e);
  const scoreIn = options.scoreMod ?? undefined;
  const blockMask = options.blockMask ?? undefined;
  const maskIn = options.maskMod ?? undefined;
  if (scoreIn !== undefined && !isFlexMod(scoreIn, 'score'))
    throw new XpuValueError('scoreMod must come from xpu.flex.scoreMod', {
      op,
      arg: 'scoreMod',
      expected: "xpu.flex.scoreMod('score + ...')",
      got: describe(scoreIn),
    });
  if (maskIn !== undefined && !isFlexMod(maskIn, 'mask'))
    throw new XpuValueError('maskMod must come from xpu.flex.maskMod', {
      op,
      arg: 'maskMod',
      expected: "xpu.flex.maskMod('kv_idx <= q_idx')",
      got: describe(maskIn),
    });
  // Each modification is read once into a checked, frozen snapshot (a FlexMod-shaped object may
  // not come from scoreMod/maskMod, and may answer differently on a second read): the checks
  // below and the kernels both use that snapshot.
  const scoreMod = scoreIn && checkedMod(op, scoreIn, 'score');
  let maskMod = maskIn && checkedMod(op, maskIn, 'mask');
  if (blockMask !== undefined) {
    if (!(blockMask instanceof BlockMask))
      throw new XpuValueError('blockMask must come from createBlockMask', {
        op,
        arg: 'blockMask',
        expected: 'await xpu.flex.createBlockMask(maskMod, B, H, L, S)',
        got: describe(blockMask),
      });
    blockMask.flags.check(op, 'blockMask');
    const own = checkedMod(op, blockMask.maskMod, 'mask');
    if (maskMod !== undefined && maskMod.key !== own.key) {
      throw new XpuValueError("maskMod differs from the block mask's", {
        op,
        arg: 'maskMod',
        expected: `the block mask's own (${own.key}) or none`,
        got: maskMod.key,
      });
    }
    maskMod = own;
    const [fb, fh] = blockMask.flags.shape;
    if (blockMask.qLen !== dims.l || blockMask.kvLen !== dims.s || (fb !== 1 && fb !== dims.batch) || (fh !== 1 && fh !== dims.heads)) {
      throw new XpuShapeError('blockMask was made for another shape', {
        op,
        arg: 'blockMask',
        expected: `B in {1, ${dims.batch}}, H in {1, ${dims.heads}}, L = ${dims.l}, S = ${dims.s}`,
        got: `B ${fb}, H ${fh}, L ${blockMask.qLen}, S ${blockMask.kvLen}`,
      });
    }
    if (!blockMask.flags.device.equals(query.device)) {
      throw new XpuDeviceError('blockMask is on another device', {
        op,
        arg: 'blockMask',
        expected: `flags on ${query.device} (createBlockMask(..., { device }))`,
        got: String(blockMask.flags.device),
      });
    }
  }
  const captures = new Map<string, Tensor>();
  for (const mod of [scoreMod, maskMod]) {
    if (!mod) continue;
    for (const [name, t] of mod.captures) {
      const prev = captures.get(name);
      if (prev && prev !== t)
        throw new XpuValueError('two captured tensors share a name', {
          op,
          arg: `captures.${name}`,
          expected: 'distinct names in scoreMod and maskMod',
          got: name,
        });
      t.check(op, `captures.${name}`);
      if (!t.device.equals(query.device))
        throw new XpuDeviceError('a captured tensor is on another device', {
          op,
          arg: `captures.${name}`,
          expected: `a tensor on ${query.device}`,
          got: String(t.device),
        });
      captures.set(name, t);
    }
  }
  const temps: Tensor[] = [];
  try {
    const caps: AttentionCapture[] = [...captures].map(([name, t]) => {
      const c = copyAs(op, t, 'float32'); // contiguous float32 from element 0, as the kernels index it
      temps.push(c);
      return { name, storage: c.ref.storage, shape: c.shape.slice() };
    });
    const spec: AttentionSpec = {
      q: operand4(query, false),
      k: operand4(key, false),
      v: operand4(value, false),
      batch: dims.batch,
      heads: dims.heads,
      kvHeads: dims.kvHeads,
      l: dims.l,
      s: dims.s,
      e: dims.e,
      ev: dims.ev,
      scale,
      causal: false,
      scoreMod: scoreMod?.expr,
      maskMod: maskMod?.expr,
      captures: caps,
      blockMask: blockMask
        ? {
            flags: {
              storage: blockMask.flags.ref.storage,
              dtype: 'int32',
              strides: blockMask.flags.shape.map((n, i) => (n === 1 ? 0 : blockMask.flags.strides[i])),
              offset: blockMask.flags.offset,
            },
            blockSize: blockMask.blockSize,
            qBlocks: blockMask.qBlocks,
            kvBlocks: blockMask.kvBlocks,
          }
        : undefined,
    };
    return { spec, temps };
  } catch (e) {
    for (const t of temps) t.dispose();
    throw e;
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'string') return `a string ${JSON.stringify(x.slice(0, 40))} (wrap it: xpu.flex.scoreMod(text) / maskMod(text))`;
  return typeof x;
}
