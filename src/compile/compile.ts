import { XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { optionsArg } from '../ops/common.js';
import { intArg } from '../tensor/shape.js';
import { capture } from './capture.js';
import { optimize } from './optimize.js';
import { planReplay, replay, type Plan } from './replay.js';
import { signatureOf } from './signature.js';

/**
 * xpu.compile(fn): the first call per signature (signature.ts) runs fn once eagerly while the
 * backends record its primitive calls (capture.ts); the recording is optimized (optimize.ts:
 * dead steps dropped, elementwise chains fused into one generated kernel, activations and
 * residual adds folded into GEMM epilogues) and later calls with that signature replay it
 * (replay.ts) without running fn's JavaScript at all. The idea is torch.compile's and jax.jit's
 * (trace once, replay the trace); capturing below the ops, at the primitive boundary, is what
 * CUDA graphs do one level lower.
 */

export interface CompileOptions {
  /** Signatures kept at once (least recently used dropped first); default 8, as torch's cache_size_limit. */
  maxCacheSize?: number;
  /** Throw instead of running eagerly when fn cannot be captured (torch.compile's fullgraph=True). */
  fullgraph?: boolean;
  /** Fuse elementwise chains and GEMM epilogues (default true); false replays the primitives as captured. */
  fuse?: boolean;
}

export interface CompileStats {
  /** Captures (first calls per signature and retraces). */
  captures: number;
  /** Calls replayed from a captured graph. */
  replays: number;
  /** Calls run eagerly (fn cannot be captured, or an input requires grad). */
  eagerCalls: number;
  /** Signatures cached now. */
  cacheSize: number;
  /** Why fn runs eagerly, once it was found not capturable (a result that requires grad only makes its own signature eager). */
  fallbackReason: string | null;
  /** Of the most recent capture: primitive calls recorded, and steps a replay runs after optimizing. */
  capturedOps: number;
  replaySteps: number;
  /** Generated kernels (fused elementwise chains) and GEMM epilogue folds in the most recent capture. */
  fusedKernels: number;
  epilogueFolds: number;
}

export type CompiledFunction<A extends unknown[], R> = ((...args: A) => R) & {
  /** Counters of captures, replays and fusion. */
  stats(): CompileStats;
  /** Drops every captured graph and the fallback decision: the next call captures again. */
  reset(): void;
};

const DEFAULT_CACHE = 8;

/** Says once per function why it runs eagerly. */
function warn(name: string, reason: string): void {
  process.emitWarning(`xpu.compile: ${name || 'the function'} runs eagerly: ${reason}`, { code: 'XPU_COMPILE' });
}

export function compile<A extends unknown[], R>(fn: (...args: A) => R, options?: CompileOptions): CompiledFunction<A, R> {
  if (typeof fn !== 'function')
    throw new XpuTypeError('expects a function', { op: 'compile', arg: 'fn', expected: 'a function', got: typeName(fn) });
  const opts = optionsArg('compile', options);
  const maxCache = opts.maxCacheSize === undefined ? DEFAULT_CACHE : intArg('compile', 'maxCacheSize', opts.maxCacheSize, { min: 1 });
  if (opts.fullgraph !== undefined && typeof opts.fullgraph !== 'boolean')
    throw new XpuTypeError('must be a boolean', { op: 'compile', arg: 'fullgraph', expected: 'boolean', got: typeName(opts.fullgraph) });
  if (opts.fuse !== undefined && typeof opts.fuse !== 'boolean')
    throw new XpuTypeError('must be a boolean', { op: 'compile', arg: 'fuse', expected: 'boolean', got: typeName(opts.fuse) });
  const fuse = opts.fuse ?? true;
  // 'eager': this signature runs eagerly (its result requires grad), others may still replay.
  const cache = new Map<string, Plan | 'eager'>();
  const stats: CompileStats = {
    captures: 0,
    replays: 0,
    eagerCalls: 0,
    cacheSize: 0,
    fallbackReason: null,
    capturedOps: 0,
    replaySteps: 0,
    fusedKernels: 0,
    epilogueFolds: 0,
  };
  let warnedGrad = false;

  const compiled = (...args: A): R => {
    if (stats.fallbackReason !== null) {
      stats.eagerCalls++;
      return fn(...args);
    }
    const sig = signatureOf(args, 'compile');
    if (sig.requiresGrad) {
      // Autograd records its graph as ops run; a replay runs no ops. Eager keeps backward() right.
      if (!warnedGrad) warn(fn.name, 'an input requires grad (autograd is not captured)');
      warnedGrad = true;
      stats.eagerCalls++;
      return fn(...args);
    }
    const hit = cache.get(sig.key);
    if (hit) {
      cache.delete(sig.key); // most recently used last
      cache.set(sig.key, hit);
      if (hit === 'eager') {
        stats.eagerCalls++;
        return fn(...args);
      }
      stats.replays++;
      return replay(hit, sig.tensors) as R;
    }
    const { result, graph, reason, perSignature } = capture(fn as (...a: never[]) => unknown, args, sig.tensors);
    stats.captures++;
    if (!graph && perSignature && !opts.fullgraph) {
      if (!warnedGrad) warn(fn.name, reason ?? 'unknown');
      warnedGrad = true;
      cache.set(sig.key, 'eager');
      if (cache.size > maxCache) cache.delete(cache.keys().next().value as string);
      return result as R;
    }
    if (!graph) {
      stats.fallbackReason = reason;
      if (opts.fullgraph)
        throw new XpuValueError('cannot capture the function', {
          op: 'compile',
          arg: 'fn',
          expected: 'a function of tensor ops only (fullgraph)',
          got: reason ?? 'unknown',
        });
      warn(fn.name, reason ?? 'unknown');
      return result as R;
    }
    const optimized = fuse ? optimize(graph) : { graph, fusedKernels: 0, epilogueFolds: 0 };
    const plan = planReplay(optimized.graph);
    cache.set(sig.key, plan);
    if (cache.size > maxCache) cache.delete(cache.keys().next().value as string);
    stats.capturedOps = graph.capturedOps;
    stats.replaySteps = optimized.graph.steps.length;
    stats.fusedKernels = optimized.fusedKernels;
    stats.epilogueFolds = optimized.epilogueFolds;
    return result as R;
  };
  return Object.assign(compiled, {
    stats: (): CompileStats => ({ ...stats, cacheSize: cache.size }),
    reset: (): void => {
      cache.clear();
      stats.fallbackReason = null;
    },
  });
}
