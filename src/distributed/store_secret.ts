import { randomBytes } from 'node:crypto';
import { XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';

/**
 * The job's secret for the rendezvous store (store_protocol.ts explains how it is used).
 *
 * `xpu run` makes a fresh one per job and gives it to the ranks in SECRET_ENV: an environment
 * variable is readable only by the same user (or root), as the ranks themselves are, whereas a
 * command-line argument is visible to every user in `ps`. Other launchers pass the same variable,
 * or initProcessGroup({ secret }).
 */

export const SECRET_ENV = 'XPU_DIST_SECRET';

/** Shorter than this is too easy to guess for a key that guards the job. */
export const MIN_SECRET_LENGTH = 16;

/** 256 random bits as 64 hex digits. */
export function newSecret(): string {
  return randomBytes(32).toString('hex');
}

export function checkSecret(op: string, arg: string, secret: unknown): string {
  if (typeof secret !== 'string')
    throw new XpuTypeError('the store secret must be a string', { op, arg, expected: 'string', got: typeName(secret) });
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new XpuValueError('the store secret is too short', {
      op,
      arg,
      expected: `at least ${MIN_SECRET_LENGTH} characters (xpu run uses 64 random hex digits)`,
      got: `${secret.length} characters`,
    });
  }
  return secret;
}
