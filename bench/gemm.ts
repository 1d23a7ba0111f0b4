/**
 * GEMM suite: GFLOP/s of xpu.matmul on square float32 and float16 matrices (256 to 2048) with the
 * adapter's default config, beside tfjs-backend-webgpu's matMul on the same Dawn adapter in the
 * same process; the GEMM strategies (register blocking, shared-memory tiles, the old naive
 * kernel) timed round-robin on the same inputs; the small-M decode case (linear, M = 1 and 8,
 * a 4096 x 4096 weight) with the split-K kernel against tiles and naive; and the cpu GEMM (the
 * addon's oneDNN GEMM; the TypeScript fallback only at small sizes when the addon is absent) at
 * square sizes up to 4096 and the LLM shapes (M in {1, 16, 128, 2048} x weights of 4096x4096,
 * 14336x4096, 4096x14336), beside numpy (a python child timing np.matmul itself, OpenBLAS free of
 * OPENBLAS_CORETYPE) and onnxruntime-node's CPU EP in the same run; xpu beside tfjs-webgpu and
 * onnxruntime-node's WebGPU EP. Speed lives here, never in tests.
 *
 *   node dist/bench/gemm.js [--quick] [--device xpu|cpu|all] [--no-peers] [--json FILE]
 *   npm run bench -- gemm [--quick] [--device ...] [--dtype f32,f16] [--sizes 256,1K] [--peers]
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as xpu from '../src/index.js';
import { chooseGemmConfig, gemmAdapterInfo, gemmConfigKey, type GemmVariant } from '../src/backends/webgpu/gemm_config.js';
import { getPollStrategy } from '../src/backends/webgpu/poll.js';
import { xpuEntries } from '../src/device/registry.js';
import { printResults } from './lib/console_report.js';
import { writeJson } from './lib/json.js';
import { runSession } from './lib/session.js';
import { peerForSuite, type TfjsPeer } from './lib/tfjs_peer.js';
import { NumpyPeer, numpyGemmWorkload } from './lib/numpy_peer.js';
import { loadOrt, ortGemmWorkload, probeEp, type OrtPeer } from './lib/ort_peer.js';
import { rotationSets } from './lib/rotation.js';
import { nativeGemmUnavailable } from '../src/backends/cpu/native_gemm.js';
import type { PeerImpl } from './suite.js';
import type { RepeatOptions } from './lib/timing.js';
import type { BenchCase, DeviceName, Suite, SuiteContext, SuitePlan } from './suite.js';
import { smallMVariants, strategyVariants } from './gemm/variants.js';
import {
  BOUND,
  gemmBytes,
  gemmFlops,
  gemmWriteBytes,
  tfjsGemmWorkload,
  unitsFor,
  xpuGemmWorkload,
  type GemmDType,
  type GemmShape,
} from './gemm/workloads.js';

const FULL_SIZES = [256, 512, 1024, 2048];
const QUICK_SIZES = [256, 512];
const DTYPES: GemmDType[] = ['float32', 'float16'];
/** Without the addon the cpu GEMM is a TypeScript loop (~1 GFLOP/s): 512^3 already takes a quarter second. */
const CPU_MAX_SIZE = 256;
/** With the native (oneDNN) GEMM the cpu runs the square sizes up to 4096. */
const CPU_NATIVE_SIZES = [256, 512, 1024, 2048, 4096];
const CPU_NATIVE_QUICK_SIZES = [256, 512, 1024];
/** LLM linear layers on cpu: x[M, K] @ w[N, K]^T (w as a Linear stores it), f32. */
const LLM_M = [1, 16, 128, 2048];
const LLM_NK: [number, number][] = [
  [4096, 4096],
  [14336, 4096],
  [4096, 14336],
];
const LLM_QUICK_M = [1, 128];
const LLM_QUICK_NK: [number, number][] = [[4096, 4096]];
/** Above this many flops a run takes most of a second on cpu: fewer repeats. */
const BIG_FLOPS = 2e10;
/** Decode steps of a 4096-wide layer: one token and a batch of 8. */
const DECODE_K = 4096;
const DECODE_M = [1, 8];
/** A 2048^3 GEMM takes seconds per run with the naive kernel: fewer repeats there. */
const BIG_REPEAT: RepeatOptions = { warmup: 1, reps: 3 };
/**
 * The native cpu GEMM runs a big case in well under a second, and the comparison with numpy is
 * decided within a few per cent there: as many rounds as the other cases, so that the median and
 * the paired ratios' interval (bench/lib/paired.ts) rest on 7 samples, not 3.
 */
const CPU_BIG_REPEAT: RepeatOptions = { warmup: 1, reps: 7 };
/**
 * The other native cpu cases: a run is 10-20 ms, and on a shared 2-core machine single runs of
 * it vary by 50-250 % (256^3 and 512^3: spread of the 7 runs one session measured). 21 rounds
 * cost ~2 s a case and narrow the paired ratios' interval to the 6th-16th of them.
 */
const CPU_REPEAT: RepeatOptions = { warmup: 2, reps: 21 };
/** The rounds of a cpu case on the native GEMM (the TypeScript one and quick runs keep the defaults). */
const cpuRepeat = (big: boolean, quick: boolean): RepeatOptions | undefined =>
  quick ? (big ? BIG_REPEAT : undefined) : big ? CPU_BIG_REPEAT : CPU_REPEAT;

export const suite: Suite = {
  name: 'gemm',
  description:
    'matmul GFLOP/s (square f32/f16) against tfjs-webgpu and onnxruntime-webgpu; register vs shared-memory vs naive strategies; small-M decode (split-K); cpu (oneDNN) against numpy and onnxruntime-cpu, square and LLM shapes',
  plan,
};

/** The adapter's default tile strategy (what chooseGemmConfig picks for a large square f32). */
function defaultStrategy(): { variant: GemmVariant; config: string } | undefined {
  const entry = xpuEntries()[0];
  if (!entry) return undefined;
  const c = chooseGemmConfig(gemmAdapterInfo(entry.backend.device), 1024, 1024, 1024, 'float32');
  return { variant: c.path === 'tile' ? c.variant : 'register', config: gemmConfigKey(c) };
}

async function plan(ctx: SuiteContext): Promise<SuitePlan> {
  const notes: string[] = [];
  const sizes = ctx.sizes ?? (ctx.quick ? QUICK_SIZES : FULL_SIZES);
  const dtypes = (ctx.dtypes ?? DTYPES).filter((d): d is GemmDType => (DTYPES as string[]).includes(d));
  const unsupported = (ctx.dtypes ?? []).filter((d) => !(DTYPES as string[]).includes(d));
  if (unsupported.length) notes.push(`dtype ${unsupported.join(', ')} not benchmarked (GEMM takes ${DTYPES.join(', ')})`);
  const hasXpu = ctx.devices.includes('xpu');
  const strategy = hasXpu ? defaultStrategy() : undefined;

  const { peer, peers } = await peerForSuite(
    ctx.peers && hasXpu,
    notes,
    'tf.matMul on the same Dawn instance and adapter as xpu, same process; float32 only (tfjs has no float16)',
  );
  const hasCpu = ctx.devices.includes('cpu');
  const cpuNative = nativeGemmUnavailable() === null;
  const cpuPeers = ctx.peers && (hasCpu || hasXpu) ? await loadCpuPeers(hasCpu, hasXpu, notes, peers) : NO_PEERS;

  const cases: BenchCase[] = [];
  for (const device of ctx.devices) {
    const deviceSizes = device === 'cpu' && cpuNative ? (ctx.sizes ?? (ctx.quick ? CPU_NATIVE_QUICK_SIZES : CPU_NATIVE_SIZES)) : sizes;
    for (const dtype of dtypes) {
      for (const n of deviceSizes) {
        const shape: GemmShape = { m: n, n, k: n, op: 'matmul' };
        const base = squareCase(device, dtype, shape);
        if (device === 'cpu' && !cpuNative && n > CPU_MAX_SIZE) {
          cases.push({ ...base, skip: `cpu sizes are capped at ${CPU_MAX_SIZE} (TypeScript GEMM: ${nativeGemmUnavailable()})` });
          continue;
        }
        const big = n >= 2048 || gemmFlops(shape) >= BIG_FLOPS;
        const repeat = device === 'cpu' && cpuNative ? cpuRepeat(big, ctx.quick) : big ? BIG_REPEAT : undefined;
        // The headline: our default config, with the peers beside it (float32: the peers' type).
        const withPeer: PeerImpl[] = [];
        if (dtype === 'float32') {
          if (device === 'xpu' && peer) withPeer.push({ impl: 'tfjs-webgpu', setup: () => tfjsGemmWorkload(peer as TfjsPeer, shape) });
          withPeer.push(...peerImpls(device, cpuPeers, shape));
        }
        cases.push({ ...base, repeat, peers: withPeer.length ? withPeer : undefined });
        // The strategies, round-robin among themselves (tfjs is not re-run per strategy).
        if (device === 'xpu' && strategy) {
          const variants = strategyVariants(strategy.variant);
          cases.push({
            ...base,
            kernel: 'matmul-strategy',
            repeat,
            variants,
            setup: () => xpuGemmWorkload(device, shape, dtype, variants),
          });
        }
      }
    }
  }
  if (hasXpu) {
    for (const dtype of dtypes) {
      for (const m of DECODE_M) {
        const shape: GemmShape = { m, n: DECODE_K, k: DECODE_K, op: 'linear' };
        const base: BenchCase = {
          kernel: 'linear-decode',
          device: 'xpu',
          dtype,
          size: m,
          sizeLabel: `M=${m}`,
          shape: `x [${m}, ${DECODE_K}] @ w[${DECODE_K}, ${DECODE_K}]^T`,
          flops: gemmFlops(shape),
          bytes: gemmBytes(shape, dtype),
          writeBytes: gemmWriteBytes(shape, dtype),
          repeat: BIG_REPEAT,
          note: 'weight-read bound: GB/s is the figure of merit',
          setup: () => xpuGemmWorkload('xpu', shape, dtype),
        };
        cases.push({
          ...base,
          peers:
            peer && dtype === 'float32' ? [{ impl: 'tfjs-webgpu', setup: () => tfjsGemmWorkload(peer as TfjsPeer, shape) }] : undefined,
        });
        const variants = smallMVariants();
        cases.push({ ...base, kernel: 'linear-decode-strategy', variants, setup: () => xpuGemmWorkload('xpu', shape, dtype, variants) });
      }
    }
  }
  if (hasCpu && cpuNative && dtypes.includes('float32')) {
    // LLM linear layers: x[M, K] @ w[N, K]^T, the weight read transposed in place.
    for (const [n, k] of ctx.quick ? LLM_QUICK_NK : LLM_NK) {
      for (const m of ctx.quick ? LLM_QUICK_M : LLM_M) {
        const shape: GemmShape = { m, n, k, op: 'linear' };
        cases.push({
          kernel: 'linear-llm',
          device: 'cpu',
          dtype: 'float32',
          size: m,
          sizeLabel: `M=${m} ${n}x${k}`,
          shape: `x [${m}, ${k}] @ w[${n}, ${k}]^T`,
          flops: gemmFlops(shape),
          bytes: gemmBytes(shape, 'float32'),
          writeBytes: gemmWriteBytes(shape, 'float32'),
          repeat: cpuRepeat(gemmFlops(shape) >= BIG_FLOPS, ctx.quick),
          note: m <= 16 ? 'weight-read bound: GB/s is the figure of merit' : undefined,
          setup: () => xpuGemmWorkload('cpu', shape, 'float32'),
          peers: peerImpls('cpu', cpuPeers, shape),
        });
      }
    }
  }
  if (hasCpu && !cpuNative && sizes.some((n) => n > CPU_MAX_SIZE))
    notes.push(`cpu sizes capped at ${CPU_MAX_SIZE}: the cpu GEMM is TypeScript here (${nativeGemmUnavailable()})`);
  if (hasCpu && cpuNative) notes.push(`cpu GEMM: ${describeNative()}`);
  if (strategy)
    notes.push(
      `default config on this adapter (1024^3 f32): ${strategy.config}; matmul-strategy rows time every strategy (XPU_GEMM_VARIANT) round-robin, the default first`,
    );

  return {
    cases,
    notes,
    peers,
    dispose: async () => cpuPeers.numpy?.close(),
    settings: {
      sizes,
      dtypes,
      cpuMaxSize: cpuNative ? null : CPU_MAX_SIZE,
      cpuNative,
      llm: { m: ctx.quick ? LLM_QUICK_M : LLM_M, nk: ctx.quick ? LLM_QUICK_NK : LLM_NK },
      decode: { m: DECODE_M, k: DECODE_K, n: DECODE_K },
      bigRepeat: BIG_REPEAT,
      cpuRepeat: ctx.quick ? null : { big: CPU_BIG_REPEAT, other: CPU_REPEAT },
      defaultConfig: strategy?.config ?? null,
      defaultPoll: getPollStrategy(),
      method:
        'GPU: several GEMMs recorded per run (>= 1 GFLOP, inputs rotated among sets spanning twice the last-level cache, >= 96 MiB; the cpu rows too), then one accelerator.synchronize() (tfjs: end pass + submitQueue + onSubmittedWorkDone); cpu: ~2 GFLOP or ~0.5 GB per run (at most 64 GEMMs), the same count for numpy and onnxruntime, implementations in turn, each run after a full garbage collection and a 3 ms pause (thread pools idle, V8 done with the collection); GFLOP/s = 2mnk / median time; every strategy checked on the first rows against float64',
    },
  };
}

interface CpuPeers {
  numpy: NumpyPeer | null;
  ort: OrtPeer | null;
  ortCpu: boolean;
  ortWebgpu: boolean;
}

const NO_PEERS: CpuPeers = { numpy: null, ort: null, ortCpu: false, ortWebgpu: false };

/** numpy and onnxruntime-node (CPU EP beside cpu, WebGPU EP beside xpu); a failure becomes a note. */
async function loadCpuPeers(cpu: boolean, gpu: boolean, notes: string[], records: Record<string, unknown>[]): Promise<CpuPeers> {
  const out: CpuPeers = { ...NO_PEERS };
  if (cpu) {
    const np = await NumpyPeer.start();
    if (typeof np === 'string') notes.push(`numpy rows skipped: ${np}`);
    else {
      out.numpy = np.peer;
      records.push({
        impl: 'numpy',
        ...np.info,
        note: 'np.matmul in a python child, timed there (perf_counter per call); OpenBLAS variables that force a core type removed from its environment',
      });
    }
  }
  const ort = loadOrt();
  if (typeof ort === 'string') {
    notes.push(`onnxruntime rows skipped: ${ort}`);
    return out;
  }
  out.ort = ort;
  if (cpu) {
    const why = await probeEp(ort, 'cpu');
    if (why) notes.push(`onnxruntime-cpu rows skipped: ${why}`);
    else {
      out.ortCpu = true;
      records.push({
        impl: 'onnxruntime-cpu',
        version: ort.version,
        ep: 'cpu',
        note: "MatMul model (B an input; [N, K] through Transpose for linear), session.run with host tensors, default intra-op threads, no spinning between runs (session.intra_op.allow_spinning=0; xpu's OpenMP threads are passive too)",
      });
    }
  }
  if (gpu) {
    const why = await probeEp(ort, 'webgpu');
    if (why) notes.push(`onnxruntime-webgpu rows skipped: ${why}`);
    else {
      out.ortWebgpu = true;
      records.push({
        impl: 'onnxruntime-webgpu',
        version: ort.version,
        ep: 'webgpu',
        note: "ORT's own Dawn on the same adapter; session.run with host tensors (upload and download included)",
      });
    }
  }
  return out;
}

function peerImpls(device: DeviceName, p: CpuPeers, s: GemmShape): PeerImpl[] {
  const sets = rotationSets(gemmBytes(s, 'float32'));
  const shape = { m: s.m, n: s.n, k: s.k, transB: s.op === 'linear' };
  const out: PeerImpl[] = [];
  if (device === 'cpu') {
    const units = unitsFor('cpu', s);
    if (p.numpy) out.push({ impl: 'numpy', setup: () => numpyGemmWorkload(p.numpy!, shape, sets, BOUND.float32, units) });
    if (p.ort && p.ortCpu)
      out.push({ impl: 'onnxruntime-cpu', setup: () => ortGemmWorkload(p.ort!, 'cpu', shape, sets, BOUND.float32, units) });
  } else if (p.ort && p.ortWebgpu) {
    out.push({ impl: 'onnxruntime-webgpu', setup: () => ortGemmWorkload(p.ort!, 'webgpu', shape, 2, BOUND.float32) });
  }
  return out;
}

function describeNative(): string {
  const c = xpu.nativeInfo().compute;
  if (!c?.library) return 'native';
  const dnnl = `${c.library} ${c.version} (${c.isa}, ${c.runtime} ${c.threads} threads)`;
  // With oneMKL (native/compute/gemm.cc picks per shape which of the two runs).
  const mkl = c.blas?.enabled ? ` + ${c.blas.library} ${c.blas.version} (${c.blas.isa}, ${c.blas.runtime})` : '';
  return `${dnnl}${mkl} on the addon's compute thread`;
}

function squareCase(device: DeviceName, dtype: GemmDType, s: GemmShape): BenchCase {
  return {
    kernel: 'matmul',
    device,
    dtype,
    size: s.n,
    sizeLabel: String(s.n),
    shape: `[${s.m}, ${s.k}] @ [${s.k}, ${s.n}]`,
    flops: gemmFlops(s),
    bytes: gemmBytes(s, dtype),
    writeBytes: gemmWriteBytes(s, dtype),
    setup: () => xpuGemmWorkload(device, s, dtype),
  };
}

export interface GemmRunOptions {
  device: 'xpu' | 'cpu' | 'all';
  quick: boolean;
  peers?: boolean;
  json?: string;
}

/** Runs this suite alone (what `node dist/bench/gemm.js` does): report, and JSON when asked. */
export async function run(opts: GemmRunOptions): Promise<void> {
  const devices: DeviceName[] = [];
  if (opts.device !== 'cpu' && xpu.accelerator.isAvailable()) devices.push('xpu');
  if (opts.device !== 'xpu') devices.push('cpu');
  if (!devices.length) throw new Error(`--device xpu, but there is no xpu device: ${xpu.accelerator.unavailable()}`);
  const results = await runSession({
    suites: [{ name: 'gemm', suite }],
    device: opts.device,
    devices,
    quick: opts.quick,
    peers: opts.peers ?? true,
    progress: true,
  });
  printResults(results);
  if (opts.json) process.stdout.write(`wrote ${writeJson(opts.json, results)}\n`);
}

function parseArgs(argv: string[]): GemmRunOptions {
  const opts: GemmRunOptions = { device: 'all', quick: false, peers: true };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--quick') opts.quick = true;
    else if (flag === '--no-peers') opts.peers = false;
    else if (flag === '--json') opts.json = value();
    else if (flag === '--device') {
      const d = value();
      if (d !== 'xpu' && d !== 'cpu' && d !== 'all') throw new Error(`--device must be xpu, cpu or all, got ${d}`);
      opts.device = d;
    } else throw new Error(`unknown option ${argv[i]} (options: --quick, --device xpu|cpu|all, --no-peers, --json FILE)`);
  }
  return opts;
}

const isEntry = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
})();

if (isEntry) {
  try {
    await run(parseArgs(process.argv.slice(2)));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
