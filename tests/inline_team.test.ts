import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../src/backends/cpu/native.js';
import { randomData } from './helpers.js';

/**
 * The addon's inline team (native/compute/inline_team.h) is one per process: a kernel running on
 * the JS thread of a worker_thread while the main thread's kernel holds the team must run alone,
 * never wait for the team or get a part of the other thread's work. Both threads run the same
 * one-row GEMMs (gemmNow: oneMKL's sgemv or the streaming GEMV, split across the team when they
 * hold it) at the same time, and every result must equal a float64 dot product of the inputs.
 */

const load = loadNative();
if (process.env.XPU_REQUIRE_MPI === '1' && !load.addon) throw new Error(`the native addon is required in CI: ${load.error}`);

const [N, K, ROUNDS] = [3001, 768, 200];

// Runs in both threads: ROUNDS one-row GEMMs against W^T read in place; returns the largest error
// relative to sum |x w| over every output of every round.
function hammer(
  req: (p: string) => unknown,
  addonPath: string,
  x: Float32Array,
  w: Float32Array,
  n: number,
  k: number,
  rounds: number,
): number {
  const addon = req(addonPath) as {
    compute: { gemmNow(d: object): void };
  };
  const ref = new Float64Array(n);
  const mag = new Float64Array(n);
  for (let j = 0; j < n; j++)
    for (let p = 0; p < k; p++) {
      ref[j] += x[p] * w[j * k + p];
      mag[j] += Math.abs(x[p] * w[j * k + p]);
    }
  let worst = 0;
  for (let r = 0; r < rounds; r++) {
    const out = new Float32Array(n).fill(NaN);
    addon.compute.gemmNow({
      m: 1,
      n,
      k,
      batch: [],
      a: { data: x, f16: false, offset: 0, strides: [k, 1] },
      b: { data: w, f16: false, offset: 0, strides: [1, k] }, // W^T: [k, n] with W's rows along k
      out,
      outF16: false,
    });
    for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(out[j] - ref[j]) / mag[j] || (Number.isNaN(out[j]) ? Infinity : 0));
  }
  return worst;
}

describe.runIf(load.addon !== null)('inline team shared by two JS threads', () => {
  it('a worker_thread and the main thread run inline GEMMs at the same time, each result exact', async () => {
    const x = Float32Array.from(randomData(K, 1));
    const w = Float32Array.from(randomData(N * K, 2));
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const hammer = ${hammer.toString()};
      const { path, x, w, n, k, rounds } = workerData;
      require(path);
      parentPort.postMessage('ready');
      parentPort.postMessage(hammer(require, path, x, w, n, k, rounds));
    `;
    const worker = new Worker(source, { eval: true, workerData: { path: load.path, x, w, n: N, k: K, rounds: ROUNDS } });
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    await ready;
    const fromWorker = new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // The worker has its addon and starts its rounds now: the main thread's overlap them.
    const main = hammer(createRequire(import.meta.url), load.path!, x, w, N, K, ROUNDS);
    const other = await fromWorker;
    await worker.terminate();
    expect(main, 'main thread: largest relative error').toBeLessThan(1e-5);
    expect(other, 'worker thread: largest relative error').toBeLessThan(1e-5);
    const stats = (load.addon as unknown as { compute: { inlineTeam(): { threads: number; splits: number } } }).compute.inlineTeam();
    // The main thread's GEMMs split across the team whenever the box has a second core for it.
    if (stats.threads > 1) expect(stats.splits).toBeGreaterThan(0);
  });
});
