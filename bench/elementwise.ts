/**
 * Elementwise suite: add, softmax, layerNorm and clone throughput at 1M to 64M elements (GB/s and
 * the fraction of the device's copy bandwidth); the per-op overhead of a 1,000-op chain; and the
 * poll strategy's effect. With --peers, tfjs-backend-webgpu runs the same add, softmax and chains
 * on the same Dawn adapter, in the same process. Speed lives here, never in tests.
 *
 *   npm run bench -- elementwise [--quick] [--device xpu|cpu|all] [--dtype f32,f16] [--sizes 1M,4M] [--peers]
 */
import { getPollStrategy } from '../src/backends/webgpu/poll.js';
import { settings } from '../src/settings.js';
import type { RepeatOptions } from './lib/timing.js';
import { sizeLabel } from './lib/table.js';
import { peerForSuite, type TfjsPeer } from './lib/tfjs_peer.js';
import type { BenchCase, DeviceName, Suite, SuiteContext, SuitePlan } from './suite.js';
import { ITEM_BYTES, OPS, ROW, add, type FloatDType, type OpCase } from './elementwise/ops.js';
import { MORE_OPS } from './elementwise/ops_more.js';
import {
  CHAIN_ELEMENTS,
  CHAIN_KERNEL,
  CHAIN_SHAPE,
  chainBytes,
  tfjsChainWorkload,
  xpuChainWorkload,
  type ChainVariant,
} from './elementwise/overhead.js';
import { pollVariants } from './elementwise/polling.js';
import { hasTfjsTwin, opWorkload, tfjsOpWorkload } from './elementwise/throughput.js';
import { numpyOpWorkload } from './elementwise/numpy.js';
import { NumpyPeer } from './lib/numpy_peer.js';

const M = 2 ** 20;
const FULL_SIZES = [1 * M, 4 * M, 16 * M, 64 * M];
const QUICK_SIZES = [1 * M, 4 * M];
const DTYPES: FloatDType[] = ['float32', 'float16'];
/** The cpu rows stop here: 16M elements is the largest size issue 15 holds the cpu to numpy at. */
const CPU_MAX_ELEMENTS = 16 * M;
/** The add size the poll strategies are compared at, when the run has it. */
const POLL_ADD_FULL = 16 * M;

export const suite: Suite = {
  name: 'elementwise',
  description: 'add, softmax, layerNorm and clone throughput against copy bandwidth; per-op overhead of a 1,000-op chain; poll strategies',
  plan,
};

async function plan(ctx: SuiteContext): Promise<SuitePlan> {
  const notes: string[] = [];
  const sizes = ctx.sizes ?? (ctx.quick ? QUICK_SIZES : FULL_SIZES);
  const dtypes = (ctx.dtypes ?? ['float32']).filter((d): d is FloatDType => (DTYPES as string[]).includes(d));
  const unsupported = (ctx.dtypes ?? []).filter((d) => !(DTYPES as string[]).includes(d));
  if (unsupported.length) notes.push(`dtype ${unsupported.join(', ')} not benchmarked here (elementwise covers ${DTYPES.join(', ')})`);
  const targetBytes = (ctx.quick ? 128 : 256) * M;
  const chainRepeat: RepeatOptions = ctx.quick ? { warmup: 1, reps: 5 } : { warmup: 2, reps: 15 };
  const pollRepeat: RepeatOptions = ctx.quick ? { warmup: 1, reps: 3 } : { warmup: 1, reps: 5 };

  const hasXpu = ctx.devices.includes('xpu');
  const { peer, peers } = await peerForSuite(
    ctx.peers && hasXpu,
    notes,
    'same Dawn instance and adapter as xpu, same process; shares the poll strategy',
  );

  // numpy beside the cpu rows (float32): a python child timing its own calls.
  let numpy: NumpyPeer | null = null;
  if (ctx.peers && ctx.devices.includes('cpu')) {
    const np = await NumpyPeer.start();
    if (typeof np === 'string') notes.push(`numpy rows skipped: ${np}`);
    else {
      numpy = np.peer;
      peers.push({
        impl: 'numpy',
        ...np.info,
        note: "numpy ufuncs / reductions in a python child, timed there (perf_counter per call); softmax and layerNorm as a numpy user writes them (scipy.special.softmax's formulation)",
      });
    }
  }

  const cases: BenchCase[] = [];
  const only = settings.XPU_BENCH_OPS ? new Set(settings.XPU_BENCH_OPS.split(',').map((s) => s.trim())) : undefined;
  if (only) notes.push(`rows limited by XPU_BENCH_OPS to ${[...only].join(', ')}`);
  for (const device of ctx.devices) {
    for (const c of [...OPS, ...MORE_OPS].filter((o) => !only || only.has(o.name))) {
      for (const dtype of dtypes) for (const n of sizes) cases.push(throughputCase(c, device, dtype, n, targetBytes, peer, numpy));
    }
  }
  if (ctx.devices.includes('cpu') && sizes.some((n) => n > CPU_MAX_ELEMENTS))
    notes.push(`cpu sizes capped at ${sizeLabel(CPU_MAX_ELEMENTS)} elements`);
  if (sizes.some((n) => n % ROW)) notes.push(`softmax and layerNorm need sizes that are a multiple of the row length ${ROW}`);

  // The chains and the poll sweep measure per-op cost and waiting, in f32: they run when f32 does.
  let pollN: number | undefined;
  if (dtypes.includes('float32') && (!only || only.has('chain'))) {
    for (const variant of ['tensor', 'scalar'] as const) {
      for (const device of ctx.devices) cases.push(chainCase(device, variant, chainRepeat, device === 'xpu' ? peer : null));
    }
    if (hasXpu && !only) {
      const fitting = sizes.filter((n) => n <= POLL_ADD_FULL);
      pollN = fitting.length ? Math.max(...fitting) : Math.min(...sizes);
      cases.push(
        { ...throughputCase(add, 'xpu', 'float32', pollN, targetBytes, peer), variants: pollVariants(), repeat: pollRepeat },
        { ...chainCase('xpu', 'tensor', chainRepeat, peer), variants: pollVariants() },
      );
    }
  }

  return {
    cases,
    notes,
    peers,
    dispose: async () => numpy?.close(),
    settings: {
      sizes,
      dtypes,
      cpuMaxElements: CPU_MAX_ELEMENTS,
      rowLength: ROW,
      targetBytesPerGpuRun: targetBytes,
      chainRepeat,
      pollRepeat,
      pollAddElements: pollN ?? null,
      defaultPoll: getPollStrategy(),
      method:
        'GPU: several ops recorded per run (inputs rotated among sets spanning twice the last-level cache, >= 96 MiB), then one accelerator.synchronize() (tfjs: end pass + submitQueue + onSubmittedWorkDone); chains: 1,000 dependent ops then one read-back; poll strategies are variants timed round-robin',
    },
  };
}

function throughputCase(
  c: OpCase,
  device: DeviceName,
  dtype: FloatDType,
  n: number,
  targetBytes: number,
  peer: TfjsPeer | null,
  numpy: NumpyPeer | null = null,
): BenchCase {
  const item = ITEM_BYTES[dtype];
  const base: BenchCase = {
    kernel: c.name,
    device,
    dtype,
    size: n,
    shape: `[${c.shape(n).join(', ')}]`,
    // Every op writes one output of n elements; the rest of its traffic is reads.
    flops: c.flops(n),
    bytes: c.traffic(n) * item,
    writeBytes: n * item,
    setup: () => opWorkload(c, device, n, dtype, targetBytes),
  };
  if (n % c.multipleOf) return { ...base, shape: `[${n}]`, skip: `size is not a multiple of ${c.multipleOf}` };
  if (device === 'cpu' && n > CPU_MAX_ELEMENTS) return { ...base, skip: `cpu sizes are capped at ${sizeLabel(CPU_MAX_ELEMENTS)}` };
  if (device === 'xpu' && peer && dtype === 'float32' && hasTfjsTwin(c)) {
    // tfjs would hit a validation error, not a typed one, above its binding limit: do not try.
    const tooBig =
      4 * n > peer.maxBindingBytes
        ? `above the adapter's maxStorageBufferBindingSize (${peer.maxBindingBytes} bytes per tensor): not attempted`
        : undefined;
    base.peers = [{ impl: 'tfjs-webgpu', setup: () => tfjsOpWorkload(peer, c, n, targetBytes), skip: tooBig }];
  }
  if (device === 'cpu' && numpy && dtype === 'float32' && OPS.includes(c))
    base.peers = [{ impl: 'numpy', setup: () => numpyOpWorkload(numpy, c, n, dtype) }];
  // cpu rows take milliseconds: more rounds, so a busy box's interruptions move the medians less.
  if (device === 'cpu') base.repeat = { warmup: 2, reps: 21 };
  return base;
}

function chainCase(device: DeviceName, variant: ChainVariant, repeat: RepeatOptions, peer: TfjsPeer | null): BenchCase {
  return {
    kernel: CHAIN_KERNEL[variant],
    device,
    dtype: 'float32',
    size: CHAIN_ELEMENTS,
    shape: CHAIN_SHAPE[variant],
    metric: 'latency',
    flops: CHAIN_ELEMENTS,
    bytes: chainBytes(variant),
    repeat,
    // The profiler's own cost per launch would be part of what this row measures.
    gpuTime: false,
    setup: () => xpuChainWorkload(device, variant),
    peers: peer ? [{ impl: 'tfjs-webgpu', setup: () => tfjsChainWorkload(peer, variant) }] : undefined,
  };
}
