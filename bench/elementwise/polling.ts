/**
 * The poll strategy's effect: the same workloads under 'spin' (Dawn's default busy poll),
 * 'throttle' (1 ms timers) and 'adaptive' (the runtime's default), in one run and interleaved
 * (one run per strategy per round), so that other processes' load falls on all three alike.
 * tfjs goes through the same dawn.node poller, so its rows move with the strategy too.
 */
import { getPollStrategy, setPollStrategy, type PollStrategy } from '../../src/backends/webgpu/poll.js';
import type { Impl, PollRow } from '../lib/records.js';
import { sizeLabel } from '../lib/table.js';
import type { RepeatOptions } from '../lib/timing.js';
import type { TfjsPeer } from '../lib/tfjs_peer.js';
import { timeRoundRobin, type Workload } from '../lib/workload.js';
import { add } from './ops.js';
import { CHAIN_ELEMENTS, CHAIN_OPS, tfjsChainWorkload, xpuChainWorkload } from './overhead.js';
import { opWorkload, tfjsAddWorkload } from './throughput.js';

export const STRATEGIES: PollStrategy[] = ['spin', 'throttle', 'adaptive'];

/** `addOpts` for the big adds, `chainOpts` for the chains (cheap, and noisier: more runs). */
export async function pollSweep(n: number, peer: TfjsPeer | null, addOpts: RepeatOptions, chainOpts: RepeatOptions, targetBytes: number): Promise<PollRow[]> {
  const addLabel = `add ${sizeLabel(n)} f32 (ms/op)`;
  const chainLabel = `${CHAIN_OPS} x add [${CHAIN_ELEMENTS}] + read-back (ms/op)`;
  const cases: { impl: Impl; workload: string; opts: RepeatOptions; make: () => Workload }[] = [
    { impl: 'xpu', workload: addLabel, opts: addOpts, make: () => opWorkload(add, 'xpu', n, targetBytes) },
    { impl: 'xpu', workload: chainLabel, opts: chainOpts, make: () => xpuChainWorkload('xpu', 'tensor') },
  ];
  if (peer) {
    cases.push(
      { impl: 'tfjs-webgpu', workload: addLabel, opts: addOpts, make: () => tfjsAddWorkload(peer, n, targetBytes) },
      { impl: 'tfjs-webgpu', workload: chainLabel, opts: chainOpts, make: () => tfjsChainWorkload(peer, 'tensor') },
    );
  }
  const before = getPollStrategy();
  const rows: PollRow[] = [];
  try {
    for (const c of cases) {
      let w: Workload | undefined;
      try {
        w = c.make();
        const workload = w;
        const stats = await timeRoundRobin(STRATEGIES.map((s) => ({ workload, before: () => setPollStrategy(s) })), c.opts);
        const spin = stats[0].medianMs;
        STRATEGIES.forEach((poll, k) => rows.push({ impl: c.impl, workload: c.workload, poll, stats: stats[k], ratioToSpin: stats[k].medianMs / spin }));
      } catch (e) {
        rows.push({ impl: c.impl, workload: c.workload, poll: 'all', note: `failed: ${(e as Error).message}` });
      } finally {
        setPollStrategy(before);
        await w?.dispose();
      }
    }
  } finally {
    setPollStrategy(before);
  }
  return rows;
}
