import { XpuDistError, XpuValueError } from '../errors.js';
import type { Job } from './job.js';
import type { Backend } from './native.js';

/**
 * A group of ranks that run collectives together: the world group from initProcessGroup(), or a
 * subgroup from newGroup(). Ranks given to collectives (src, dst) are global ranks, as in
 * torch.distributed; `rank` and `size` are this process's place in the group.
 */
export class ProcessGroup {
  #destroyed = false;

  /** @internal Built by initProcessGroup() and newGroup(). */
  constructor(
    /** @internal */ readonly job: Job,
    /** @internal The engine's communicator id; -1 when this process is not a member. */
    readonly comm: number,
    /** Global ranks of the members, in group-rank order. */
    readonly ranks: readonly number[],
  ) {}

  get backend(): Backend {
    return this.job.backend;
  }

  /** This process's rank in the group, or -1 when it is not a member (newGroup without it). */
  get rank(): number {
    return this.comm < 0 ? -1 : this.ranks.indexOf(this.job.rank);
  }

  get size(): number {
    return this.ranks.length;
  }

  get isMember(): boolean {
    return this.comm >= 0;
  }

  get isDestroyed(): boolean {
    return this.#destroyed || this.job.destroyed;
  }

  /** @internal */
  markDestroyed(): void {
    this.#destroyed = true;
  }

  /** @internal Throws unless this process can run a collective on the group now. */
  usable(op: string): void {
    this.job.usable(op);
    if (this.#destroyed)
      throw new XpuDistError('the group was destroyed', { op, arg: 'group', kind: 'not-initialized', expected: 'a live group' });
    if (this.comm < 0) {
      throw new XpuDistError(`rank ${this.job.rank} is not a member of this group`, {
        op,
        arg: 'group',
        kind: 'state',
        expected: `a group holding rank ${this.job.rank}`,
        got: `ranks [${this.ranks.join(', ')}]`,
      });
    }
  }

  /** @internal The group rank of global rank `r`, or an XpuValueError naming `arg`. */
  groupRank(op: string, arg: string, r: number): number {
    const i = Number.isInteger(r) ? this.ranks.indexOf(r) : -1;
    if (i < 0)
      throw new XpuValueError('not a rank of the group', {
        op,
        arg,
        expected: `one of [${this.ranks.join(', ')}] (global ranks)`,
        got: String(r),
      });
    return i;
  }

  toString(): string {
    return `ProcessGroup(${this.backend}, ranks=[${this.ranks.join(', ')}], rank=${this.rank})`;
  }
}
