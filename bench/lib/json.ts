/** Writes a run's results as one JSON file (the folder is created if needed). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function writeJson(file: string, data: unknown): string {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  // Infinity (a failed check) is not JSON; write it as a string rather than as null.
  writeFileSync(path, `${JSON.stringify(data, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
  return path;
}
