import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignBuckets, FIRST_BUCKET_BYTES } from '../src/distributed/ddp_buckets.js';
import { ensureBuilt, RANK_SCRIPTS, tagged, xpuRun } from './distributed_helpers.js';
import { testDevices, xpu } from './helpers.js';

/**
 * xpu.dist.DistributedDataParallel. The multi-rank tests start 2 and 4 ranks with the launcher on
 * each backend; every rank trains a tiny MLP data-parallel and alone on the whole batch, and checks
 * that both end with the same parameters (tests/distributed/ddp_rank.mjs). The bucket assignment
 * and argument errors are tested in this process.
 */

const native = xpu.nativeInfo();
const hasMpirun = (() => {
  try {
    execFileSync('mpirun', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const mpiWhyNot = !native.loaded
  ? `the native addon is not loaded (${native.error})`
  : native.build?.mpi.built !== true
    ? 'the addon was built without MPI'
    : !hasMpirun
      ? 'mpirun is not installed (openmpi-bin)'
      : '';
const cclWhyNot = native.build?.ccl.built === true ? '' : 'oneCCL was not found when the addon was built';
// CI has both engines (.ci/run sets XPU_REQUIRE_MPI=1): there a missing one is a failure, not a skip.
if (process.env.XPU_REQUIRE_MPI === '1' && (mpiWhyNot || cclWhyNot)) throw new Error(`XPU_REQUIRE_MPI=1 but ${mpiWhyNot || cclWhyNot}`);
const devices = testDevices().join(',');
const seed = Number(process.env.XPU_TEST_SEED ?? Date.now() % 100_000);

interface RankResult {
  rank: number;
  n: number;
  modes: string[];
  devices: string[];
  checks: number;
  buckets: number[];
  failures: string[];
}

/** Limits against a hang, not expectations of speed (oneCCL over tcp is slow to start on 2 cores). */
const LIMIT_S = { mpi: 150, ccl: 400 };

async function train(n: number, backend: 'mpi' | 'ccl'): Promise<void> {
  const job = await xpuRun(
    [
      '-n',
      String(n),
      '--backend',
      backend,
      '--timeout',
      String(LIMIT_S[backend]),
      join(RANK_SCRIPTS, 'ddp_rank.mjs'),
      devices,
      String(seed),
      'manual,autograd',
    ],
    {},
    (LIMIT_S[backend] + 10) * 1000,
  );
  const results = tagged<RankResult>(job.out, 'RESULT').sort((a, b) => a.rank - b.rank);
  const context = `seed ${seed} (XPU_TEST_SEED=${seed} to repeat), exit ${job.code}\n${job.out.slice(-3000)}`;
  expect(
    results.map((r) => r.rank),
    context,
  ).toEqual([...Array(n).keys()]);
  for (const r of results) {
    expect(r.failures, `rank ${r.rank}, ${context}`).toEqual([]);
    expect(r.n).toBe(n);
    expect(r.modes).toEqual(['manual', 'autograd']);
    expect(r.devices.join(',')).toBe(devices);
    // Per device: 2 reducer runs x 4 parameters + 5 unused-rule checks + 3 x 2 float16/float32 checks;
    // 3 DDP runs x (4 parameters + the early-forward guard), and an unrelated backward in each of the
    // 2 x 3 steps without accumulation.
    expect(r.checks).toBe(40 * r.devices.length);
    // Buckets: one per parameter (4) and one in all, for the reducer, then DDP at a 10-byte cap and the default (twice).
    expect(r.buckets).toEqual(r.devices.flatMap(() => [4, 1, 4, 1, 1]));
  }
  expect(job.code, context).toBe(0);
}

beforeAll(() => ensureBuilt());

describe('bucket assignment (torch compute_bucket_assignment_by_size)', () => {
  const t = (numel: number, dtype: 'float32' | 'float16' = 'float32') => xpu.zeros([numel], { device: 'cpu', dtype });

  it('reverse registration order, closed once a bucket reaches its cap, small first bucket', () => {
    // 100 float32 = 400 bytes each; cap 1000 bytes, first cap 500.
    const ps = [t(100), t(100), t(100), t(100), t(100), t(100)];
    const plans = assignBuckets(ps, 1000, 500);
    expect(plans.map((b) => b.params)).toEqual([[5, 4], [3, 2, 1], [0]]);
    expect(plans.map((b) => b.offsets)).toEqual([[0, 100], [0, 100, 200], [0]]);
    expect(plans.map((b) => b.numel)).toEqual([200, 300, 100]);
  });

  it('dtypes never share a bucket; buckets are listed by their first gradient in reverse order', () => {
    const ps = [t(10), t(10, 'float16'), t(10), t(10, 'float16')];
    const plans = assignBuckets(ps, 1 << 20);
    expect(plans.map((b) => [b.dtype, b.params])).toEqual([
      ['float16', [3, 1]],
      ['float32', [2, 0]],
    ]);
  });

  it('the default caps: 25 MiB, 1 MiB first', () => {
    expect(FIRST_BUCKET_BYTES).toBe(1 << 20);
    const mib = (1 << 20) / 4;
    const ps = [t(mib), t(mib * 10), t(mib * 10), t(mib * 10), t(mib)];
    const plans = assignBuckets(ps, 25 * (1 << 20));
    expect(plans.map((b) => b.params)).toEqual([[4], [3, 2, 1], [0]]);
  });
});

describe('errors in a single process', () => {
  it('before initProcessGroup, and bad arguments', async () => {
    await expect(xpu.dist.DistributedDataParallel(null as never)).rejects.toBeInstanceOf(xpu.XpuTypeError);
    const lin = new xpu.nn.Linear(2, 2, { device: 'cpu' });
    await expect(xpu.dist.DistributedDataParallel(lin, { bucketCapMb: 0 })).rejects.toMatchObject({
      name: 'XpuValueError',
      arg: 'bucketCapMb',
    });
    await expect(xpu.dist.DistributedDataParallel(lin)).rejects.toMatchObject({ name: 'XpuDistError', kind: 'not-initialized' });
  });
});

describe.skipIf(!!mpiWhyNot)(`DDP over MPI${mpiWhyNot ? ` (skipped: ${mpiWhyNot})` : ''}, on ${devices}`, () => {
  // 1 rank: a group of one averages nothing (the reducer's shortcut), and must still train as one process.
  it.each([1, 2, 4])(
    '%i rank(s) x B rows = 1 process x N*B rows (reducer with hand-computed gradients; DDP + backward + SGD)',
    (n) => train(n, 'mpi'),
    (LIMIT_S.mpi + 20) * 1000,
  );
});

describe.skipIf(!!mpiWhyNot)(`DDP broadcasts buffers over MPI${mpiWhyNot ? ` (skipped: ${mpiWhyNot})` : ''}, on ${devices}`, () => {
  it(
    "2 ranks: every buffer (persistent or not, nested, float32 and int32) is rank 0's after construction",
    async () => {
      const job = await xpuRun(
        ['-n', '2', '--backend', 'mpi', '--timeout', String(LIMIT_S.mpi), join(RANK_SCRIPTS, 'ddp_buffers_rank.mjs'), devices],
        {},
        (LIMIT_S.mpi + 10) * 1000,
      );
      const context = `exit ${job.code}\n${job.out.slice(-3000)}`;
      const results = tagged<{ rank: number; checks: number; failures: string[] }>(job.out, 'RESULT').sort((a, b) => a.rank - b.rank);
      expect(
        results.map((r) => r.rank),
        context,
      ).toEqual([0, 1]);
      for (const r of results) {
        expect(r.failures, context).toEqual([]);
        expect(r.checks).toBe(3 * devices.split(',').length);
      }
      expect(job.code, context).toBe(0);
    },
    (LIMIT_S.mpi + 20) * 1000,
  );
});

describe.skipIf(!!cclWhyNot)(`DDP over oneCCL${cclWhyNot ? ` (skipped: ${cclWhyNot})` : ''}, on ${devices}`, () => {
  it.each([2, 4])(
    '%i ranks x B rows = 1 process x N*B rows (reducer with hand-computed gradients; DDP + backward + SGD)',
    (n) => train(n, 'ccl'),
    (LIMIT_S.ccl + 20) * 1000,
  );
});
