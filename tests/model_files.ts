import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where tests find the real model: $XPU_SMOLLM2_GGUF, else .cache/models/ (scripts/fetch-model.sh,
 * run by setup). Nothing is downloaded here. Under CI=true setup has fetched it, so a test that
 * needs it must fail, not skip, when it is absent (requireModel does that).
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SMOLLM2_DEFAULT = resolve(ROOT, '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf');

export function smolLM2Path(): string | undefined {
  const env = process.env.XPU_SMOLLM2_GGUF;
  if (env) return env;
  return existsSync(SMOLLM2_DEFAULT) ? SMOLLM2_DEFAULT : undefined;
}

/** Whether model tests should run: the file is there, or CI demands it (and they then fail). */
export const runModelTests = smolLM2Path() !== undefined || process.env.CI === 'true';

/** The model path; throws (a test failure) when it is missing. */
export function requireModel(): string {
  const p = smolLM2Path();
  if (!p || !existsSync(p))
    throw new Error(`SmolLM2 GGUF not found (${p ?? SMOLLM2_DEFAULT}): run scripts/fetch-model.sh or set XPU_SMOLLM2_GGUF`);
  return p;
}
