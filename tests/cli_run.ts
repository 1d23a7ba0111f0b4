import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';

/**
 * The `xpu` command, run as a user runs it: the built dist/src/cli/main.js in a child process.
 * dist/ is rebuilt first when any source is newer than it (vitest itself runs from src/).
 */

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const run = promisify(execFile);

function newestSource(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** Builds dist/ when a source under src/ or bench/ is newer than the built CLI (call in beforeAll). */
export function ensureBuilt(): void {
  const stale = !existsSync(MAIN) || Math.max(newestSource(join(ROOT, 'src')), newestSource(join(ROOT, 'bench'))) > statSync(MAIN).mtimeMs;
  if (!stale) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } catch {
    // tsc still emits on a type error elsewhere in the tree; the typecheck is not this file's job.
  }
  expect(existsSync(MAIN), 'dist/src/cli/main.js after tsc').toBe(true);
}

export async function xpuCli(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', ...env },
    maxBuffer: 16 << 20,
  });
}
