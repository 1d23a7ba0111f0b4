/**
 * Decode speed of two source trees of this project on the same GGUF, alternating processes: each
 * process loads one tree's dist/ (a git worktree of an earlier commit built with tsc, sharing this
 * tree's native addon, node_modules and .cache), warms up, then decodes three times (16-token
 * prompt, --tokens new tokens) and reports the best and median wall ms per new token and the
 * median process CPU ms per new token (user + system: it does not count time other processes hold
 * the cores, so it holds better than wall time on a loaded box). Same arithmetic in both trees
 * means the difference is work outside the kernels; the greedy tokens are printed to check that.
 *
 * Usage: node dist/bench/tools/decode_tree_ab.js --before /path/to/worktree --model A.gguf[,B.gguf]
 *        [--pairs 3] [--tokens 64] [--json out.json]
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

interface Run {
  bestMs: number;
  medianMs: number;
  cpuMsPerToken: number;
  tokens: string;
}

async function child(root: string, model: string, tokens: number): Promise<void> {
  const xpu = (await import(resolve(root, 'dist/src/index.js'))) as typeof import('../../src/index.js');
  const lm = await xpu.llm.load(model, { device: 'cpu', maxSequence: 16 + tokens + 8 });
  const ids = lm.tokenizer
    .encode('The quick brown fox jumps over the lazy dog. Once upon a time, in a land far away, there lived')
    .concat(Array<number>(16).fill(28))
    .slice(0, 16);
  await lm.model.generate(ids, { maxNewTokens: 8 });
  const runs: { wall: number; cpu: number; tokens: string }[] = [];
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage();
    const g = await lm.model.generate(ids, { maxNewTokens: tokens });
    const c = process.cpuUsage(c0);
    runs.push({
      wall: g.timings.decodeMs / (tokens - 1),
      cpu: (c.user + c.system) / 1000 / tokens,
      tokens: g.tokens.slice(0, 8).join(','),
    });
  }
  const wall = runs.map((r) => r.wall).sort((a, b) => a - b);
  const cpu = runs.map((r) => r.cpu).sort((a, b) => a - b);
  const out: Run = { bestMs: wall[0], medianMs: wall[1], cpuMsPerToken: cpu[1], tokens: runs[0].tokens };
  process.stdout.write(JSON.stringify(out));
  lm.dispose();
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (arg('--child-root')) {
  await child(arg('--child-root')!, arg('--model')!, Number(arg('--tokens') ?? 64));
} else {
  const before = arg('--before');
  if (!before)
    throw new Error('usage: decode_tree_ab.js --before WORKTREE --model A.gguf[,B.gguf] [--pairs 3] [--tokens 64] [--json out.json]');
  const after = resolve(fileURLToPath(import.meta.url), '../../../..');
  const pairs = Number(arg('--pairs') ?? 3);
  const tokens = String(Number(arg('--tokens') ?? 64));
  const self = fileURLToPath(import.meta.url);
  const run = (root: string, model: string): Run =>
    JSON.parse(
      execFileSync(process.execPath, [self, '--child-root', root, '--model', model, '--tokens', tokens], { encoding: 'utf8' }),
    ) as Run;
  const results = [];
  for (const model of (arg('--model') ?? '.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf').split(',')) {
    const rows = [];
    for (let i = 0; i < pairs; i++) rows.push({ loadavg: loadavg(), before: run(before, model), after: run(after, model) });
    const sum = {
      model: basename(model),
      before: { medianWallMs: median(rows.map((r) => r.before.medianMs)), cpuMsPerToken: median(rows.map((r) => r.before.cpuMsPerToken)) },
      after: { medianWallMs: median(rows.map((r) => r.after.medianMs)), cpuMsPerToken: median(rows.map((r) => r.after.cpuMsPerToken)) },
      sameTokens: rows.every((r) => r.before.tokens === r.after.tokens),
    };
    console.log(JSON.stringify(sum));
    results.push({ ...sum, pairs: rows });
  }
  const json = arg('--json');
  if (json)
    writeFileSync(json, JSON.stringify({ command: process.argv.slice(1).join(' '), before, after, tokens, results }, null, 1) + '\n');
}
