import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSettingName, listSettings, SETTINGS, settings } from '../src/settings.js';

/**
 * The settings registry (src/settings.ts) is the one list of XPU_* environment variables: every
 * variable the sources read is registered there with a default and a doc, and documented in the
 * README's table. The sources are grepped, so a new variable cannot slip past either.
 */

const ROOT = join(import.meta.dirname, '..');

function files(dir: string, exts: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'node_modules' && name !== 'results' && name !== 'build') out.push(...files(p, exts));
    } else if (exts.some((e) => name.endsWith(e))) out.push(p);
  }
  return out;
}

/** XPU_* names read as environment variables: process.env.X, process.env['X'], env.X, getenv("X"), settings.X. */
function readVariables(): Map<string, string> {
  const found = new Map<string, string>();
  const re = /(?:process\.env\.|process\.env\[['"]|\benv\.|\benv\[['"]|getenv\(["']|settings\.)(XPU_[A-Z0-9_]+)/g;
  const sources = [
    ...files(join(ROOT, 'src'), ['.ts']),
    ...files(join(ROOT, 'bench'), ['.ts', '.mjs']),
    ...files(join(ROOT, 'native'), ['.mjs', '.cc', '.h']),
  ];
  for (const f of sources)
    for (const m of readFileSync(f, 'utf8').matchAll(re)) if (!found.has(m[1])) found.set(m[1], f.slice(ROOT.length + 1));
  return found;
}

function readmeSection(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Environment variables');
  expect(start).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

describe('settings registry', () => {
  it('registers every XPU_ variable the sources read', () => {
    const missing = [...readVariables()].filter(([name]) => !isSettingName(name)).map(([name, file]) => `${name} (${file})`);
    expect(missing).toEqual([]);
  });

  it('documents every registered variable in the README table, and the table names no unregistered one', () => {
    const section = readmeSection();
    const undocumented = Object.keys(SETTINGS).filter((name) => !new RegExp(`\\b${name}\\b`).test(section));
    expect(undocumented).toEqual([]);
    const unknown = [...new Set(section.match(/XPU_[A-Z0-9_]+/g) ?? [])].filter((name) => !isSettingName(name));
    expect(unknown).toEqual([]);
  });

  it('gives every setting a default and a one-line doc', () => {
    for (const row of listSettings({})) {
      expect(row.doc.length, row.name).toBeGreaterThan(10);
      expect(row.doc.includes('\n'), row.name).toBe(false);
      expect(row.default.length, row.name).toBeGreaterThan(0);
      expect(row.value).toBeUndefined();
    }
  });

  it('parses lazily, at each access, as the readers before it did', () => {
    const saved = { ...process.env };
    try {
      delete process.env.XPU_BATCH;
      expect(settings.XPU_BATCH).toBe(128);
      process.env.XPU_BATCH = '7';
      expect(settings.XPU_BATCH).toBe(7);
      process.env.XPU_AUTOTUNE = 'FORCE';
      expect(settings.XPU_AUTOTUNE).toBe('force');
      process.env.XPU_AUTOTUNE = 'sometimes';
      expect(() => settings.XPU_AUTOTUNE).toThrow(/autotune/);
      process.env.XPU_GEMM_VARIANT = '';
      expect(settings.XPU_GEMM_VARIANT).toBeUndefined();
      process.env.XPU_GEMM_VARIANT = 'bogus';
      expect(() => settings.XPU_GEMM_VARIANT).toThrow(/GEMM strategy/);
      process.env.XPU_QGEMV_WG = '';
      expect(settings.XPU_QGEMV_WG).toBeUndefined();
      process.env.XPU_POISON = '1';
      expect(settings.XPU_POISON).toBe(true);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
