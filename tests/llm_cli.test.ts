import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, xpuCli } from './cli_run.js';
import { requireModel, runModelTests } from './model_files.js';

/** `xpu generate`, run as a user runs it (the built CLI in a child process). */

beforeAll(ensureBuilt, 300_000);

describe('xpu generate', () => {
  it('refuses a missing model file with exit status 1 and a message', async () => {
    const err = await xpuCli(['generate', '--model', '/nonexistent/model.gguf', 'hi']).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toMatch(/no such model file/);
  });

  it.runIf(runModelTests)("streams SmolLM2's greedy continuation to stdout, stats to stderr", async () => {
    const { stdout, stderr } = await xpuCli([
      'generate',
      '--model',
      requireModel(),
      '--device',
      'cpu',
      '-n',
      '3',
      '--stats',
      'The capital of France is',
    ]);
    expect(stdout.startsWith(' Paris'), JSON.stringify(stdout)).toBe(true);
    expect(stderr).toMatch(/prompt 5 tokens .* 3 new tokens, decode [\d.]+ tok\/s; stop: length/);
  });
});
