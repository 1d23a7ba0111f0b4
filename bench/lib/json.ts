/** A run's results file: written as one JSON file (the folder is created if needed), read back. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SCHEMA_VERSION, type BenchResults } from './records.js';

export function writeJson(file: string, data: unknown): string {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  // Infinity (a failed check) is not JSON; write it as a string rather than as null.
  writeFileSync(path, `${JSON.stringify(data, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
  return path;
}

/** A results file, with a clear error for what is not one (a typo, an older per-suite file). */
export function readResults(file: string): BenchResults {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a readable JSON file (${(e as Error).message})`);
  }
  const r = data as Partial<BenchResults>;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.rows) || typeof r.schemaVersion !== 'number') {
    throw new Error(`${file}: not an xpu bench results file (expected schemaVersion and rows; older per-suite files cannot be compared)`);
  }
  if (r.schemaVersion > SCHEMA_VERSION)
    throw new Error(`${file}: schemaVersion ${r.schemaVersion} is newer than this xpu understands (${SCHEMA_VERSION})`);
  return r as BenchResults;
}
