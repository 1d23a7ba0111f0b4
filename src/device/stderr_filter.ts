import { loadNative } from '../backends/cpu/native.js';

/**
 * Dawn's adapter enumeration prints, with fprintf(stderr), lines that tell a user nothing:
 * lavapipe reports 1,000,000 dynamic buffers per pipeline layout and Dawn says it lowers them to
 * 16. They come from the synchronous part of the first requestAdapter of a Dawn instance, whatever
 * limits are requested later. Node cannot redirect fd 2, so the native addon does
 * (native/stderr_capture.cc); without the addon (not built, XPU_NATIVE=off) the lines still print.
 */

/** Dawn's lines this drops; everything else captured goes on to process.stderr. */
const DAWN_NOISE =
  /^Warning: maxDynamic\w+PerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

interface StderrCapture {
  begin(): boolean;
  end(): string | null;
}

/** Runs `fn` (synchronous: what it starts after returning is not captured) without Dawn's noise. */
export function withoutDawnNoise<T>(fn: () => T): T {
  const capture = (loadNative().addon as { stderrCapture?: StderrCapture } | null)?.stderrCapture;
  if (!capture?.begin()) return fn();
  try {
    return fn();
  } finally {
    const text = capture.end() ?? '';
    const kept = text.split('\n').filter((line, i, all) => !DAWN_NOISE.test(line) && !(i === all.length - 1 && line === ''));
    if (kept.length) process.stderr.write(`${kept.join('\n')}\n`);
  }
}
