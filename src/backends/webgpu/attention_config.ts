import { tunedAttentionConfig } from './attention_tuner.js';
import { heuristicAttentionConfig, sanitizeAttentionConfig, type AttentionConfig, type AttentionShape } from './attention_heuristics.js';
import type { AdapterInfo as GemmAdapterInfo } from './adapter.js';

export * from './attention_heuristics.js';

/**
 * Which attention kernel and tiles to run: a deterministic function of the adapter and the
 * problem's shape bucket (as chooseGemmConfig is for GEMM), with an override hook for tuners and
 * tests. Configs, heuristics and candidates: attention_heuristics.ts (re-exported here).
 */

export type AttentionConfigChooser = (heuristic: AttentionConfig, p: AttentionShape) => AttentionConfig | undefined;
let override: AttentionConfigChooser | null = null;

/** A tuner, benchmark or test picks the config (undefined: the heuristic); null restores it. */
export function setAttentionConfigOverride(chooser: AttentionConfigChooser | null): void {
  override = chooser;
}

let measuring: AttentionConfig | null = null;

/** Runs `fn` (synchronous: it only enqueues) with every attention forced to `config` (the tuner's hook). */
export function withAttentionConfig<R>(config: AttentionConfig, fn: () => R): R {
  const prev = measuring;
  measuring = config;
  try {
    return fn();
  } finally {
    measuring = prev;
  }
}

/**
 * The config for a problem, always valid: the candidate being measured, else the override if it
 * answers, else this process's tuneAttention result for the bucket, else the disk cache
 * (XPU_AUTOTUNE=on|force; see attention_tuner.ts), else the heuristic.
 */
export function chooseAttentionConfig(p: AttentionShape, adapter?: GemmAdapterInfo): AttentionConfig {
  if (measuring) return sanitizeAttentionConfig(measuring, p);
  const h = heuristicAttentionConfig(p, adapter);
  const c = override?.(h, p) ?? tunedAttentionConfig(p, adapter) ?? h;
  return sanitizeAttentionConfig(c, p);
}
