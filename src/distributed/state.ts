import { XpuDistError } from '../errors.js';
import type { ProcessGroup } from './process_group.js';

/** The process's default (world) group, set by initProcessGroup() and cleared by destroyProcessGroup(). */
let world: ProcessGroup | null = null;

export function setWorld(g: ProcessGroup | null): void {
  world = g;
}

export function currentWorld(): ProcessGroup | null {
  return world;
}

/** The group a call runs on: the one given, else the world; an XpuDistError before init. */
export function groupFor(op: string, group: ProcessGroup | undefined): ProcessGroup {
  const g = group ?? world;
  if (!g) {
    throw new XpuDistError('no process group: call `await xpu.dist.initProcessGroup({ backend })` first', {
      op,
      kind: 'not-initialized',
      expected: 'initProcessGroup() before any collective',
    });
  }
  g.usable(op);
  return g;
}
