import { connect, type Socket } from 'node:net';
import { XpuDistError, XpuTypeError, type DistErrorKind } from '../errors.js';
import { typeName } from '../format_value.js';
import { HANDSHAKE_FRAME_BYTES, MAX_TIMER_MS } from './store_limits.js';
import {
  encodeFrame,
  FrameReader,
  MAGIC,
  newNonce,
  parseServerMessage,
  proof,
  proofMatches,
  MAX_FAILURE_TEXT,
  type ClientLimits,
  type ErrorCode,
  type ErrorResponse,
  type FailedEvent,
  type FailureKind,
  type Request,
  type Response,
  type ServerEvent,
} from './store_protocol.js';
import { checkSecret, SECRET_ENV } from './store_secret.js';

/**
 * A client of the rendezvous store (store_server.ts): set/get/wait/add with timeouts, plus the
 * liveness channel (hello/bye, `lost` events, and `failed` events with another rank's reason for
 * giving up: see reportFailure). Every rank, rank 0 included, talks to the store
 * through one of these. Used for oneCCL's KVS address exchange and for the check-in of every rank
 * at initProcessGroup(), so a rank that never arrives is named instead of hanging the others.
 *
 * The socket is unref'd while no request is pending: an open health channel alone must not keep a
 * finished program alive.
 */

type Pending = { resolve: (r: Response) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** A request before the client numbers it. */
type Payload = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface StoreConnectOptions {
  host: string;
  port: number;
  /** How long to keep trying to connect (rank 0 may start its server after the others). */
  timeoutMs: number;
  /**
   * When the caller's own budget ends (Date.now() ms), if it started before this call: tries stop
   * then, while errors still name `timeoutMs`, the timeout the user set, not what was left of it.
   */
  deadline?: number;
  /** The operation to name in errors (initProcessGroup). */
  op?: string;
  /** The job's secret: needed when the store authenticates (every job `xpu run` starts). */
  secret?: string;
}

/** The kind of XpuDistError for each error code of the protocol. */
const KIND: Record<ErrorCode, DistErrorKind> = {
  timeout: 'timeout',
  'bad-request': 'store',
  limit: 'limit',
  auth: 'auth',
  conflict: 'state',
  idle: 'store',
  busy: 'store',
};

/** A failed handshake; `fatal` when trying again cannot help (wrong secret, another service). */
class HandshakeFailure extends Error {
  constructor(
    message: string,
    readonly fatal: boolean,
    readonly kind: 'auth' | 'store' = 'store',
  ) {
    super(message);
  }
}

interface Handshake {
  socket: Socket;
  reader: FrameReader;
  limits: ClientLimits;
  /** Messages that arrived in the same chunk as the end of the handshake. */
  rest: (Response | ServerEvent)[];
}

const noop = () => {};

export class TcpStore {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** What the server accepts (from its challenge): checked here before sending. */
  readonly limits: Readonly<ClientLimits>;
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #onLost: ((rank: number, why: string) => void)[] = [];
  readonly #onFailed: ((e: FailedEvent) => void)[] = [];
  /** The first failure another rank reported (a `failed` event): pending requests end with it. */
  #failure: XpuDistError | null = null;
  #nextId = 1;
  #closing = false;
  /** After bye(), rank 0 closing the store is the normal end of the job, not a lost rank. */
  #leaving = false;
  /** Why the server (or this side, on a malformed message) ended the connection, when known. */
  #closeReason: { message: string; kind: DistErrorKind } | null = null;

  private constructor(h: Handshake, host: string, port: number, timeoutMs: number) {
    this.#socket = h.socket;
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.limits = Object.freeze({ ...h.limits });
    const socket = h.socket;
    socket.on('data', (chunk: Buffer) => {
      let msgs: (Response | ServerEvent)[];
      try {
        msgs = h.reader.push(chunk).map(parseServerMessage);
      } catch (e) {
        this.#closeReason ??= {
          message: `the rendezvous store at ${host}:${port} sent a malformed message (${(e as Error).message})`,
          kind: 'store',
        };
        socket.destroy();
        return;
      }
      for (const m of msgs) this.#receive(m);
    });
    socket.on('close', () => {
      const reason = this.#closeReason;
      const err = reason
        ? this.#error('TcpStore', reason.message, reason.kind)
        : this.#error(
            'TcpStore',
            `the rendezvous store at ${host}:${port} closed the connection: rank 0, which serves it, exited or failed`,
            'peer-lost',
          );
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.#pending.clear();
      // The store lives in rank 0: losing it unexpectedly means rank 0 is gone (or, with a
      // reason, that the store dropped this rank; either way the job cannot go on).
      if (!this.#closing && !this.#leaving)
        for (const cb of this.#onLost) cb(0, reason ? reason.message : 'the rendezvous store (hosted by rank 0) closed its connection');
    });
    socket.unref();
    for (const m of h.rest) this.#receive(m);
  }

  /** Connects, retrying while nothing listens yet, checks the server's magic and authenticates. */
  static async connect(o: StoreConnectOptions): Promise<TcpStore> {
    const op = o.op ?? 'TcpStore.connect';
    if (o.secret !== undefined) checkSecret(op, 'secret', o.secret);
    const deadline = o.deadline ?? Date.now() + o.timeoutMs;
    let last = '';
    let delay = 20;
    while (Date.now() < deadline) {
      try {
        const h = await TcpStore.#open(o.host, o.port, deadline - Date.now(), o.secret);
        return new TcpStore(h, o.host, o.port, o.timeoutMs);
      } catch (e) {
        last = (e as Error).message;
        if (e instanceof HandshakeFailure && e.fatal) {
          if (e.kind === 'auth') {
            throw new XpuDistError(`the rendezvous store at ${o.host}:${o.port} and this process do not share the job's secret: ${last}`, {
              op,
              arg: 'secret',
              kind: 'auth',
              expected: `the ${SECRET_ENV} the launcher gave every rank of this job (or the same initProcessGroup({ secret }))`,
            });
          }
          break; // something else answers there: retrying will not help
        }
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
      delay = Math.min(delay * 2, 500);
    }
    throw new XpuDistError(
      `could not reach the rendezvous store at ${o.host}:${o.port} within ${o.timeoutMs} ms (${last || 'timed out'})`,
      {
        op,
        arg: 'MASTER_ADDR/MASTER_PORT',
        kind: 'store',
        expected: 'the address and port where rank 0 listens (the same on every rank)',
        got: `${o.host}:${o.port}`,
      },
    );
  }

  /** Opens a connection and runs the handshake (store_protocol.ts): magic, challenge, proofs. */
  static #open(host: string, port: number, ms: number, secret: string | undefined): Promise<Handshake> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      s.setNoDelay(true);
      const reader = new FrameReader(HANDSHAKE_FRAME_BYTES);
      const clientNonce = newNonce();
      let stage: 'magic' | 'challenge' | 'auth' = 'magic';
      let head = Buffer.alloc(0);
      let serverNonce = Buffer.alloc(0);
      let limits: ClientLimits | null = null;
      let settled = false;
      const fail = (why: string, fatal = false, kind: 'auth' | 'store' = 'store') => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        s.destroy();
        reject(new HandshakeFailure(why, fatal, kind));
      };
      const done = (rest: (Response | ServerEvent)[]) => {
        settled = true;
        clearTimeout(timer);
        s.off('data', onData);
        s.off('close', onClose);
        s.removeAllListeners('error');
        s.on('error', noop); // 'close' follows and rejects what is pending
        resolve({ socket: s, reader, limits: limits!, rest });
      };
      /** The server's reason for refusing, as a failure: fatal for auth, retried otherwise (busy, crowded out, slow). */
      const refused = (code: ErrorCode, error: string) =>
        fail(`the store refused the connection: ${error}`, code === 'auth', code === 'auth' ? 'auth' : 'store');
      const timer = setTimeout(() => fail('no answer'), Math.max(1, ms));
      const onData = (chunk: Buffer) => {
        if (settled) return;
        if (stage === 'magic') {
          head = Buffer.concat([head, chunk]);
          const n = Math.min(head.length, MAGIC.length);
          if (!head.subarray(0, n).equals(MAGIC.subarray(0, n)))
            return fail('the service there is not an xpu store (wrong MASTER_PORT?)', true);
          if (head.length < MAGIC.length) return;
          chunk = head.subarray(MAGIC.length);
          stage = 'challenge';
        }
        let msgs: (Response | ServerEvent)[];
        try {
          msgs = reader.push(chunk).map(parseServerMessage);
        } catch (e) {
          return fail(`the store sent a malformed handshake (${(e as Error).message})`, true);
        }
        for (let i = 0; i < msgs.length && !settled; i++) {
          const m = msgs[i];
          if ('event' in m && m.event === 'error') return refused(m.code, m.error);
          if (stage === 'challenge') {
            if (!('event' in m) || m.event !== 'challenge') return fail('the store did not open with its challenge', true);
            serverNonce = Buffer.from(m.nonce, 'base64');
            limits = m.limits;
            // Answers carry values up to maxValueBytes as base64, and a timeout names the keys of a wait.
            reader.max = 2 * limits.maxFrameBytes + 4096;
            if (m.auth && secret === undefined) {
              return fail(
                `the store requires the job's secret and this process has none (set ${SECRET_ENV} as the launcher did for the other ranks, or pass initProcessGroup({ secret }))`,
                true,
                'auth',
              );
            }
            if (!m.auth && secret !== undefined) {
              return fail(
                'the store does not authenticate its clients but this process has a secret (rank 0 was started without the secret the others have?)',
                true,
                'auth',
              );
            }
            if (!m.auth) return done(msgs.slice(i + 1));
            s.write(
              encodeFrame({
                id: 0,
                op: 'auth',
                nonce: clientNonce.toString('base64'),
                proof: proof(secret!, 'client', serverNonce, clientNonce).toString('base64'),
              }),
            );
            stage = 'auth';
          } else if (stage === 'auth') {
            if ('event' in m) continue; // nothing else is pushed before hello
            if (m.id !== 0) return fail('the store answered a request this process did not make', true);
            if (!m.ok) return refused(m.code, m.error);
            if (typeof m.value !== 'string' || !proofMatches(proof(secret!, 'server', serverNonce, clientNonce), m.value)) {
              return fail(
                "the store could not prove that it knows the job's secret (another process answers on MASTER_PORT?)",
                true,
                'auth',
              );
            }
            return done(msgs.slice(i + 1));
          }
        }
      };
      const onClose = () => fail('connection closed during the handshake');
      s.once('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
      s.once('connect', () => s.write(MAGIC));
      s.on('data', onData);
      s.once('close', onClose);
    });
  }

  #error(op: string, message: string, kind: DistErrorKind, detail: { arg?: string; expected?: string; got?: string } = {}): XpuDistError {
    return new XpuDistError(message, { op, kind, ...detail });
  }

  #receive(m: Response | ServerEvent): void {
    if ('event' in m) {
      if (m.event === 'lost') {
        for (const cb of this.#onLost)
          cb(m.rank, `rank ${m.rank} left the job: its connection to the store closed before destroyProcessGroup()`);
      } else if (m.event === 'failed') {
        // Requests still waiting here (a rendezvous wait) would otherwise end later, and with a
        // vaguer reason (the store closing when rank 0 exits): they end now, with the cause.
        if (!this.#failure) {
          this.#failure = new XpuDistError(`rank ${m.rank} gave up first: ${m.error}`, { op: m.where, kind: m.kind });
          for (const [id, p] of this.#pending) {
            clearTimeout(p.timer);
            this.#pending.delete(id);
            p.reject(this.#failure);
          }
          this.#socket.unref();
        }
        for (const cb of this.#onFailed) cb(m);
      } else if (m.event === 'error') {
        this.#closeReason = {
          message: `the rendezvous store at ${this.host}:${this.port} closed this connection: ${m.error}`,
          kind: KIND[m.code],
        };
      } else {
        this.#closeReason = { message: `the rendezvous store at ${this.host}:${this.port} sent a second challenge`, kind: 'store' };
        this.#socket.destroy();
      }
      return;
    }
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    clearTimeout(p.timer);
    if (!this.#pending.size) this.#socket.unref();
    p.resolve(m);
  }

  /** Sends one request; `ms` bounds the wait on this side too (the server may be gone). */
  #request(op: string, payload: Payload, ms: number): Promise<Response> {
    // Another rank ended the job: a request now would only wait for rank 0 to close the store.
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#socket.destroyed) {
      return Promise.reject(
        this.#closeReason
          ? this.#error(op, this.#closeReason.message, this.#closeReason.kind)
          : this.#error(op, `the store at ${this.host}:${this.port} is not connected`, 'store'),
      );
    }
    const id = this.#nextId++;
    const frame = encodeFrame({ ...payload, id });
    if (frame.length - 4 > this.limits.maxFrameBytes) {
      // Sent anyway, the server would close the connection (and with it this rank's health channel).
      return Promise.reject(
        this.#error(op, 'the request is larger than the store accepts', 'limit', {
          expected: `a message of at most ${this.limits.maxFrameBytes} bytes`,
          got: `${frame.length - 4} bytes`,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        if (!this.#pending.size) this.#socket.unref();
        reject(this.#error(op, `the store at ${this.host}:${this.port} did not answer ${payload.op} within ${ms} ms`, 'timeout'));
      }, ms);
      this.#pending.set(id, { resolve, reject, timer });
      this.#socket.ref();
      this.#socket.write(frame);
    });
  }

  /**
   * Sends a request and turns an error answer into a typed error (`what` names the key, for the
   * message). Server-side waits get a little less time than the client's own deadline, so the
   * server's clearer answer arrives first.
   */
  async #ok(op: string, payload: Payload, ms: number, what: string): Promise<Response & { ok: true }> {
    const r = await this.#request(op, payload, ms + 1_000);
    if (!r.ok) {
      const e = r as ErrorResponse;
      throw this.#error(op, what ? `${what}: ${e.error}` : e.error, KIND[e.code], { arg: e.arg, expected: e.expected, got: e.got });
    }
    return r;
  }

  #key(op: string, arg: string, key: unknown): string {
    if (typeof key !== 'string')
      throw new XpuTypeError('a store key must be a string', { op, arg, expected: 'string', got: typeName(key) });
    const n = Buffer.byteLength(key, 'utf8');
    if (n > this.limits.maxKeyBytes)
      throw this.#error(op, 'the key is longer than the store accepts', 'limit', {
        arg,
        expected: `at most ${this.limits.maxKeyBytes} UTF-8 bytes`,
        got: `${n} bytes`,
      });
    return key;
  }

  #keys(op: string, keys: unknown): string[] {
    if (!Array.isArray(keys) || !keys.length)
      throw new XpuTypeError('keys must be a non-empty array of strings', { op, arg: 'keys', expected: 'string[]', got: typeName(keys) });
    return keys.map((k, i) => this.#key(op, `keys[${i}]`, k));
  }

  #timeout(op: string, ms: unknown): number {
    if (typeof ms !== 'number' || !(ms >= 0) || ms > MAX_TIMER_MS)
      throw new XpuTypeError('timeoutMs must be milliseconds', {
        op,
        arg: 'timeoutMs',
        expected: `a number in [0, ${MAX_TIMER_MS}]`,
        got: typeof ms === 'number' ? String(ms) : typeName(ms),
      });
    return ms;
  }

  async set(key: string, value: string | Uint8Array): Promise<void> {
    const op = 'store.set';
    this.#key(op, 'key', key);
    if (typeof value !== 'string' && !(value instanceof Uint8Array))
      throw new XpuTypeError('a store value must be a string or bytes', {
        op,
        arg: 'value',
        expected: 'string | Uint8Array',
        got: typeName(value),
      });
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (bytes.length > this.limits.maxValueBytes) {
      throw this.#error(op, `the value for '${key}' is larger than the store accepts`, 'limit', {
        arg: 'value',
        expected: `at most ${this.limits.maxValueBytes} bytes`,
        got: `${bytes.length} bytes`,
      });
    }
    await this.#ok(op, { op: 'set', key, value: bytes.toString('base64') }, this.timeoutMs, `key '${key}'`);
  }

  /** The value of `key`, waiting up to timeoutMs for some rank to set it. */
  async get(key: string, timeoutMs = this.timeoutMs): Promise<Buffer> {
    const op = 'store.get';
    this.#key(op, 'key', key);
    this.#timeout(op, timeoutMs);
    const r = await this.#ok(op, { op: 'get', key, timeoutMs }, timeoutMs, `key '${key}'`);
    return Buffer.from(r.value as string, 'base64');
  }

  /** Resolves when every key exists; rejects with a 'timeout' XpuDistError listing the missing ones. */
  async wait(keys: string[], timeoutMs = this.timeoutMs): Promise<void> {
    const op = 'store.wait';
    this.#keys(op, keys);
    this.#timeout(op, timeoutMs);
    await this.#ok(op, { op: 'wait', keys, timeoutMs }, timeoutMs, '');
  }

  async add(key: string, delta: number): Promise<number> {
    const op = 'store.add';
    this.#key(op, 'key', key);
    if (!Number.isSafeInteger(delta))
      throw new XpuTypeError('delta must be a safe integer', {
        op,
        arg: 'delta',
        expected: 'an integer',
        got: typeof delta === 'number' ? String(delta) : typeName(delta),
      });
    return (await this.#ok(op, { op: 'add', key, delta }, this.timeoutMs, `key '${key}'`)).value as number;
  }

  async check(keys: string[]): Promise<boolean> {
    const op = 'store.check';
    this.#keys(op, keys);
    return (await this.#ok(op, { op: 'check', keys }, this.timeoutMs, '')).value as boolean;
  }

  /** Joins the liveness roster as `rank`. */
  async hello(rank: number): Promise<void> {
    const op = 'store.hello';
    if (!Number.isInteger(rank) || rank < 0)
      throw new XpuTypeError('rank must be an integer >= 0', {
        op,
        arg: 'rank',
        expected: 'an integer >= 0',
        got: typeof rank === 'number' ? String(rank) : typeName(rank),
      });
    await this.#ok(op, { op: 'hello', rank }, this.timeoutMs, `rank ${rank}`);
  }

  /** Leaves the roster cleanly: closing after this is not reported as a lost rank. */
  async bye(): Promise<void> {
    this.#leaving = true;
    await this.#ok('store.bye', { op: 'bye' }, this.timeoutMs, '');
  }

  /** Called when another rank (or rank 0's store itself) goes away without saying bye. */
  onLost(cb: (rank: number, why: string) => void): void {
    this.#onLost.push(cb);
  }

  /** Called when another rank reports that its job broke (see reportFailure). */
  onFailed(cb: (e: FailedEvent) => void): void {
    this.#onFailed.push(cb);
  }

  /** The failure another rank reported first, as the error this rank's pending requests got; null if none. */
  get failure(): XpuDistError | null {
    return this.#failure;
  }

  /**
   * Tells the other ranks, through rank 0's store, that this rank's job broke and why, so they
   * report the same cause instead of only seeing this rank (or, for rank 0, the store) go away
   * when it exits. Fire and forget: the request is written to the socket at once, before this rank
   * can exit, and there is nothing to do if it does not arrive (the others still time out or see
   * this rank leave). Rank 0 announces through its StoreServer instead (announceFailure).
   */
  reportFailure(kind: FailureKind, where: string, error: string): void {
    if (this.#socket.destroyed || this.#leaving) return;
    this.#request('store.fail', { op: 'fail', kind, where, error: error.slice(0, MAX_FAILURE_TEXT) }, this.timeoutMs).catch(noop);
  }

  close(): void {
    this.#closing = true;
    this.#socket.destroy();
  }
}
