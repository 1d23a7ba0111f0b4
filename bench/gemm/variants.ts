/**
 * GEMM strategies as runner variants: XPU_GEMM_VARIANT (register, shared, naive) set around each
 * run, so the strategies are timed round-robin on the same inputs. chooseGemmConfig reads the
 * variable on every call, as a user's setting would be read.
 */
import {
  GEMM_VARIANTS,
  defaultTileConfig,
  setGemmConfigOverride,
  splitKConfig,
  type GemmVariant,
} from '../../src/backends/webgpu/gemm_config.js';
import type { Variant } from '../suite.js';

export function strategyVariant(v: GemmVariant): Variant {
  return {
    name: v,
    apply: () => {
      const before = process.env.XPU_GEMM_VARIANT;
      process.env.XPU_GEMM_VARIANT = v;
      return () => {
        if (before === undefined) delete process.env.XPU_GEMM_VARIANT;
        else process.env.XPU_GEMM_VARIANT = before;
      };
    },
  };
}

/** The strategies, the adapter's default first (the runner's ratios are against the first). */
export function strategyVariants(defaultFirst: GemmVariant): Variant[] {
  return [defaultFirst, ...GEMM_VARIANTS.filter((v) => v !== defaultFirst)].map(strategyVariant);
}

/**
 * For small-M cases: the split-K GEMV and the few-row tiles, each forced through the tuner hook
 * whatever the heuristics pick for that M, and the naive baseline.
 */
export function smallMVariants(): Variant[] {
  return [
    {
      name: 'split-k',
      apply: () => {
        setGemmConfigOverride((adapter) => splitKConfig(adapter));
        return () => setGemmConfigOverride(null);
      },
    },
    {
      name: 'tiles',
      apply: () => {
        setGemmConfigOverride((adapter, m) => defaultTileConfig(adapter, m));
        return () => setGemmConfigOverride(null);
      },
    },
    strategyVariant('naive'),
  ];
}
