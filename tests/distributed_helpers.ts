import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/**
 * For tests/distributed.test.ts: the ranks run the built package (dist/), started by the real launcher
 * (`node dist/src/cli/main.js run ...`), so dist/ is rebuilt first when a source is newer.
 */

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const RANK_SCRIPTS = join(ROOT, 'tests', 'distributed');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

export function ensureBuilt(): void {
  const stale = !existsSync(MAIN) || Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'bench'))) > statSync(MAIN).mtimeMs;
  if (stale) {
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')], {
        cwd: ROOT,
        stdio: 'pipe',
      });
    } catch {
      // tsc still emits on a type error elsewhere in the tree; the typecheck is not this file's job.
    }
  }
  expect(existsSync(MAIN), 'dist/src/cli/main.js after tsc').toBe(true);
}

export interface JobResult {
  code: number;
  out: string;
  ms: number;
}

/** `xpu run <args>` with extra env; never rejects (a failed job is a result to check). */
export function xpuRun(args: string[], env: Record<string, string> = {}, timeoutMs = 100_000): Promise<JobResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, 'run', ...args],
      {
        cwd: ROOT,
        env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', ...env },
        timeout: timeoutMs,
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, out: `${stdout}\n${stderr}`, ms: Date.now() - t0 });
      },
    );
  });
}

/** The JSON objects printed after `tag ` by the ranks, e.g. RESULT or OUTCOME lines. */
export function tagged<T>(out: string, tag: string): T[] {
  return out.split('\n').flatMap((l) => {
    const i = l.indexOf(`${tag} {`);
    return i < 0 ? [] : [JSON.parse(l.slice(i + tag.length + 1)) as T];
  });
}
