import type { Graph, Step } from './graph.js';
import { fuseMapChains } from './fuse_maps.js';
import { foldEpilogues } from './fold_epilogues.js';

/**
 * The passes a captured graph goes through before it is replayed: dead steps dropped (their
 * values neither read nor returned), GEMM epilogues folded (fold_epilogues.ts), then elementwise
 * chains fused into generated kernels (fuse_maps.ts).
 */
export interface Optimized {
  graph: Graph;
  fusedKernels: number;
  epilogueFolds: number;
}

export function optimize(graph: Graph): Optimized {
  let g = dropDeadSteps(graph);
  const folded = foldEpilogues(g);
  g = dropDeadSteps(folded.graph);
  const fused = fuseMapChains(g);
  return { graph: dropDeadSteps(fused.graph), fusedKernels: fused.kernels, epilogueFolds: folded.folds };
}

/** Removes steps whose value nobody reads or returns (a copyBytes always stays: it writes in place). */
export function dropDeadSteps(graph: Graph): Graph {
  const used = new Set<number>(graph.outputs.map((o) => o.value));
  const kept: Step[] = [];
  for (let i = graph.steps.length - 1; i >= 0; i--) {
    const s = graph.steps[i];
    if (s.kind !== 'copyBytes' && !used.has(s.out)) continue;
    for (const v of s.reads) used.add(v);
    kept.push(s);
  }
  return { ...graph, steps: kept.reverse() };
}
