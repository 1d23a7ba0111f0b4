import { defaultDevice } from '../device/accelerator.js';
import type { DeviceLike } from '../device/device.js';
import { XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { intArg } from '../tensor/shape.js';
import { tensor } from '../ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { BLOCK_EMPTY, BLOCK_FULL, BLOCK_PARTIAL } from '../ops/attention/spec.js';
import { compileJs, type HostCapture } from './js.js';
import { checkedMod, isFlexMod, type FlexMod } from './mods.js';

/**
 * PyTorch's BlockMask: which (query block, key block) tiles of the score matrix hold any kept
 * pair. flexAttention skips empty tiles and runs the mask modification only on partial ones.
 * flags is int32 [B, H, qBlocks, kvBlocks] (B or H may be 1: broadcast over it).
 */
export class BlockMask {
  constructor(
    readonly flags: Tensor,
    readonly maskMod: FlexMod,
    readonly blockSize: number,
    readonly qLen: number,
    readonly kvLen: number,
    /** Blocks per flag value: [empty, partial, full]. */
    readonly counts: readonly [number, number, number],
  ) {}

  get qBlocks(): number {
    return this.flags.shape[2];
  }
  get kvBlocks(): number {
    return this.flags.shape[3];
  }

  /** Fraction of tiles that are skipped (PyTorch's BlockMask.sparsity() / 100). */
  sparsity(): number {
    const total = this.counts[0] + this.counts[1] + this.counts[2];
    return total ? this.counts[0] / total : 0;
  }

  dispose(): void {
    this.flags.dispose();
  }
}

export interface BlockMaskOptions {
  /** Tile edge in queries and keys: a power of two from 16 to 1024 (default 128, as PyTorch). */
  blockSize?: number;
  /** Where the flags live (the device flexAttention will run on); default: the default device. */
  device?: DeviceLike;
}

function checkCount(arg: string, x: unknown, allowNull: boolean): number {
  if (allowNull && (x === null || x === undefined)) return 1;
  return intArg('createBlockMask', arg, x, {
    min: 1,
    expected: allowNull ? 'a positive integer, or null to broadcast' : 'a positive integer',
  });
}

/**
 * createBlockMask(maskMod, B, H, L, S): evaluates the mask modification on the host for every
 * pair (B and H may be null: the mask does not depend on them and is broadcast), classifies each
 * tile, and uploads the flags. Async because captured tensors on xpu must be read back first.
 */
export async function createBlockMask(
  maskModIn: FlexMod,
  B: number | null,
  H: number | null,
  L: number,
  S: number,
  options: BlockMaskOptions = {},
): Promise<BlockMask> {
  const op = 'createBlockMask';
  if (!isFlexMod(maskModIn, 'mask'))
    throw new XpuTypeError('needs a mask modification', {
      op,
      arg: 'maskMod',
      expected: "xpu.flex.maskMod('...')",
      got: typeName(maskModIn),
    });
  // One checked, frozen snapshot: what is evaluated here is what the BlockMask keeps.
  const maskMod = checkedMod(op, maskModIn, 'mask');
  const nb = checkCount('B', B, true);
  const nh = checkCount('H', H, true);
  const l = checkCount('L', L, false);
  const s = checkCount('S', S, false);
  const bs = intArg(op, 'blockSize', options.blockSize ?? 128);
  if (bs < 16 || bs > 1024 || (bs & (bs - 1)) !== 0) {
    throw new XpuValueError('blockSize must be a power of two from 16 to 1024', {
      op,
      arg: 'blockSize',
      expected: '16, 32, 64, 128, 256, 512 or 1024',
      got: String(bs),
    });
  }
  const caps = new Map<string, HostCapture>();
  for (const [name, t] of maskMod.captures) {
    t.check(op, `captures.${name}`);
    caps.set(name, { data: Float32Array.from(await t.data()), shape: t.shape });
  }
  const fn = compileJs(maskMod.expr, caps);
  const qb = Math.ceil(l / bs);
  const kb = Math.ceil(s / bs);
  const flags = new Int32Array(nb * nh * qb * kb);
  const counts: [number, number, number] = [0, 0, 0];
  let o = 0;
  for (let b = 0; b < nb; b++) {
    for (let h = 0; h < nh; h++) {
      for (let x = 0; x < qb; x++) {
        for (let y = 0; y < kb; y++) {
          const f = classify(fn, b, h, x * bs, Math.min(l, (x + 1) * bs), y * bs, Math.min(s, (y + 1) * bs));
          flags[o++] = f;
          counts[f]++;
        }
      }
    }
  }
  const device = options.device ?? (maskMod.captures.size ? [...maskMod.captures.values()][0].device : defaultDevice());
  const t = tensor(flags, { device, dtype: 'int32', shape: [nb, nh, qb, kb] });
  return new BlockMask(t, maskMod, bs, l, s, counts);
}

function classify(
  fn: (s: number, b: number, h: number, q: number, kv: number) => number,
  b: number,
  h: number,
  q0: number,
  q1: number,
  k0: number,
  k1: number,
): number {
  let kept = 0;
  let dropped = 0;
  for (let q = q0; q < q1; q++) {
    for (let kv = k0; kv < k1; kv++) {
      if (fn(0, b, h, q, kv)) kept++;
      else dropped++;
      if (kept && dropped) return BLOCK_PARTIAL;
    }
  }
  return kept ? BLOCK_FULL : BLOCK_EMPTY;
}
