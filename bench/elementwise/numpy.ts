/**
 * The numpy peer of the cpu rows: the same op at the same size in the python child
 * (bench/lib/numpy_peer.py), each call timed there, inputs rotating among as many sets as ours.
 * numpy's elementwise ops and reductions are single-threaded SIMD loops: the figure the cpu
 * device's eager ops are held to (issue 15: add, exp, sum, softmax at >= 0.8x numpy).
 */
import { failedCheck, type Check } from '../lib/check.js';
import type { NumpyPeer } from '../lib/numpy_peer.js';
import { rotationSets } from '../lib/rotation.js';
import type { Workload } from '../suite.js';
import { ITEM_BYTES, ROW, type FloatDType, type OpCase } from './ops.js';

function must(r: Record<string, unknown> & { error?: string }): Record<string, unknown> {
  if (r.error) throw new Error(r.error);
  return r;
}

export function numpyOpWorkload(peer: NumpyPeer, c: OpCase, n: number, dtype: FloatDType): Workload {
  const id = peer.newId();
  const sets = rotationSets(c.traffic(n) * ITEM_BYTES[dtype]);
  const ready = peer.request({ op: 'ew_setup', id, name: c.name, n, row: ROW, dtype, sets }).then(must);
  let lastMs: number | undefined;
  return {
    units: 1,
    run: async () => {
      await ready;
      lastMs = must(await peer.request({ op: 'run', id, units: 1 })).ms as number;
    },
    selfTimedMs: () => lastMs,
    check: async (): Promise<Check> => {
      const bound = c.bound[dtype];
      try {
        await ready;
        const r = must(await peer.request({ op: 'check', id }));
        const relErr = r.relErr as number;
        return { elements: r.elements as number, relErr, bound, ok: relErr <= bound };
      } catch (e) {
        return failedCheck(e, bound);
      }
    },
    dispose: async () => {
      await peer.request({ op: 'free', id });
    },
  };
}
