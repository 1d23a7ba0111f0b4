import { defineConfig } from 'vitest/config';

// On a cold machine (empty Mesa shader cache) the suite's time is almost all lavapipe compiling
// WGSL pipelines with LLVM, one pipeline at a time on one core. Two things follow:
// - Test files run two at a time, each in its own process (Dawn is safest with one instance per
//   process), so both cores compile.
// - Tests compile shaders without LLVM's optimisation passes (GALLIVM_PERF=nopt), which halves
//   compile time. Optimisation passes do not change what a shader computes (no fast-math), only
//   how fast; tests check results, benchmarks (never run under this setting) check speed. Set
//   GALLIVM_PERF yourself (e.g. to '') to test with optimised shaders.
// Measured cold (MESA_SHADER_CACHE_DISABLE=true) on a 2-core VM: 556 s one file at a time with
// optimised shaders, about 245 s with both (docs/ARCHITECTURE.md, "Tests").
process.env.GALLIVM_PERF ??= 'nopt';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Lets tests force a GC: the FinalizationRegistry safety net, and Dawn's GC hazard.
    execArgv: ['--expose-gc'],
  },
});
