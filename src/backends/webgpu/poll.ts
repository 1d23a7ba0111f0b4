/**
 * How the JS thread waits for the GPU.
 *
 * While a GPU promise (mapAsync, onSubmittedWorkDone) is pending, dawn.node re-posts its event
 * processing through `globalThis.setImmediate`, looked up on every post. That busy loop keeps the
 * JS thread at ~70% of a core; on a 2-core machine running lavapipe it halves GPU throughput
 * (shared/notes/peer-baselines.md). We wrap setImmediate so that only Dawn's poller (a native,
 * nameless function) is paced; every other caller gets the real setImmediate untouched.
 *
 * Strategies (XPU_POLL): 'spin' = Dawn's default; 'throttle' = every poll after a 1 ms timer;
 * 'adaptive' (default) = the first polls of a wait go at once, so short waits stay short, then
 * they back off to 1 ms timers.
 */
export type PollStrategy = 'spin' | 'throttle' | 'adaptive';

const ADAPTIVE_FAST_POLLS = 32;
/** A gap longer than this between two polls means a new wait began. */
const NEW_WAIT_GAP_MS = 4;

let strategy: PollStrategy = 'adaptive';
let installed = false;
let consecutive = 0;
let lastPoll = 0;
const nativeCache = new WeakMap<object, boolean>();

function isDawnPoller(f: unknown): boolean {
  if (typeof f !== 'function') return false;
  let v = nativeCache.get(f);
  if (v === undefined) {
    v = f.name === '' && Function.prototype.toString.call(f).includes('[native code]');
    nativeCache.set(f, v);
  }
  return v;
}

export function setPollStrategy(s: PollStrategy): void {
  strategy = s;
}

export function getPollStrategy(): PollStrategy {
  return strategy;
}

export function parsePollStrategy(v: string | undefined): PollStrategy {
  return v === 'spin' || v === 'throttle' || v === 'adaptive' ? v : 'adaptive';
}

/** Installs the pacing wrapper once; Dawn looks setImmediate up at each post, so this is enough. */
export function installPollPacing(): void {
  if (installed) return;
  installed = true;
  const real = globalThis.setImmediate;
  const paced = function (this: unknown, f: (...a: unknown[]) => void, ...args: unknown[]) {
    if (strategy === 'spin' || !isDawnPoller(f)) return real(f, ...args);
    const now = performance.now();
    consecutive = now - lastPoll > NEW_WAIT_GAP_MS ? 0 : consecutive + 1;
    lastPoll = now;
    if (strategy === 'adaptive' && consecutive < ADAPTIVE_FAST_POLLS) return real(f, ...args);
    return setTimeout(f, 1, ...args) as unknown as NodeJS.Immediate;
  };
  globalThis.setImmediate = Object.assign(paced, real) as typeof setImmediate;
}
