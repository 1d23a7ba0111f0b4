import { XpuTypeError } from '../errors.js';
import { typeName } from '../format_value.js';

/**
 * Grad mode (torch.is_grad_enabled): while it is off, ops record no graph. One flag for the
 * process; noGrad / enableGrad set it around a synchronous function and restore it after, so they
 * nest. Only synchronous: an async function's awaits run after the flag was restored.
 */
let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** @internal Sets grad mode and returns the previous value (the engine's backward closures). */
export function setGradEnabled(flag: boolean): boolean {
  const prev = enabled;
  enabled = flag;
  return prev;
}

function withMode<T>(op: string, flag: boolean, fn: () => T): T {
  if (typeof fn !== 'function') throw new XpuTypeError('expects a function', { op, arg: 'fn', expected: 'a function', got: typeName(fn) });
  const prev = setGradEnabled(flag);
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Runs `fn` with grad mode off (torch.no_grad): its ops record no graph. Synchronous only. */
export function noGrad<T>(fn: () => T): T {
  return withMode('noGrad', false, fn);
}

/** Runs `fn` with grad mode on, inside a noGrad too (torch.enable_grad). Synchronous only. */
export function enableGrad<T>(fn: () => T): T {
  return withMode('enableGrad', true, fn);
}
