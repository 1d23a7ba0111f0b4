/**
 * The onnxruntime-node peers: a MatMul model (bench/lib/onnx_model.ts) run by ORT's CPU execution
 * provider (MLAS) beside the cpu GEMM, and by its WebGPU EP (ORT's own statically linked Dawn)
 * beside xpu. Inputs are host tensors, as a Node user would pass them; each run is one
 * session.run with host inputs and output (for WebGPU that includes upload and download).
 *
 * onnxruntime-node is a devDependency installed without its postinstall (which would fetch CUDA
 * libraries from nuget.org): ONNXRUNTIME_NODE_INSTALL=skip in scripts/setup.sh. The CPU and
 * WebGPU EPs are in the npm tarball itself.
 */
import { createRequire } from 'node:module';
import { compare, failedCheck, type Check } from './check.js';
import { matmulModel } from './onnx_model.js';
import type { Workload } from '../suite.js';

/** The slice of onnxruntime-node's API the peer uses. */
interface OrtTensor {
  data: Float32Array;
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
interface Ort {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
  listSupportedBackends?(): { name: string; bundled: boolean }[];
  env: { versions?: Record<string, string> };
}

export type OrtEp = 'cpu' | 'webgpu';

/**
 * ORT's intra-op threads do not spin between runs: the benchmark interleaves implementations, and
 * a pool spinning after its own run would take the cores of the next one (the runtime's OpenMP
 * threads sleep when idle too, see src/backends/cpu/native.ts). It changes no kernel.
 */
export const ORT_SESSION_CONFIG = { session: { intra_op: { allow_spinning: '0' } } };

export interface OrtPeer {
  ort: Ort;
  version: string;
  backends: string[];
}

const require = createRequire(import.meta.url);

export function loadOrt(): OrtPeer | string {
  try {
    const ort = require('onnxruntime-node') as Ort;
    const version = (require('onnxruntime-node/package.json') as { version: string }).version;
    const backends =
      ort
        .listSupportedBackends?.()
        .filter((b) => b.bundled)
        .map((b) => b.name) ?? [];
    return { ort, version, backends };
  } catch (e) {
    const first = (e as Error).message.split('\n')[0];
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND')
      return `onnxruntime-node failed to load: ${first} (ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node)`;
    return `onnxruntime-node failed to load: ${first}`;
  }
}

/** Does this EP run a tiny MatMul correctly? A string says why not. */
export async function probeEp(peer: OrtPeer, ep: OrtEp): Promise<string | null> {
  if (!peer.backends.includes(ep)) return `onnxruntime-node ${peer.version} has no bundled ${ep} EP (bundled: ${peer.backends.join(', ')})`;
  try {
    const s = await peer.ort.InferenceSession.create(matmulModel(2, 2, 2), { executionProviders: [ep] });
    const a = new peer.ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [2, 2]);
    const b = new peer.ort.Tensor('float32', Float32Array.from([5, 6, 7, 8]), [2, 2]);
    const y = (await s.run({ A: a, B: b })).Y.data;
    await s.release?.();
    const want = [19, 22, 43, 50];
    if (want.some((v, i) => y[i] !== v)) return `${ep} EP computed a wrong 2x2 MatMul: ${Array.from(y).join(',')}`;
    return null;
  } catch (e) {
    return `${ep} EP failed: ${(e as Error).message.split('\n')[0]}`;
  }
}

export interface OrtGemmShape {
  m: number;
  n: number;
  k: number;
  transB: boolean;
}

function randn(n: number, seed: number): Float32Array {
  // A cheap seeded normal-ish generator (sum of uniforms); the values only need to be nonzero and varied.
  let x = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < 4; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      s += (x >>> 0) / 4294967296;
    }
    out[i] = (s - 2) * 1.7;
  }
  return out;
}

/** ORT's MatMul on this EP, rotating among `sets` input pairs; `units` runs of the session a run. */
export function ortGemmWorkload(peer: OrtPeer, ep: OrtEp, s: OrtGemmShape, sets: number, bound: number, units = 1): Workload {
  const { ort } = peer;
  const inputs: { a: Float32Array; b: Float32Array; feeds: Record<string, OrtTensor> }[] = [];
  for (let i = 0; i < sets; i++) {
    const a = randn(s.m * s.k, 17 + 2 * i);
    const b = randn(s.k * s.n, 18 + 2 * i);
    inputs.push({
      a,
      b,
      feeds: { A: new ort.Tensor('float32', a, [s.m, s.k]), B: new ort.Tensor('float32', b, s.transB ? [s.n, s.k] : [s.k, s.n]) },
    });
  }
  const session = ort.InferenceSession.create(matmulModel(s.m, s.n, s.k, { transB: s.transB }), {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
    extra: ORT_SESSION_CONFIG,
  });
  let next = 0;
  return {
    units,
    run: async () => {
      const sess = await session;
      for (let u = 0; u < units; u++) await sess.run(inputs[next++ % inputs.length].feeds);
    },
    check: async (): Promise<Check> => {
      try {
        const sess = await session;
        const { a, b, feeds } = inputs[0];
        const y = (await sess.run(feeds)).Y.data;
        const rows = Math.min(2, s.m);
        const ref = new Float64Array(rows * s.n);
        for (let i = 0; i < rows; i++) {
          for (let p = 0; p < s.k; p++) {
            const av = a[i * s.k + p];
            for (let j = 0; j < s.n; j++) ref[i * s.n + j] += av * (s.transB ? b[j * s.k + p] : b[p * s.n + j]);
          }
        }
        return compare(y.subarray(0, rows * s.n), ref, bound);
      } catch (e) {
        return failedCheck(e, bound);
      }
    },
    dispose: async () => {
      await (await session.catch(() => null))?.release?.();
    },
  };
}
