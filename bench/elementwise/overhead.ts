/**
 * Per-op overhead: a chain of 1,000 small dependent ops, then one read-back. At [256] elements
 * the kernels do almost nothing, so the time per op is what the library and the driver cost per
 * dispatch (recording, bind groups, uniforms, submits), plus the read-back's share.
 */
import * as xpu from '../../src/index.js';
import { compare, failedCheck, type Check } from '../lib/check.js';
import type { TfjsPeer } from '../lib/tfjs_peer.js';
import type { Workload } from '../suite.js';

export const CHAIN_OPS = 1000;
export const CHAIN_ELEMENTS = 256;
const BOUND = 1e-5;

/** tensor: the other operand is a [256] tensor of ones (same work on every library); scalar: a JS number. */
export type ChainVariant = 'tensor' | 'scalar';
export const CHAIN_KERNEL: Record<ChainVariant, string> = {
  tensor: 'add chain (tensor)',
  scalar: 'add chain (scalar)',
};
export const CHAIN_SHAPE: Record<ChainVariant, string> = {
  tensor: `x = x.add(c), c a [${CHAIN_ELEMENTS}] tensor, ${CHAIN_OPS} ops, one read-back`,
  scalar: `x = x.add(1), 1 a JS number, ${CHAIN_OPS} ops, one read-back`,
};
/** Bytes one op of the chain must move: x (and c) read, the result written. */
export const chainBytes = (v: ChainVariant): number => (v === 'tensor' ? 3 : 2) * 4 * CHAIN_ELEMENTS;

interface Chain<T> {
  start: T;
  step(x: T): T;
  read(x: T): Promise<Float32Array>;
  dispose(x: T): void;
  /** Frees the chain's own tensors (start and the constant). */
  free(): void;
}

/** The read-back ends each run, so the runner's sync finds nothing left to wait for. */
function chainWorkload<T>(chain: Chain<T>): Workload {
  let last: Float32Array | null = null;
  const run = async () => {
    let x = chain.start;
    for (let i = 0; i < CHAIN_OPS; i++) {
      const y = chain.step(x);
      if (x !== chain.start) chain.dispose(x); // dispose as we go, as a careful user would
      x = y;
    }
    last = await chain.read(x);
    chain.dispose(x);
  };
  return {
    units: CHAIN_OPS,
    run,
    check: async (): Promise<Check> => {
      try {
        await run();
        const x0 = await chain.read(chain.start);
        return compare(
          last ?? new Float32Array(0),
          Float64Array.from(x0, (v) => v + CHAIN_OPS),
          BOUND,
        );
      } catch (e) {
        return failedCheck(e, BOUND);
      }
    },
    dispose: () => chain.free(),
  };
}

export function xpuChainWorkload(device: 'xpu' | 'cpu', variant: ChainVariant): Workload {
  const start = xpu.randn([CHAIN_ELEMENTS], { device });
  const c = xpu.ones([CHAIN_ELEMENTS], { device });
  return chainWorkload({
    start,
    step: variant === 'tensor' ? (x) => x.add(c) : (x) => x.add(1),
    read: async (x) => (await x.data()) as Float32Array,
    dispose: (x) => x.dispose(),
    free: () => {
      start.dispose();
      c.dispose();
    },
  });
}

export function tfjsChainWorkload(peer: TfjsPeer, variant: ChainVariant): Workload {
  const { tf } = peer;
  const start = tf.randomNormal([CHAIN_ELEMENTS]);
  const c = tf.ones([CHAIN_ELEMENTS]);
  const w = chainWorkload({
    start,
    // tf.add(x, 1) wraps the number in a new scalar tensor each time: that is tfjs's cost for it.
    step: variant === 'tensor' ? (x) => tf.add(x, c) : (x) => tf.add(x, 1),
    read: async (x) => (await x.data()) as Float32Array,
    dispose: (x) => x.dispose(),
    free: () => {
      start.dispose();
      c.dispose();
    },
  });
  return { ...w, sync: () => peer.sync() };
}
