/**
 * Progress while a run goes: a cli-progress bar on a terminal (stderr, so stdout stays the report),
 * one line per finished row elsewhere (CI logs, a redirected stderr, or cli-progress not
 * installed: it is an optional peer, see optional.ts), nothing when silent (tests).
 */
import type cliProgressModule from 'cli-progress';
import { loadProgressBar } from './optional.js';

export interface Progress {
  /** One unit of work done (a timed run, a check, a roofline measurement); `label` says what runs now. */
  tick(label?: string): void;
  /** A row is finished: shown as the bar's label, or printed as a line when there is no bar. */
  row(line: string): void;
  /** Removes the bar; the output after it starts on a clean line. */
  stop(): void;
}

export const silentProgress: Progress = { tick: () => {}, row: () => {}, stop: () => {} };

export function createProgress(total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const cliProgress: typeof cliProgressModule | null = stream.isTTY ? loadProgressBar() : null;
  if (!cliProgress) {
    return { tick: () => {}, row: (line) => void stream.write(`${line}\n`), stop: () => {} };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: 'bench {bar} {percentage}% | {value}/{total} | {duration_formatted} | {label}',
      stream,
      hideCursor: true,
      clearOnComplete: true,
      // The event loop is busy with the GPU most of the time: a slow redraw costs less of it.
      fps: 4,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, total), 0, { label: 'starting' });
  let value = 0;
  return {
    tick: (label) => {
      value = Math.min(value + 1, total);
      bar.update(value, label === undefined ? undefined : { label });
    },
    row: (line) => bar.update(value, { label: line.length > 70 ? `${line.slice(0, 67)}...` : line }),
    stop: () => bar.stop(),
  };
}
