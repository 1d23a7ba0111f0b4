/**
 * GEMM suite: GFLOP/s of xpu.matmul on square float32 and float16 matrices (256 to 2048) with the
 * adapter's default config, beside tfjs-backend-webgpu's matMul on the same Dawn adapter in the
 * same process; the GEMM strategies (register blocking, shared-memory tiles, the old naive
 * kernel) timed round-robin on the same inputs; the small-M decode case (linear, M = 1 and 8,
 * a 4096 x 4096 weight) with the split-K kernel against tiles and naive; and the cpu TypeScript
 * path at small sizes. Speed lives here, never in tests.
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
import type { RepeatOptions } from './lib/timing.js';
import type { BenchCase, DeviceName, Suite, SuiteContext, SuitePlan } from './suite.js';
import { smallMVariants, strategyVariants } from './gemm/variants.js';
import { gemmBytes, gemmFlops, tfjsGemmWorkload, xpuGemmWorkload, type GemmDType, type GemmShape } from './gemm/workloads.js';

const FULL_SIZES = [256, 512, 1024, 2048];
const QUICK_SIZES = [256, 512];
const DTYPES: GemmDType[] = ['float32', 'float16'];
/** The cpu GEMM is a TypeScript loop (~1 GFLOP/s): 512^3 already takes a quarter second. */
const CPU_MAX_SIZE = 256;
/** Decode steps of a 4096-wide layer: one token and a batch of 8. */
const DECODE_K = 4096;
const DECODE_M = [1, 8];
/** A 2048^3 GEMM takes seconds per run with the naive kernel: fewer repeats there. */
const BIG_REPEAT: RepeatOptions = { warmup: 1, reps: 3 };

export const suite: Suite = {
  name: 'gemm',
  description: 'matmul GFLOP/s (square f32/f16) against tfjs-webgpu; register vs shared-memory vs naive strategies; small-M decode (split-K); cpu at small sizes',
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

  const { peer, peers } = await peerForSuite(ctx.peers && hasXpu, notes, 'tf.matMul on the same Dawn instance and adapter as xpu, same process; float32 only (tfjs has no float16)');

  const cases: BenchCase[] = [];
  for (const device of ctx.devices) {
    for (const dtype of dtypes) {
      for (const n of sizes) {
        const shape: GemmShape = { m: n, n, k: n, op: 'matmul' };
        const base = squareCase(device, dtype, shape);
        if (device === 'cpu' && n > CPU_MAX_SIZE) {
          cases.push({ ...base, skip: `cpu sizes are capped at ${CPU_MAX_SIZE} (TypeScript GEMM)` });
          continue;
        }
        const repeat = n >= 2048 ? BIG_REPEAT : undefined;
        // The headline: our default config, with tfjs beside it.
        const withPeer = device === 'xpu' && peer && dtype === 'float32' ? [{ impl: 'tfjs-webgpu', setup: () => tfjsGemmWorkload(peer as TfjsPeer, shape) }] : undefined;
        cases.push({ ...base, repeat, peers: withPeer });
        // The strategies, round-robin among themselves (tfjs is not re-run per strategy).
        if (device === 'xpu' && strategy) {
          const variants = strategyVariants(strategy.variant);
          cases.push({ ...base, kernel: 'matmul-strategy', repeat, variants, setup: () => xpuGemmWorkload(device, shape, dtype, variants) });
        }
      }
    }
  }
  if (hasXpu) {
    for (const dtype of dtypes) {
      for (const m of DECODE_M) {
        const shape: GemmShape = { m, n: DECODE_K, k: DECODE_K, op: 'linear' };
        const base: BenchCase = {
          kernel: 'linear-decode', device: 'xpu', dtype, size: m, sizeLabel: `M=${m}`,
          shape: `x [${m}, ${DECODE_K}] @ w[${DECODE_K}, ${DECODE_K}]^T`,
          flops: gemmFlops(shape), bytes: gemmBytes(shape, dtype), repeat: BIG_REPEAT,
          note: 'weight-read bound: GB/s is the figure of merit',
          setup: () => xpuGemmWorkload('xpu', shape, dtype),
        };
        cases.push({ ...base, peers: peer && dtype === 'float32' ? [{ impl: 'tfjs-webgpu', setup: () => tfjsGemmWorkload(peer as TfjsPeer, shape) }] : undefined });
        const variants = smallMVariants();
        cases.push({ ...base, kernel: 'linear-decode-strategy', variants, setup: () => xpuGemmWorkload('xpu', shape, dtype, variants) });
      }
    }
  }
  if (ctx.devices.includes('cpu') && sizes.some((n) => n > CPU_MAX_SIZE)) notes.push(`cpu sizes capped at ${CPU_MAX_SIZE}: the cpu GEMM is TypeScript (the native GEMM comes with the addon)`);
  if (strategy) notes.push(`default config on this adapter (1024^3 f32): ${strategy.config}; matmul-strategy rows time every strategy (XPU_GEMM_VARIANT) round-robin, the default first`);

  return {
    cases,
    notes,
    peers,
    settings: {
      sizes, dtypes, cpuMaxSize: CPU_MAX_SIZE, decode: { m: DECODE_M, k: DECODE_K, n: DECODE_K }, bigRepeat: BIG_REPEAT,
      defaultConfig: strategy?.config ?? null, defaultPoll: getPollStrategy(),
      method: 'GPU: several GEMMs recorded per run (>= 1 GFLOP, inputs rotated among sets of >= 96 MiB), then one accelerator.synchronize() (tfjs: end pass + submitQueue + onSubmittedWorkDone); GFLOP/s = 2mnk / median time; every strategy checked on the first rows against float64',
    },
  };
}

function squareCase(device: DeviceName, dtype: GemmDType, s: GemmShape): BenchCase {
  return {
    kernel: 'matmul', device, dtype, size: s.n, sizeLabel: String(s.n), shape: `[${s.m}, ${s.k}] @ [${s.k}, ${s.n}]`,
    flops: gemmFlops(s), bytes: gemmBytes(s, dtype),
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
    suites: [{ name: 'gemm', suite }], device: opts.device, devices, quick: opts.quick, peers: opts.peers ?? true, progress: true,
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
