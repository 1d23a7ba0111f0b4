import { XpuDistError } from '../errors.js';
import { engineErrorKind, type Backend, type EngineApi } from './native.js';
import type { FailureKind } from './store_protocol.js';
import type { StoreServer } from './store_server.js';
import type { TcpStore } from './store.js';

/**
 * The state of this process after initProcessGroup(): the engine, the store connection, the
 * timeout, and whether the job is still usable. Every engine call of every group goes through
 * call(), which applies the timeout and turns engine errors into XpuDistError.
 *
 * A call that times out, or a peer reported lost by the store, breaks the job: MPI cannot abandon
 * a collective that a dead peer will never join, so the engine's worker may stay stuck inside it.
 * Every pending call is rejected, later calls are refused at once, and the engine stops holding
 * the event loop open, so the program can exit and the launcher can end the job. A timeout is
 * also announced to the other ranks (see #announce), which then fail with it too.
 */

interface PendingCall {
  op: string;
  reject: (e: Error) => void;
}

export class Job {
  broken: XpuDistError | null = null;
  destroyed = false;
  readonly #pending = new Set<PendingCall>();

  constructor(
    readonly backend: Backend,
    readonly engine: EngineApi,
    readonly rank: number,
    readonly size: number,
    readonly localRank: number,
    readonly timeoutMs: number,
    /** Exchange the cross-rank agreement header before each collective (native/collectives/agree.h). */
    readonly check: boolean,
    readonly store: TcpStore | null,
    readonly server: StoreServer | null,
  ) {
    const during = () => {
      const ops = [...this.#pending].map((p) => p.op);
      return {
        op: ops[0] ?? 'processGroup',
        text: ops.length ? ` while ${ops.join(', ')} ${ops.length > 1 ? 'were' : 'was'} waiting` : '',
      };
    };
    store?.onLost((rank, why) => {
      const { op, text } = during();
      this.fail(
        new XpuDistError(`${why}${text}; this process group cannot be used any more`, { op, kind: 'peer-lost', got: `rank ${rank} gone` }),
      );
    });
    // Another rank gave up first (its call timed out) and said why before leaving: this rank
    // reports that cause, not the 'peer-lost' it would see a moment later when that rank exits.
    store?.onFailed((e) => {
      const { op, text } = during();
      this.fail(new XpuDistError(`rank ${e.rank} gave up first${text}: ${e.error}`, { op, kind: e.kind }));
    });
  }

  /** Names of the calls still waiting for the engine. */
  pendingOps(): string[] {
    return [...this.#pending].map((p) => p.op);
  }

  /** Throws when no call may start: destroyed, or broken by an earlier failure. */
  usable(op: string): void {
    if (this.destroyed)
      throw new XpuDistError('the process group was destroyed', {
        op,
        kind: 'not-initialized',
        expected: 'a call between initProcessGroup() and destroyProcessGroup()',
      });
    if (this.broken)
      throw new XpuDistError(`the process group is unusable after an earlier failure: ${this.broken.message}`, {
        op,
        kind: this.broken.kind,
      });
  }

  /** Breaks the job (see the class comment). The first failure is the one reported. */
  fail(err: XpuDistError): void {
    if (!this.broken) this.broken = err;
    for (const p of [...this.#pending]) p.reject(err);
    this.#pending.clear();
    this.engine.abandon();
  }

  /**
   * Tells the other ranks why this one gives up (store_server.ts), before the program exits:
   * rank 0 through its own server, the others through their store connection.
   */
  #announce(kind: FailureKind, err: XpuDistError): void {
    if (this.server) this.server.announceFailure(this.rank, kind, err.op, err.message);
    else this.store?.reportFailure(kind, err.op, err.message);
  }

  /** Runs one engine call under the timeout. */
  call<T>(op: string, timeoutMs: number, start: () => Promise<T>): Promise<T> {
    this.usable(op);
    return new Promise<T>((resolve, reject) => {
      const entry: PendingCall = {
        op,
        reject: (e) => {
          clearTimeout(timer);
          this.#pending.delete(entry);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const err = new XpuDistError(
          `${op} did not complete within ${timeoutMs} ms: a rank of the group died, is stuck, or did not make the same call; this process group cannot be used any more (exit, and the launcher ends the job)`,
          { op, kind: 'timeout' },
        );
        const first = !this.broken;
        this.fail(err);
        if (first) this.#announce('timeout', err);
      }, timeoutMs);
      this.#pending.add(entry);
      let p: Promise<T>;
      try {
        p = start();
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        (v) => {
          if (!this.#pending.delete(entry)) return; // already rejected by a timeout or a lost peer
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          if (!this.#pending.delete(entry)) return;
          clearTimeout(timer);
          reject(e instanceof XpuDistError ? e : new XpuDistError((e as Error).message ?? String(e), { op, kind: engineErrorKind(e) }));
        },
      );
    });
  }
}
