import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MAX_TIMER_MS } from './store_limits.js';

/**
 * The wire format of the rendezvous store (store.ts is the client, store_server.ts the server).
 *
 * A client opens with the 8-byte MAGIC and the server answers with the same 8 bytes, so each side
 * knows at once that it reached the other and not some unrelated service on MASTER_PORT; a
 * connection that opens with anything else is closed by the server. After that both sides send
 * frames: a little-endian u32 byte length, then that many bytes of UTF-8 JSON. Binary values
 * travel as base64 (they are small: oneCCL's 256-byte KVS address, counters, flags).
 *
 * Handshake: right after the magic the server sends a `challenge` (a fresh nonce, whether it
 * requires the job's secret, and the key/value/frame limits). With a secret, the client's first
 * frame must be `auth`: its own nonce and an HMAC-SHA256 of both nonces under the secret; the
 * server answers with its own HMAC, so each side proves it knows the secret without sending it
 * (a process that listens on MASTER_PORT before rank 0 does learns nothing it can reuse). Until
 * then the server accepts nothing else, and only frames of HANDSHAKE_FRAME_BYTES.
 *
 * Every frame is checked against its message's schema on arrival (parseRequest, parseServerMessage):
 * the JSON comes from another process, and a value of the wrong type must close that one
 * connection, never throw inside the store's event handlers (which would end rank 0 and the job).
 */

export const MAGIC = Buffer.from('XPUSTOR2', 'latin1');
export const NONCE_BYTES = 16;
const PROOF_BYTES = 32; // SHA-256

export type ErrorCode = 'timeout' | 'bad-request' | 'limit' | 'auth' | 'conflict' | 'idle' | 'busy';
const ERROR_CODES: readonly string[] = ['timeout', 'bad-request', 'limit', 'auth', 'conflict', 'idle', 'busy'];

export type Request =
  | { id: number; op: 'auth'; nonce: string; proof: string }
  | { id: number; op: 'set'; key: string; value: string }
  | { id: number; op: 'get'; key: string; timeoutMs: number }
  | { id: number; op: 'wait'; keys: string[]; timeoutMs: number }
  | { id: number; op: 'add'; key: string; delta: number }
  | { id: number; op: 'check'; keys: string[] }
  | { id: number; op: 'hello'; rank: number }
  | { id: number; op: 'bye' }
  /** A rank's job broke (its call timed out...): the server tells every other rank (`failed`). */
  | { id: number; op: 'fail'; kind: FailureKind; where: string; error: string };

/**
 * What a rank can report as the reason its job broke (the XpuDistError kinds that end a job).
 * A rank that gives up first tells the others why before it exits: otherwise they would see only
 * rank 0's store vanish (or a rank's connection close) and report 'peer-lost', not the cause.
 */
export type FailureKind = 'timeout' | 'peer-lost' | 'engine' | 'store' | 'state' | 'mismatch';
export const FAILURE_KINDS: readonly FailureKind[] = ['timeout', 'peer-lost', 'engine', 'store', 'state', 'mismatch'];
/** A failure's text is cut to this many characters before the server passes it on. */
export const MAX_FAILURE_TEXT = 2000;

export interface ErrorResponse {
  id: number;
  ok: false;
  code: ErrorCode;
  error: string;
  /** For the client's typed error: the argument at fault, what the store accepts, what came. */
  arg?: string;
  expected?: string;
  got?: string;
}
export type Response = { id: number; ok: true; value?: string | number | boolean } | ErrorResponse;

/** The limits a client checks before sending (the server checks them again). */
export interface ClientLimits {
  maxFrameBytes: number;
  maxKeyBytes: number;
  maxValueBytes: number;
}

/** Pushed by the server. */
export type ServerEvent =
  /** The first frame after the magic. */
  | { event: 'challenge'; nonce: string; auth: boolean; limits: ClientLimits }
  /** A rank's connection closed before it said bye (it died or exited). */
  | { event: 'lost'; rank: number }
  /** A rank's job broke, and why (its `fail` request, or rank 0's own failure). */
  | { event: 'failed'; rank: number; kind: FailureKind; where: string; error: string }
  /** Sent just before the server closes this connection, saying why. */
  | { event: 'error'; code: ErrorCode; error: string };

export type LostEvent = Extract<ServerEvent, { event: 'lost' }>;
export type FailedEvent = Extract<ServerEvent, { event: 'failed' }>;

export function encodeFrame(msg: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** What a frame of `msg` weighs on the wire, without its 4-byte length. */
export function frameBytes(msg: unknown): number {
  return Buffer.byteLength(JSON.stringify(msg), 'utf8');
}

/** A frame that cannot be read: too long, or not JSON. The connection cannot continue. */
export class FrameError extends Error {
  constructor(
    message: string,
    readonly tooLarge: boolean,
  ) {
    super(message);
  }
}

/**
 * Splits a byte stream into frames; throws FrameError on a frame longer than `max` (checked from
 * the length prefix, before any of it is buffered) or one that is not JSON. Chunks are kept as a
 * list and joined once per frame, so a large frame in small chunks costs one copy, not one per chunk.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #length = 0;

  constructor(public max: number) {}

  /** Bytes received and not yet returned as frames. */
  get buffered(): number {
    return this.#length;
  }

  push(chunk: Buffer): unknown[] {
    if (chunk.length) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
    const out: unknown[] = [];
    while (this.#length >= 4) {
      const head = this.#take(4, false);
      const n = head.readUInt32LE(0);
      if (n > this.max) throw new FrameError(`a frame of ${n} bytes, above the limit of ${this.max}`, true);
      if (this.#length < 4 + n) break;
      this.#take(4, true);
      const body = this.#take(n, true);
      try {
        out.push(JSON.parse(body.toString('utf8')));
      } catch (e) {
        throw new FrameError(`a frame that is not JSON (${(e as Error).message})`, false);
      }
    }
    return out;
  }

  /** The first n buffered bytes, removed from the buffer when `consume`. */
  #take(n: number, consume: boolean): Buffer {
    if (n === 0) return Buffer.alloc(0); // an empty frame: nothing to take (and maybe no chunk left)
    let joined: Buffer;
    if (this.#chunks[0].length >= n) joined = this.#chunks[0];
    else {
      joined = Buffer.concat(this.#chunks);
      this.#chunks = [joined];
    }
    const out = joined.subarray(0, n);
    if (consume) {
      const rest = joined.subarray(n);
      this.#chunks[0] = rest;
      if (!rest.length) this.#chunks.shift();
      this.#length -= n;
    }
    return out;
  }
}

// ---- schemas -------------------------------------------------------------------------------

/** A message that does not match its schema; `message` says which field and why. */
export class SchemaError extends Error {}

type Check = (v: unknown, field: string) => void;

function fail(field: string, want: string, v: unknown): never {
  const got =
    v === null
      ? 'null'
      : Array.isArray(v)
        ? 'an array'
        : typeof v === 'string'
          ? `a string of ${v.length} characters`
          : typeof v === 'object'
            ? 'an object'
            : `${typeof v} ${String(v).slice(0, 40)}`;
  throw new SchemaError(`field '${field}' must be ${want}, got ${got}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const int =
  (min: number, max: number): Check =>
  (v, f) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(f, `an integer in [${min}, ${max}]`, v);
  };
const bool: Check = (v, f) => {
  if (typeof v !== 'boolean') fail(f, 'a boolean', v);
};
const str: Check = (v, f) => {
  if (typeof v !== 'string') fail(f, 'a string', v);
};
const base64 =
  (bytes?: number): Check =>
  (v, f) => {
    if (typeof v !== 'string' || !BASE64.test(v)) fail(f, 'base64 text', v);
    if (bytes !== undefined && base64Bytes(v) !== bytes) fail(f, `base64 of ${bytes} bytes`, v);
  };
const timeout: Check = (v, f) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_TIMER_MS) fail(f, `milliseconds in [0, ${MAX_TIMER_MS}]`, v);
};
const key =
  (maxBytes: number): Check =>
  (v, f) => {
    if (typeof v !== 'string') fail(f, 'a string', v);
    // A UTF-16 unit is at most 3 UTF-8 bytes: count the bytes only when the limit could be passed.
    if (v.length * 3 > maxBytes && Buffer.byteLength(v, 'utf8') > maxBytes) fail(f, `a key of at most ${maxBytes} UTF-8 bytes`, v);
  };
const keyList =
  (maxBytes: number): Check =>
  (v, f) => {
    if (!Array.isArray(v) || v.length === 0) fail(f, 'a non-empty array of keys', v);
    const k = key(maxBytes);
    for (let i = 0; i < v.length; i++) k(v[i], `${f}[${i}]`);
  };
const exactly =
  (want: unknown): Check =>
  (v, f) => {
    if (v !== want) fail(f, JSON.stringify(want), v);
  };
const oneOf =
  (values: readonly string[]): Check =>
  (v, f) => {
    if (typeof v !== 'string' || !values.includes(v)) fail(f, `one of ${values.join(', ')}`, v);
  };
const optional =
  (c: Check): Check =>
  (v, f) => {
    if (v !== undefined) c(v, f);
  };

/** Decoded length of valid base64 text. */
export function base64Bytes(b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return (b64.length / 4) * 3 - pad;
}

/** Checks `msg` has exactly these fields (none missing, none extra), each passing its check. */
function checkFields(msg: Record<string, unknown>, fields: Record<string, Check>, what: string): void {
  for (const name of Object.keys(msg)) {
    if (!Object.hasOwn(fields, name)) throw new SchemaError(`${what} has an unknown field '${name.slice(0, 40)}'`);
  }
  for (const [name, check] of Object.entries(fields)) check(msg[name], name);
}

const ID = int(0, Number.MAX_SAFE_INTEGER);

function requestSchemas(maxKeyBytes: number): Record<Request['op'], Record<string, Check>> {
  const k = key(maxKeyBytes);
  const ks = keyList(maxKeyBytes);
  return {
    auth: { id: ID, op: str, nonce: base64(NONCE_BYTES), proof: base64(PROOF_BYTES) },
    set: { id: ID, op: str, key: k, value: base64() },
    get: { id: ID, op: str, key: k, timeoutMs: timeout },
    wait: { id: ID, op: str, keys: ks, timeoutMs: timeout },
    add: { id: ID, op: str, key: k, delta: int(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) },
    check: { id: ID, op: str, keys: ks },
    hello: { id: ID, op: str, rank: int(0, 2 ** 31 - 1) },
    bye: { id: ID, op: str },
    fail: { id: ID, op: str, kind: oneOf(FAILURE_KINDS), where: str, error: str },
  };
}

const schemaCache = new Map<number, Record<Request['op'], Record<string, Check>>>();

/**
 * `msg` as a Request, or a SchemaError saying what is wrong with it. Sizes that are limits rather
 * than schema (a value above maxValueBytes) are the server's to check, so that a client gets a
 * 'limit' error for them instead of losing its connection.
 */
export function parseRequest(msg: unknown, maxKeyBytes: number): Request {
  if (!isObject(msg)) fail('message', 'an object', msg);
  let schemas = schemaCache.get(maxKeyBytes);
  if (!schemas) schemaCache.set(maxKeyBytes, (schemas = requestSchemas(maxKeyBytes)));
  const op = msg.op;
  if (typeof op !== 'string' || !Object.hasOwn(schemas, op)) fail('op', `one of ${Object.keys(schemas).join(', ')}`, op);
  checkFields(msg, schemas[op as Request['op']], `a '${op}' request`);
  return msg as unknown as Request;
}

/** The request's id when it has a usable one, so an error can still be answered to it. */
export function requestId(msg: unknown): number | undefined {
  return isObject(msg) && Number.isSafeInteger(msg.id) && (msg.id as number) >= 0 ? (msg.id as number) : undefined;
}

const POS = int(1, Number.MAX_SAFE_INTEGER);
const limitsCheck: Check = (v, f) => {
  if (!isObject(v)) fail(f, 'an object', v);
  checkFields(v, { maxFrameBytes: POS, maxKeyBytes: POS, maxValueBytes: POS }, f);
};

const SERVER_EVENTS: Record<ServerEvent['event'], Record<string, Check>> = {
  challenge: { event: str, nonce: base64(NONCE_BYTES), auth: bool, limits: limitsCheck },
  lost: { event: str, rank: int(0, 2 ** 31 - 1) },
  failed: { event: str, rank: int(0, 2 ** 31 - 1), kind: oneOf(FAILURE_KINDS), where: str, error: str },
  error: { event: str, code: oneOf(ERROR_CODES), error: str },
};
const OK_RESPONSE: Record<string, Check> = {
  id: ID,
  ok: exactly(true),
  value: optional((v, f) => {
    if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v)))
      fail(f, 'a string, number or boolean', v);
  }),
};
const ERR_RESPONSE: Record<string, Check> = {
  id: ID,
  ok: exactly(false),
  code: oneOf(ERROR_CODES),
  error: str,
  arg: optional(str),
  expected: optional(str),
  got: optional(str),
};

/** What the server sent, checked: a client must not crash on a malformed answer either. */
export function parseServerMessage(msg: unknown): Response | ServerEvent {
  if (!isObject(msg)) fail('message', 'an object', msg);
  if ('event' in msg) {
    const ev = msg.event;
    if (typeof ev !== 'string' || !Object.hasOwn(SERVER_EVENTS, ev)) fail('event', `one of ${Object.keys(SERVER_EVENTS).join(', ')}`, ev);
    checkFields(msg, SERVER_EVENTS[ev as ServerEvent['event']], `a '${ev}' event`);
    return msg as unknown as ServerEvent;
  }
  if (msg.ok === true) checkFields(msg, OK_RESPONSE, 'a response');
  else if (msg.ok === false) checkFields(msg, ERR_RESPONSE, 'an error response');
  else fail('ok', 'true or false', msg.ok);
  return msg as unknown as Response;
}

// ---- authentication ------------------------------------------------------------------------

export const newNonce = (): Buffer => randomBytes(NONCE_BYTES);

/**
 * The proof that a side knows the secret: HMAC-SHA256 over who is proving (so the server's answer
 * can never be replayed as a client's, or the reverse) and both nonces (so no proof is valid for
 * another connection).
 */
export function proof(secret: string, side: 'client' | 'server', serverNonce: Buffer, clientNonce: Buffer): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`xpu-store/${side}\0`).update(serverNonce).update(clientNonce).digest();
}

/** Constant-time comparison of a received proof (base64) with the expected one. */
export function proofMatches(expected: Buffer, gotB64: string): boolean {
  const got = Buffer.from(gotB64, 'base64');
  return got.length === expected.length && timingSafeEqual(got, expected);
}
