import { tensorArg } from '../ops/common.js';
import { isTensor } from './tensor.js';
import { keep as keepTensor, runScope } from './scope.js';
import type { Tensor } from './tensor.js';

/**
 * Runs `fn` and disposes every tensor it made, except those in its return value (like tfjs's
 * tidy). Scopes nest. `fn` must be synchronous.
 */
export function scope<R>(fn: () => R): R {
  return runScope(fn, isTensor);
}

/** Keeps a tensor made inside a scope alive after the scope ends. */
export function keep<T extends Tensor>(t: T): T {
  tensorArg('keep', 'input', t);
  return keepTensor(t);
}
