/** What a result was measured on: device, versions, commit, date. */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import * as xpu from '../../src/index.js';
import { mesaVersion, xpuVersion } from '../../src/cli/versions.js';

const require = createRequire(import.meta.url);

export interface RunEnvironment {
  date: string;
  command: string;
  node: string;
  platform: string;
  cpu: { model: string; cores: number; memGiB: number };
  /** 1/5/15-minute load averages when the run started: other processes share this machine. */
  loadAverage: number[];
  /** This package's version, Dawn's (npm webgpu) and the peers' and report tools'. */
  packages: Record<string, string>;
  /** Mesa's version where the driver is Mesa's (lavapipe, anv, radv). */
  mesa: string | null;
  git: { commit: string | null; dirty: boolean | null };
  xpu: ReturnType<typeof xpu.accelerator.getDeviceInfo> | { unavailable: string };
  env: Record<string, string>;
}

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** Environment variables that change what the runtime or lavapipe does. */
const RELEVANT_ENV = ['XPU_POLL', 'XPU_BATCH', 'XPU_DEVICE', 'XPU_BACKEND', 'XPU_ADAPTER', 'LP_NUM_THREADS', 'LP_NATIVE_VECTOR_WIDTH'];

export function runEnvironment(): RunEnvironment {
  // --no-optional-locks: status must not rewrite the index of a tree others are working in.
  const status = git(['--no-optional-locks', 'status', '--porcelain', '--untracked-files=no']);
  return {
    date: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: { model: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30) },
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    packages: {
      xpu: xpuVersion(),
      ...Object.fromEntries(
        ['webgpu', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu', 'typescript', 'vega', 'vega-lite'].map((p) => [
          p,
          packageVersion(p),
        ]),
      ),
    },
    mesa: mesaVersion(xpu.accelerator.isAvailable() ? xpu.accelerator.getDeviceInfo().description : undefined)?.version ?? null,
    git: { commit: git(['rev-parse', 'HEAD']), dirty: status === null ? null : status.length > 0 },
    xpu: xpu.accelerator.isAvailable() ? xpu.accelerator.getDeviceInfo() : { unavailable: xpu.accelerator.unavailable() ?? 'unknown' },
    env: Object.fromEntries(RELEVANT_ENV.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k] as string])),
  };
}
