/**
 * xpu's int8-activation GGUF linear (native and TypeScript cpu kernels) against llama.cpp's own
 * functions on the same random data (bench/tools/ggml_q8_check.py writes them): counts outputs
 * equal bit for bit. Usage:
 *   python3 bench/tools/ggml_q8_check.py zen4 /tmp/ggml_q8.json
 *   node dist/bench/tools/ggml_q8_check.js /tmp/ggml_q8.json [--json bench/results/ggml_q8_check.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as xpu from '../../src/index.js';

interface Case {
  format: 'q4_0' | 'q4_1' | 'q8_0';
  n: number;
  k: number;
  x: number[];
  w: number[];
  ggml: number[];
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? '/tmp/ggml_q8.json';
  const jsonAt = process.argv.indexOf('--json');
  const input = JSON.parse(readFileSync(file, 'utf8')) as { variant: string; cases: Case[] };
  const rows = [];
  for (const c of input.cases) {
    for (const path of ['native', 'ts']) {
      process.env.XPU_CPU_QGEMM = path;
      const qw = xpu.quant.quantizedFromGguf(c.format, Uint8Array.from(c.w), [c.n, c.k], { device: 'cpu', activations: 'q8' });
      const y = xpu.linear(xpu.tensor(Float32Array.from(c.x)).reshape([1, c.k]), qw);
      const got = await y.data();
      let equal = 0;
      let maxRel = 0;
      for (let i = 0; i < c.n; i++) {
        if (got[i] === Math.fround(c.ggml[i])) equal++;
        maxRel = Math.max(maxRel, Math.abs(got[i] - c.ggml[i]) / Math.max(1e-30, Math.abs(c.ggml[i])));
      }
      rows.push({ format: c.format, n: c.n, k: c.k, path, equal, of: c.n, maxRel });
      process.stdout.write(`${c.format} [${c.n}, ${c.k}] ${path}: ${equal} / ${c.n} equal to llama.cpp's (max rel diff ${maxRel})\n`);
      y.dispose();
      qw.dispose();
    }
  }
  if (jsonAt > 0)
    writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ ggmlVariant: input.variant, date: new Date().toISOString(), rows }, null, 2));
}

void main();
