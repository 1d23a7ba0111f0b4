import type { MapSpec, PureMap } from '../backend.js';
import type { HostArray } from '../../tensor/dtype.js';
import { giveBackHost } from './host_pool.js';
import { launchNativeJob, nativeCompute } from './native_jobs.js';
import type { NativeCompute } from './native.js';
import { ewPath, missingNative, NATIVE_MIN, runsInline, wantsNative } from './native_ew_path.js';
import { CpuStorage } from './storage.js';

/**
 * Pure float maps through the addon (native/compute/elementwise.cc): the ops below and the
 * float32 <-> float16 casts, when every tensor operand and the output are float32 or float16
 * (computed in f32) and every operand, after merging dims, walks the output as rows x inner with
 * its innermost stride 1 or 0 (same-shape contiguous, scalars, row and column broadcasts). The
 * addon's kernels compute what the op's JS twin computes (see elementwise.cc); other cases stay
 * in map_fast.ts. Returns null when this path does not apply.
 */

/** Op names (PureMap.op, from src/ops/elementwise_table.ts) and their codes in elementwise.cc. */
const NATIVE_OPS: Record<string, number> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  maximum: 4,
  minimum: 5,
  neg: 16,
  abs: 17,
  relu: 18,
  sqrt: 19,
  exp: 20,
  sigmoid: 21,
  silu: 22,
  gelu: 24,
};

/** exp, sigmoid, silu, gelu: compute-bound (elementwise.cc uses a second thread from 2^19 elements). */
const HEAVY = new Set([20, 21, 22, 24]);

/** The identity (a cast between float32 and float16: PureMap.copy). */
const COPY_CODE = 23;

const isFloatStore = (d: string): boolean => d === 'float32' || d === 'float16';

type EwArgs = [number, number, number, Float32Array | Uint16Array, ...(Float32Array | Uint16Array | number)[]];
type EwCompute = NativeCompute & { ew?(...a: EwArgs): number; ewNow?(...a: EwArgs): void };
type ChainArgs = [number, Float32Array, Float32Array[], number[], Int32Array, Float32Array];
type ChainCompute = NativeCompute & { ewChain?(...a: ChainArgs): number; ewChainNow?(...a: ChainArgs): void };

export function nativeMap(spec: MapSpec, n: number, shape: readonly number[], strides: readonly (readonly number[])[]): CpuStorage | null {
  if (n < NATIVE_MIN && ewPath() !== 'native') return null; // the common small op: nothing else to look at
  const pure = spec.kernel.pure;
  if (pure?.chain) return nativeChain(spec, pure.chain, n, shape, strides);
  const code = pure?.op !== undefined ? NATIVE_OPS[pure.op] : pure?.copy ? COPY_CODE : undefined;
  if (code === undefined || !isFloatStore(spec.outDtype) || spec.argKind !== 'f32') return null;
  // A same-dtype copy is TypedArray.set already (map_fast.ts).
  if (code === COPY_CODE && spec.inputs[0].dtype === spec.outDtype) return null;
  const path = ewPath();
  if (!wantsNative(path, n) || n === 0) return null;
  if (spec.inputs.some((op, k) => !isFloatStore(op.dtype) || (spec.loadKinds?.[k] ?? 'f32') !== 'f32')) return null;
  const rank = shape.length;
  if (rank > 2 || rank === 0 || strides.some((s) => s[rank - 1] !== 0 && s[rank - 1] !== 1)) return null;
  const c = nativeCompute() as EwCompute | null;
  const name = pure!.op ?? spec.kernel.name;
  if (!c?.ew || !c.ewNow) return missingNative(path, name, 'the native addon has no elementwise kernels');
  const rows = rank === 2 ? shape[0] : 1;
  const inner = shape[rank - 1];
  const storages = spec.inputs.map((op) => op.storage as CpuStorage);
  const out = CpuStorage.alloc(spec.outDtype, n, spec.kernel.name, true);
  const args: EwArgs = [code, rows, inner, out.rawData as Float32Array | Uint16Array];
  for (const s of pure!.slots) {
    if (!s.tensor) {
      args.push(spec.scalars![s.index].value, 0, 0, 0);
      continue;
    }
    const op = spec.inputs[s.index];
    const st = strides[s.index];
    args.push(storages[s.index].rawData as Float32Array | Uint16Array, op.offset, rank === 2 ? st[0] : 0, st[rank - 1]);
  }
  const inline = runsInline(n, c.completed() === c.submitted(), HEAVY.has(code));
  const refused = launchNativeJob(
    out,
    storages,
    inline,
    () => c.ewNow!(...args),
    () => c.ew!(...args),
  );
  if (refused !== null) {
    giveBackHost(spec.outDtype, out.rawData as HostArray);
    return missingNative(path, name, refused);
  }
  return out;
}

/**
 * A fused chain of table ops (PureMap.chain, from xpu.compile) in one native pass
 * (elementwise.cc RunEwChain): float32 operands that each walk the whole output contiguously.
 * Otherwise null, and the chain's composed function runs in map_fast.ts.
 */
function nativeChain(
  spec: MapSpec,
  chain: NonNullable<PureMap['chain']>,
  n: number,
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): CpuStorage | null {
  const path = ewPath();
  // A chain does chain.length ops' work per element: the hand-off pays off as for that many elements.
  if (!wantsNative(path, n * chain.length) || n === 0 || spec.outDtype !== 'float32') return null;
  if (
    shape.length !== 1 ||
    spec.inputs.some((op, k) => op.dtype !== 'float32' || (spec.loadKinds?.[k] ?? spec.argKind) !== 'f32' || strides[k][0] !== 1)
  )
    return null;
  const program = new Int32Array(chain.length * 5);
  const scalars = new Float32Array(chain.length * 2);
  for (let s = 0; s < chain.length; s++) {
    const code = NATIVE_OPS[chain[s].op];
    if (code === undefined) return null;
    program[s * 5] = code;
    chain[s].args.forEach((a, j) => {
      const at = s * 5 + 1 + 2 * j;
      if ('input' in a) [program[at], program[at + 1]] = [0, a.input];
      else if ('step' in a) [program[at], program[at + 1]] = [1, a.step];
      else [program[at], scalars[s * 2 + j]] = [2, a.scalar];
    });
  }
  const c = nativeCompute() as ChainCompute | null;
  if (!c?.ewChain || !c.ewChainNow) return missingNative(path, spec.kernel.name, 'the native addon has no fused elementwise chains');
  const storages = spec.inputs.map((op) => op.storage as CpuStorage);
  const out = CpuStorage.alloc('float32', n, spec.kernel.name, true);
  const args: ChainArgs = [
    n,
    out.rawData as Float32Array,
    storages.map((st) => st.rawData as Float32Array),
    spec.inputs.map((op) => op.offset),
    program,
    scalars,
  ];
  const inline = runsInline(n, c.completed() === c.submitted(), true);
  const refused = launchNativeJob(
    out,
    storages,
    inline,
    () => c.ewChainNow!(...args),
    () => c.ewChain!(...args),
  );
  if (refused !== null) {
    giveBackHost('float32', out.rawData as HostArray);
    return missingNative(path, spec.kernel.name, refused);
  }
  return out;
}
