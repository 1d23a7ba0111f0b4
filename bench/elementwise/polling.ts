/**
 * The poll strategy's effect: the same workloads under 'spin' (Dawn's default busy poll),
 * 'throttle' (1 ms timers) and 'adaptive' (the runtime's default), as variants the runner times
 * interleaved (one run per strategy per round), so that other processes' load falls on all three
 * alike. tfjs goes through the same dawn.node poller, so its rows move with the strategy too.
 */
import { getPollStrategy, setPollStrategy, type PollStrategy } from '../../src/backends/webgpu/poll.js';
import type { Variant } from '../suite.js';

export const STRATEGIES: PollStrategy[] = ['spin', 'throttle', 'adaptive'];

export const pollVariants = (): Variant[] =>
  STRATEGIES.map((s) => ({
    name: `poll=${s}`,
    apply: () => {
      const before = getPollStrategy();
      setPollStrategy(s);
      return () => setPollStrategy(before);
    },
  }));
