/**
 * Throughput workloads: one op at one size, ours on a device or tfjs-webgpu's on the same adapter.
 * A GPU run records several ops (inputs rotating among sets, so that the caches do not hold them)
 * and the runner then waits once; the cpu kernels run synchronously, one op per run.
 */
import * as xpu from '../../src/index.js';
import { compare, failedCheck } from '../lib/check.js';
import { opsPerRun, rotationSets } from '../lib/rotation.js';
import type { TfjsPeer } from '../lib/tfjs_peer.js';
import type { Workload } from '../suite.js';
import { CHECK_ELEMENTS, ITEM_BYTES, ROW, readPrefix, type FloatDType, type OpCase } from './ops.js';

type Tensor = xpu.Tensor;
type TfTensor = ReturnType<TfjsPeer['tf']['add']>;

/** Throws XpuOutOfMemoryError when the inputs do not fit the adapter (the runner records it). */
export function opWorkload(c: OpCase, device: 'xpu' | 'cpu', n: number, dtype: FloatDType, targetBytes: number): Workload {
  const bytes = c.traffic(n) * ITEM_BYTES[dtype];
  const sets: Tensor[][] = [];
  const dispose = () => {
    for (const s of sets) for (const t of s) t.dispose();
  };
  try {
    for (let k = 0; k < rotationSets(bytes); k++) sets.push(c.makeInputs(device, n, dtype));
  } catch (e) {
    dispose();
    throw e;
  }
  const units = device === 'xpu' ? opsPerRun(bytes, targetBytes) : 1;
  let next = 0;
  return {
    units,
    run: () => {
      for (let k = 0; k < units; k++) c.run(sets[next++ % sets.length]).dispose();
    },
    check: async () => {
      const bound = c.bound[dtype];
      try {
        const out = c.run(sets[0]);
        try {
          const host = await Promise.all(sets[0].map((t) => readPrefix(t, c.checkWhole ? t.numel : undefined)));
          return compare(await readPrefix(out), c.reference(host), bound);
        } finally {
          out.dispose();
        }
      } catch (e) {
        return failedCheck(e, bound);
      }
    },
    dispose,
  };
}

type Tf = TfjsPeer['tf'];
interface TfjsTwin {
  /** The inputs, in the order of the OpCase's makeInputs (default: `inputs` normals of the op's shape). */
  make?(tf: Tf, n: number): TfTensor[];
  inputs: number;
  run(tf: Tf, x: TfTensor[]): TfTensor;
}

const LN_EPS = 1e-5;
const RMS_EPS = 1e-6;
const normals = (tf: Tf, ...shapes: number[][]): TfTensor[] => shapes.map((s) => tf.randomNormal(s));

/**
 * The ops tfjs-webgpu is compared on, and how tfjs spells them; ops tfjs lacks (gelu, layerNorm,
 * rmsNorm) as a tfjs user writes them, under tidy (tfjs-layers' LayerNormalization is moments and
 * the same arithmetic).
 */
const TFJS_OPS: Partial<Record<OpCase['name'], TfjsTwin>> = {
  add: { inputs: 2, run: (tf, [a, b]) => tf.add(a, b) },
  mul: { inputs: 2, run: (tf, [a, b]) => tf.mul(a, b) },
  exp: { inputs: 1, run: (tf, [x]) => tf.exp(x) },
  gelu: { inputs: 1, run: (tf, [x]) => tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))))) },
  where: {
    inputs: 3,
    make: (tf, n) => {
      const [a, b] = normals(tf, [n], [n]);
      return [tf.greater(a, 0), a, b];
    },
    run: (tf, [m, a, b]) => tf.where(m, a, b),
  },
  softmax: { inputs: 1, run: (tf, [x]) => tf.softmax(x) },
  layerNorm: {
    inputs: 3,
    make: (tf, n) => normals(tf, [n / ROW, ROW], [ROW], [ROW]),
    run: (tf, [x, w, b]) =>
      tf.tidy(() => {
        const { mean, variance } = tf.moments(x, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPS))), w), b);
      }),
  },
  rmsNorm: {
    inputs: 2,
    make: (tf, n) => normals(tf, [n / ROW, ROW], [ROW]),
    run: (tf, [x, w]) => tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), RMS_EPS))), w)),
  },
  sum: { inputs: 1, run: (tf, [x]) => tf.sum(x, -1) },
  max: { inputs: 1, run: (tf, [x]) => tf.max(x, -1) },
  transpose: { inputs: 1, run: (tf, [x]) => tf.transpose(x) },
  cat: { inputs: 2, make: (tf, n) => normals(tf, [n / (2 * ROW), ROW], [n / (2 * ROW), ROW]), run: (tf, [a, b]) => tf.concat([a, b], -1) },
};

export const hasTfjsTwin = (c: OpCase): boolean => c.name in TFJS_OPS;

/** tfjs-backend-webgpu's op on the same adapter, timed the same way (submit, then wait once). */
export function tfjsOpWorkload(peer: TfjsPeer, c: OpCase, n: number, targetBytes: number): Workload {
  const { tf } = peer;
  const twin = TFJS_OPS[c.name];
  if (!twin) throw new Error(`no tfjs twin for ${c.name}`);
  const bytes = c.traffic(n) * 4;
  const sets: TfTensor[][] = [];
  for (let k = 0; k < rotationSets(bytes); k++)
    sets.push(twin.make ? twin.make(tf, n) : Array.from({ length: twin.inputs }, () => tf.randomNormal(c.shape(n))));
  const units = opsPerRun(bytes, targetBytes);
  let next = 0;
  return {
    units,
    run: () => {
      for (let k = 0; k < units; k++) twin.run(tf, sets[next++ % sets.length]).dispose();
    },
    sync: () => peer.sync(),
    check: async () => {
      const bound = c.bound.float32;
      try {
        const out = twin.run(tf, sets[0]);
        try {
          const [got, ...host] = await Promise.all(
            [out, ...sets[0]].map((t, j) => tfHead(peer, t, j > 0 && c.checkWhole ? t.size : CHECK_ELEMENTS)),
          );
          return compare(got, c.reference(host), bound);
        } finally {
          out.dispose();
        }
      } catch (e) {
        return failedCheck(e, bound);
      }
    },
    dispose: () => {
      for (const s of sets) for (const t of s) t.dispose();
    },
  };
}

/** The first `count` elements of a tfjs tensor (whole rows of ROW for a 2-D one), read to the host. */
async function tfHead(peer: TfjsPeer, t: TfTensor, count = CHECK_ELEMENTS): Promise<Float32Array> {
  const flat = peer.tf.reshape(t, [t.size]);
  const head = peer.tf.slice(flat, 0, Math.min(count, t.size));
  try {
    return (await head.data()) as Float32Array;
  } finally {
    head.dispose();
    flat.dispose();
  }
}
