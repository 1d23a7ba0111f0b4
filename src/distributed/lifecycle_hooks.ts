import type { Job } from './job.js';

/**
 * Process-level hooks from the start of initProcessGroup() until destroyProcessGroup():
 *
 * - SIGTERM: a launcher (mpirun, `xpu run`) stops the surviving ranks when one fails. The JS thread
 *   is never blocked by a collective, so the rank can say why it stops, naming what it was
 *   waiting for, before it exits with 143 as the default handler would. When the program has its
 *   own SIGTERM listener, the message is printed and the exit is left to it.
 * - beforeExit: a program that ends without destroyProcessGroup() gets it done for it, because
 *   MPI counts a process that exits without MPI_Finalize as a failed job.
 * - exit (process.exit() with the group still up): a last MPI_Finalize from the exit handler,
 *   only when no call is stuck in the engine, and for at most 2 s: MPI_Finalize waits for every
 *   rank, so a rank that leaves early would otherwise keep the others from learning it is gone.
 */

interface Installed {
  term: () => void;
  beforeExit?: () => void;
  exit?: () => void;
}

let installed: Installed | null = null;

function termHandler(describe: () => { rank: number | string; pending: string[] }): () => void {
  return () => {
    const { rank, pending } = describe();
    process.stderr.write(
      `[xpu.dist] rank ${rank}: stopped by SIGTERM from the launcher, which ends the job when a rank fails` +
        `${pending.length ? ` (was waiting in ${pending.join(', ')})` : ''}\n`,
    );
    if (process.listenerCount('SIGTERM') <= 1) process.exit(143);
  };
}

/** While initProcessGroup() runs: only the SIGTERM message. */
export function installInitHooks(rank: number | undefined): void {
  removeHooks();
  const term = termHandler(() => ({ rank: rank ?? '?', pending: ['initProcessGroup'] }));
  process.on('SIGTERM', term);
  installed = { term };
}

export function installHooks(job: Job, destroy: () => Promise<void>): void {
  removeHooks();
  const term = termHandler(() => ({ rank: job.rank, pending: job.pendingOps() }));
  let autoDestroying = false;
  const beforeExit = () => {
    if (autoDestroying || job.destroyed || job.broken) return;
    autoDestroying = true;
    destroy().catch((e: Error) => {
      process.stderr.write(`[xpu.dist] rank ${job.rank}: destroyProcessGroup() at exit failed: ${e.message}\n`);
      process.exitCode = process.exitCode || 1;
    });
  };
  const exit = () => {
    // Only MPI counts an exit without finalising as a failure; oneCCL has nothing to finalise.
    if (job.backend !== 'mpi' || job.destroyed || job.broken || job.engine.pending() > 0) return;
    job.engine.finalizeSync(Math.min(job.timeoutMs, 2_000));
  };
  process.on('SIGTERM', term);
  process.on('beforeExit', beforeExit);
  process.on('exit', exit);
  installed = { term, beforeExit, exit };
}

export function removeHooks(): void {
  if (!installed) return;
  process.off('SIGTERM', installed.term);
  if (installed.beforeExit) process.off('beforeExit', installed.beforeExit);
  if (installed.exit) process.off('exit', installed.exit);
  installed = null;
}
