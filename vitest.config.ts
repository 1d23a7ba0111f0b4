import { defineConfig } from 'vitest/config';

// lavapipe already uses both cores of a small machine, so test files run one at a time, each in
// its own process (Dawn is safest with one instance per process).
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Lets tests force a GC: the FinalizationRegistry safety net, and Dawn's GC hazard.
    execArgv: ['--expose-gc'],
  },
});
