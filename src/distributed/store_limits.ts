import { XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';

/**
 * Every limit of the rendezvous store (store_server.ts), in one place. The store is rank 0's: a
 * client that could make it grow without bound, hold connections forever or send it something it
 * cannot parse would end the whole job, so each of these bounds what one connection can cost.
 *
 * The defaults are far above what a job uses (oneCCL's 256-byte KVS address, a few bytes per rank
 * for check-in and goodbye, counters) and low enough that no client can grow rank 0 by more than
 * a few tens of MiB. Override them with initProcessGroup({ storeLimits }) (rank 0 applies them;
 * the server tells each client its key, value and frame limits in the handshake) or
 * StoreServer.listen(host, port, { limits }).
 */
export interface StoreLimits {
  /** Largest frame (the JSON of one message) from an authenticated client, in bytes. A larger one closes the connection. */
  maxFrameBytes: number;
  /** Longest key, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value, in bytes (before base64). A larger set is refused with a 'limit' error. */
  maxValueBytes: number;
  /** All keys and values together, in bytes. A set or add past it is refused with a 'limit' error. */
  maxStoredBytes: number;
  /** Authenticated connections at once (every rank holds one). More are refused ('busy'). */
  maxConnections: number;
  /**
   * Connections still in the handshake at once. When one more arrives, the oldest of them is
   * closed: so a flood of silent connections cannot keep a real rank out, it only ages them out
   * faster.
   */
  maxHandshakingConnections: number;
  /** get/wait calls one connection may have waiting at once. */
  maxPendingRequests: number;
  /** A new connection must send the magic and authenticate within this many ms. */
  handshakeMs: number;
  /**
   * An authenticated connection that is not a live rank (no hello, or after bye) and has no
   * request waiting is closed after this many ms without a message. A rank's own connection is
   * the job's health channel and is never closed for being idle: a rank may compute for hours
   * between collectives, and its event loop may be busy for minutes.
   */
  idleMs: number;
}

export const DEFAULT_STORE_LIMITS: Readonly<StoreLimits> = Object.freeze({
  maxFrameBytes: 2 << 20, // a 1 MiB value is 1.33 MiB of base64
  maxKeyBytes: 4096,
  maxValueBytes: 1 << 20,
  maxStoredBytes: 64 << 20,
  maxConnections: 4096,
  maxHandshakingConnections: 64,
  maxPendingRequests: 1024,
  handshakeMs: 5_000,
  idleMs: 60_000,
});

/**
 * Before authentication a client may send one small message (the auth reply, about 130 bytes):
 * a peer that has not proven it belongs to the job never gets to make rank 0 buffer more.
 */
export const HANDSHAKE_FRAME_BYTES = 1024;

/** The longest timer Node can arm (setTimeout fires at once above 2^31 - 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The defaults with `partial` applied, each checked; throws naming `op` and the limit. */
export function resolveStoreLimits(op: string, partial: Partial<StoreLimits> | undefined): StoreLimits {
  if (partial === undefined) return { ...DEFAULT_STORE_LIMITS };
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) {
    throw new XpuTypeError('store limits must be an object', {
      op,
      arg: 'storeLimits',
      expected: 'an object of limits (see StoreLimits)',
      got: typeName(partial),
    });
  }
  const out: StoreLimits = { ...DEFAULT_STORE_LIMITS };
  for (const [name, v] of Object.entries(partial)) {
    if (!Object.hasOwn(DEFAULT_STORE_LIMITS, name)) {
      throw new XpuValueError('unknown store limit', {
        op,
        arg: `storeLimits.${name}`,
        expected: Object.keys(DEFAULT_STORE_LIMITS).join(' | '),
        got: name,
      });
    }
    if (v === undefined) continue;
    const max = name.endsWith('Ms') ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      throw new XpuValueError('a store limit must be a positive integer', {
        op,
        arg: `storeLimits.${name}`,
        expected: `an integer in [1, ${max}]`,
        got: typeof v === 'number' ? String(v) : typeName(v),
      });
    }
    out[name as keyof StoreLimits] = v;
  }
  return out;
}
