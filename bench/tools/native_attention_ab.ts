/**
 * The native attention on decode shapes (one query per head, 9 query heads, E = 64, keys and
 * values read in place from a [1, 512, Hkv, 64] KV-cache buffer, as SmolLM2's decode step does)
 * through compute.attentionNow of each addon binary given (say an older prebuilt one and
 * build/Release), one after another in separate processes: the best of 7 rounds of 1000 calls,
 * in microseconds per call.
 *
 * Usage: node dist/bench/tools/native_attention_ab.js A.node [B.node ...] [--json out.json]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

type Desc = Record<string, unknown>;
interface Compute {
  attentionNow(d: Desc): void;
}
const CASES: [number, number][] = [
  [3, 16],
  [3, 128],
  [3, 500],
  [9, 128],
];

function child(path: string): void {
  // A copy per process: two binaries at one path could not both be loaded into one process anyway.
  const copy = join(tmpdir(), `xpu-attn-ab-${process.pid}.node`);
  copyFileSync(path, copy);
  const c = (createRequire(import.meta.url)(copy) as { compute: Compute }).compute;
  const out: Record<string, number> = {};
  for (const [hkv, s] of CASES) {
    const e = 64;
    const maxLen = 512;
    const st = [maxLen * hkv * e, e, hkv * e];
    const rnd = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.random() - 0.5);
    const d: Desc = {
      ...{ batch: 1, heads: 9, kvHeads: hkv, l: 1, s, e, ev: e, scale: 0.125, causal: false },
      ...{ q: rnd(9 * e), k: rnd(hkv * maxLen * e), v: rnd(hkv * maxLen * e), out: new Float32Array(9 * e) },
      ...{ kOffset: 0, kStrides: st, vOffset: 0, vStrides: st },
    };
    for (let i = 0; i < 500; i++) c.attentionNow(d);
    let best = Infinity;
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      for (let i = 0; i < 1000; i++) c.attentionNow(d);
      best = Math.min(best, performance.now() - t0); // ms per 1000 calls = us per call
    }
    out[`Hkv=${hkv} S=${s}`] = Number(best.toFixed(2));
  }
  process.stdout.write(JSON.stringify(out));
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) child(process.argv[childAt + 1]);
else {
  const jsonAt = process.argv.indexOf('--json');
  const paths = process.argv.slice(2).filter((a, i, all) => a !== '--json' && all[i - 1] !== '--json');
  const self = fileURLToPath(import.meta.url);
  const rows = paths.map((p) => {
    const us = JSON.parse(execFileSync(process.execPath, [self, '--child', resolve(p)], { encoding: 'utf8' })) as Record<string, number>;
    console.log(p, JSON.stringify(us));
    return { addon: p, usPerCall: us };
  });
  if (jsonAt >= 0)
    writeFileSync(
      process.argv[jsonAt + 1],
      JSON.stringify({ command: process.argv.slice(1).join(' '), loadavg: loadavg(), rows }, null, 1) + '\n',
    );
}
