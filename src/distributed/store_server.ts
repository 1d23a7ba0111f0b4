import { createServer, type Server, type Socket } from 'node:net';
import { XpuDistError } from '../errors.js';
import { checkSecret } from './store_secret.js';
import { HANDSHAKE_FRAME_BYTES, resolveStoreLimits, type StoreLimits } from './store_limits.js';
import {
  base64Bytes,
  encodeFrame,
  FrameError,
  FrameReader,
  MAGIC,
  newNonce,
  parseRequest,
  proof,
  proofMatches,
  requestId,
  SchemaError,
  MAX_FAILURE_TEXT,
  type ErrorCode,
  type ErrorResponse,
  type FailureKind,
  type Request,
  type Response,
  type ServerEvent,
} from './store_protocol.js';

type FailedEvent = Extract<ServerEvent, { event: 'failed' }>;

/**
 * The rendezvous store's server, run by rank 0 (as PyTorch's TCPStore on the master): a key-value
 * map with blocking get/wait, counters, and a liveness roster. It listens on MASTER_ADDR only,
 * never on every interface, and drops connections that do not open with the protocol's magic.
 *
 * Liveness: a rank says hello(rank) once; if its connection closes before it said bye, the server
 * tells every other rank (a `lost` event), so their pending collectives fail at once with the
 * rank's number instead of waiting for their timeout. A rank whose job broke first (a call that
 * timed out) says why before it exits (`fail`, or announceFailure() in rank 0), and the server
 * passes that on (a `failed` event): so every rank reports the cause, whichever rank's clock ran
 * out first, instead of some of them seeing only the rank (or rank 0's store) go away.
 *
 * Nothing outside the job can end it through the store: with a secret (every job `xpu run`
 * starts), a connection must prove it knows the secret before any request (store_protocol.ts);
 * every frame is checked against its schema; sizes, connections and idle time are bounded
 * (store_limits.ts). Whatever one connection does wrong closes that connection only, and each
 * kind of offence is logged once (a flood of them must not flood rank 0's stderr either).
 */

export interface StoreServerOptions {
  /**
   * The job's shared secret: every client must prove it knows it (store_protocol.ts). Without one,
   * any process that can reach host:port may use the store (see rendezvous.ts for when that is).
   */
  secret?: string;
  /** Overrides of DEFAULT_STORE_LIMITS. */
  limits?: Partial<StoreLimits>;
  /** The job's size: hello with a rank outside [0, worldSize) is refused. */
  worldSize?: number;
  /** Where the one line per kind of rejected connection goes (default: stderr). */
  log?: (line: string) => void;
}

/** Why the server closed connections, with how many (StoreServer.stats). */
export type DropReason = 'not-protocol' | 'handshake-timeout' | 'crowded' | 'auth' | 'bad-frame' | 'busy' | 'idle' | 'internal';

export interface StoreStats {
  /** Open connections, authenticated or not. */
  connections: number;
  /** Of which still in the handshake. */
  handshaking: number;
  keys: number;
  /** Keys and values, in bytes (what maxStoredBytes bounds). */
  storedBytes: number;
  /** Connections closed by the server, by reason. */
  dropped: Partial<Record<DropReason, number>>;
  /** Requests refused with an error and the connection kept (a value too large, a full store...). */
  refused: number;
}

interface Conn {
  readonly socket: Socket;
  readonly remote: string;
  stage: 'magic' | 'auth' | 'ready';
  head: Buffer;
  readonly reader: FrameReader;
  readonly nonce: Buffer;
  /** The handshake deadline, then the idle timer. */
  timer: NodeJS.Timeout | null;
  /** get/wait requests of this connection still waiting. */
  waiting: Set<Waiter>;
  roster: { rank: number; bye: boolean } | null;
  dropped: boolean;
}

interface Waiter {
  keys: string[];
  timer: NodeJS.Timeout;
  done: () => void;
}

const noop = () => {};

export class StoreServer {
  readonly #server: Server;
  readonly #limits: StoreLimits;
  readonly #secret: string | undefined;
  readonly #worldSize: number | undefined;
  readonly #log: (line: string) => void;
  readonly #data = new Map<string, Buffer>();
  #storedBytes = 0;
  readonly #waiters = new Set<Waiter>();
  readonly #conns = new Set<Conn>();
  /** Connections still in the handshake, oldest first (a Set keeps insertion order). */
  readonly #handshaking = new Set<Conn>();
  #ready = 0;
  readonly #dropped: Partial<Record<DropReason, number>> = {};
  #refused = 0;
  /** The first failure announced: a rank that joins later is told at once (see hello). */
  #failure: FailedEvent | null = null;
  readonly #logged = new Set<string>();
  #closed = false;

  private constructor(server: Server, o: StoreServerOptions, limits: StoreLimits) {
    this.#server = server;
    this.#limits = limits;
    this.#secret = o.secret;
    this.#worldSize = o.worldSize;
    this.#log = o.log ?? ((line) => process.stderr.write(`[xpu.dist] ${line}\n`));
  }

  /** Listens on host:port (port 0 picks a free one). */
  static async listen(host: string, port: number, o: StoreServerOptions = {}): Promise<StoreServer> {
    const op = 'StoreServer.listen';
    const limits = resolveStoreLimits(op, o.limits);
    if (o.secret !== undefined) checkSecret(op, 'secret', o.secret);
    return new Promise((resolve, reject) => {
      const server = createServer();
      const store = new StoreServer(server, o, limits);
      server.on('connection', (s) => store.#accept(s));
      server.once('error', (e: NodeJS.ErrnoException) => {
        const why =
          e.code === 'EADDRINUSE'
            ? 'the port is already in use'
            : e.code === 'EADDRNOTAVAIL'
              ? 'the address is not one of this machine'
              : e.message;
        reject(
          new XpuDistError(`rank 0 could not start the rendezvous store on ${host}:${port}: ${why}`, {
            op: 'initProcessGroup',
            arg: 'MASTER_ADDR/MASTER_PORT',
            kind: 'store',
            expected: "a free port on an address of rank 0's machine",
            got: `${host}:${port}`,
          }),
        );
      });
      server.listen({ host, port }, () => {
        // Rank 0's event loop must not stay alive for the store alone (see store.ts on unref).
        server.unref();
        // After listening, an accept error (EMFILE under a flood) must not become an uncaught 'error'.
        server.on('error', noop);
        resolve(store);
      });
    });
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  get limits(): Readonly<StoreLimits> {
    return this.#limits;
  }

  /** Whether clients must prove they know the job's secret. */
  get authenticates(): boolean {
    return this.#secret !== undefined;
  }

  /** Ranks that said hello and have not said bye (still connected). */
  liveRanks(): number[] {
    return [...this.#conns].filter((c) => c.roster && !c.roster.bye).map((c) => c.roster!.rank);
  }

  stats(): StoreStats {
    return {
      connections: this.#conns.size,
      handshaking: this.#handshaking.size,
      keys: this.#data.size,
      storedBytes: this.#storedBytes,
      dropped: { ...this.#dropped },
      refused: this.#refused,
    };
  }

  /** Ends every connection after what was written to it (the last replies) has gone out. */
  close(): void {
    this.#closed = true;
    for (const c of this.#conns) c.socket.end();
    this.#server.close();
    const sockets = [...this.#conns].map((c) => c.socket);
    setTimeout(() => sockets.forEach((s) => s.destroy()), 1_000).unref();
  }

  #accept(s: Socket): void {
    s.on('error', noop); // 'close' follows; a reset by the peer is its own business
    if (this.#closed) {
      s.destroy();
      return;
    }
    s.unref();
    s.setNoDelay(true);
    const c: Conn = {
      socket: s,
      remote: `${s.remoteAddress}:${s.remotePort}`,
      stage: 'magic',
      head: Buffer.alloc(0),
      reader: new FrameReader(HANDSHAKE_FRAME_BYTES),
      nonce: newNonce(),
      timer: null,
      waiting: new Set(),
      roster: null,
      dropped: false,
    };
    this.#conns.add(c);
    this.#handshaking.add(c);
    if (this.#handshaking.size > this.#limits.maxHandshakingConnections) {
      const oldest = this.#handshaking.values().next().value!;
      this.#drop(
        oldest,
        'crowded',
        `more than ${this.#limits.maxHandshakingConnections} connections were in the handshake at once: the oldest is closed`,
      );
    }
    c.timer = setTimeout(
      () =>
        this.#drop(
          c,
          'handshake-timeout',
          `no ${c.stage === 'magic' ? 'protocol magic' : 'authentication'} within ${this.#limits.handshakeMs} ms`,
          'timeout',
        ),
      this.#limits.handshakeMs,
    );
    c.timer.unref();
    s.on('data', (chunk: Buffer) => {
      try {
        this.#data_(c, chunk);
      } catch (e) {
        // A bug of ours, not the client's: still, one connection must not take rank 0 down.
        this.#drop(c, 'internal', `the store failed on a message: ${(e as Error).message}`, 'bad-request');
      }
    });
    s.on('close', () => this.#closedConn(c));
  }

  #data_(c: Conn, chunk: Buffer): void {
    if (c.dropped) return;
    if (c.stage === 'magic') {
      c.head = Buffer.concat([c.head, chunk]);
      const n = Math.min(c.head.length, MAGIC.length);
      if (!MAGIC.subarray(0, n).equals(c.head.subarray(0, n))) {
        this.#drop(c, 'not-protocol', 'it did not open with the protocol magic'); // say nothing, keep nothing
        return;
      }
      if (c.head.length < MAGIC.length) return;
      chunk = c.head.subarray(MAGIC.length);
      c.head = Buffer.alloc(0);
      const challenge: ServerEvent = {
        event: 'challenge',
        nonce: c.nonce.toString('base64'),
        auth: this.#secret !== undefined,
        limits: {
          maxFrameBytes: this.#limits.maxFrameBytes,
          maxKeyBytes: this.#limits.maxKeyBytes,
          maxValueBytes: this.#limits.maxValueBytes,
        },
      };
      c.socket.write(Buffer.concat([MAGIC, encodeFrame(challenge)]));
      if (this.#secret === undefined) {
        if (!this.#admit(c)) return;
      } else c.stage = 'auth';
    }
    let msgs: unknown[];
    try {
      msgs = c.reader.push(chunk);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      this.#drop(
        c,
        c.stage === 'auth' ? 'auth' : 'bad-frame',
        e.message,
        c.stage === 'auth' ? 'auth' : e.tooLarge ? 'limit' : 'bad-request',
      );
      return;
    }
    for (const m of msgs) {
      if (c.dropped) return;
      if (c.stage === 'auth') {
        this.#authenticate(c, m);
        continue;
      }
      let req: Request;
      try {
        req = parseRequest(m, this.#limits.maxKeyBytes);
      } catch (e) {
        if (!(e instanceof SchemaError)) throw e;
        this.#drop(c, 'bad-frame', `a malformed request: ${e.message}`, 'bad-request', requestId(m));
        return;
      }
      c.timer?.refresh();
      this.#handle(c, req);
    }
  }

  #authenticate(c: Conn, m: unknown): void {
    let req: Request;
    try {
      req = parseRequest(m, this.#limits.maxKeyBytes);
    } catch (e) {
      if (!(e instanceof SchemaError)) throw e;
      this.#drop(c, 'auth', `a malformed first message: ${e.message}`, 'auth', requestId(m));
      return;
    }
    if (req.op !== 'auth') {
      this.#drop(c, 'auth', `a '${req.op}' request before authenticating`, 'auth', req.id);
      return;
    }
    const clientNonce = Buffer.from(req.nonce, 'base64');
    if (!proofMatches(proof(this.#secret!, 'client', c.nonce, clientNonce), req.proof)) {
      this.#drop(c, 'auth', "a wrong secret (not the job's XPU_DIST_SECRET)", 'auth', req.id);
      return;
    }
    if (!this.#admit(c)) return;
    this.#reply(c, { id: req.id, ok: true, value: proof(this.#secret!, 'server', c.nonce, clientNonce).toString('base64') });
  }

  /** The handshake is done: counts the connection in, or refuses it when the store is full. */
  #admit(c: Conn): boolean {
    this.#handshaking.delete(c);
    if (this.#ready >= this.#limits.maxConnections) {
      this.#drop(c, 'busy', `the store already serves ${this.#limits.maxConnections} connections`, 'busy');
      return false;
    }
    this.#ready++;
    c.stage = 'ready';
    c.reader.max = this.#limits.maxFrameBytes;
    clearTimeout(c.timer!);
    c.timer = setTimeout(() => this.#idle(c), this.#limits.idleMs);
    c.timer.unref();
    return true;
  }

  #idle(c: Conn): void {
    // A live rank's connection is the job's health channel, and a waiting get/wait is not idle.
    if ((c.roster && !c.roster.bye) || c.waiting.size) {
      c.timer?.refresh();
      return;
    }
    this.#drop(c, 'idle', `no request for ${this.#limits.idleMs} ms from a connection that is not a rank of the job`, 'idle');
  }

  /**
   * Closes one connection. `code` tells a client that got past the magic why (an error response
   * to `id` when there is one, so its pending call fails with the reason, else an error event).
   */
  #drop(c: Conn, reason: DropReason, why: string, code?: ErrorCode, id?: number): void {
    if (c.dropped) return;
    c.dropped = true;
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
    if (!this.#logged.has(reason)) {
      this.#logged.add(reason);
      this.#log(
        `rank 0's rendezvous store closed a connection from ${c.remote}: ${why} (further connections closed for this reason are counted, not logged)`,
      );
    }
    if (code && c.stage !== 'magic' && !c.socket.destroyed) {
      const msg: ErrorResponse | ServerEvent =
        id !== undefined ? { id, ok: false, code, error: why } : { event: 'error', code, error: why };
      c.socket.end(encodeFrame(msg));
      // A peer that never reads or never closes its side must not keep the socket.
      setTimeout(() => c.socket.destroy(), 1_000).unref();
    } else c.socket.destroy();
  }

  #closedConn(c: Conn): void {
    if (c.timer) clearTimeout(c.timer);
    this.#conns.delete(c);
    this.#handshaking.delete(c);
    if (c.stage === 'ready') this.#ready--;
    for (const w of c.waiting) {
      clearTimeout(w.timer);
      this.#waiters.delete(w);
    }
    c.waiting.clear();
    if (c.roster && !c.roster.bye) this.#broadcast({ event: 'lost', rank: c.roster.rank });
  }

  #broadcast(msg: ServerEvent, except?: number): void {
    const frame = encodeFrame(msg);
    for (const c of this.#conns)
      if (c.roster && !c.roster.bye && c.roster.rank !== except && !c.dropped && !c.socket.destroyed) c.socket.write(frame);
  }

  /**
   * Tells every live rank but `rank` that rank's job broke, and why. Rank 0 calls this for its own
   * failures: the frames are written at once (a socket write to a connected peer goes to the
   * kernel before this returns), so they are on their way before rank 0 exits and closes the store.
   */
  announceFailure(rank: number, kind: FailureKind, where: string, error: string): void {
    const msg: FailedEvent = { event: 'failed', rank, kind, where, error: error.slice(0, MAX_FAILURE_TEXT) };
    this.#failure ??= msg;
    this.#broadcast(msg, rank);
  }

  /** Sends one event to one connection (a rank that joined after the event was broadcast). */
  #tell(c: Conn, ev: ServerEvent): void {
    if (!c.dropped && !c.socket.destroyed) c.socket.write(encodeFrame(ev));
  }

  #reply(c: Conn, r: Response): void {
    if (c.dropped || c.socket.destroyed) return;
    c.socket.write(encodeFrame(r));
    c.timer?.refresh();
  }

  /** Answers a request with an error and keeps the connection (a limit, not a broken client). */
  #refuse(c: Conn, id: number, code: ErrorCode, error: string, detail: { arg?: string; expected?: string; got?: string } = {}): void {
    this.#refused++;
    this.#reply(c, { id, ok: false, code, error, ...detail });
  }

  #has(keys: string[]): boolean {
    return keys.every((k) => this.#data.has(k));
  }

  /** Calls done() once every key exists, or answers a timeout after timeoutMs. */
  #whenPresent(c: Conn, id: number, keys: string[], timeoutMs: number, done: () => void): void {
    if (this.#has(keys)) return done();
    if (c.waiting.size >= this.#limits.maxPendingRequests) {
      return this.#refuse(c, id, 'limit', `this connection already has ${c.waiting.size} get/wait requests waiting`, {
        expected: `at most ${this.#limits.maxPendingRequests} at once`,
        got: String(c.waiting.size + 1),
      });
    }
    const w: Waiter = {
      keys,
      timer: setTimeout(() => {
        this.#waiters.delete(w);
        c.waiting.delete(w);
        const missing = keys.filter((k) => !this.#data.has(k));
        this.#reply(c, { id, ok: false, code: 'timeout', error: `still missing after ${timeoutMs} ms: ${missing.join(', ')}` });
      }, timeoutMs),
      done: () => {
        clearTimeout(w.timer);
        this.#waiters.delete(w);
        c.waiting.delete(w);
        done();
      },
    };
    w.timer.unref();
    this.#waiters.add(w);
    c.waiting.add(w);
  }

  /** Stores key = value unless that passes maxStoredBytes; false (and the refusal sent) if it would. */
  #set(c: Conn, id: number, key: string, value: Buffer): boolean {
    const old = this.#data.get(key);
    const grow = old ? value.length - old.length : Buffer.byteLength(key, 'utf8') + value.length;
    if (this.#storedBytes + grow > this.#limits.maxStoredBytes) {
      this.#refuse(c, id, 'limit', `the store is full: ${this.#storedBytes} bytes stored, this would add ${grow}`, {
        arg: 'value',
        expected: `at most ${this.#limits.maxStoredBytes} bytes in the store`,
        got: `${this.#storedBytes + grow} bytes`,
      });
      return false;
    }
    this.#data.set(key, value);
    this.#storedBytes += grow;
    for (const w of [...this.#waiters]) if (this.#has(w.keys)) w.done();
    return true;
  }

  #handle(c: Conn, m: Request): void {
    switch (m.op) {
      case 'auth':
        return this.#refuse(c, m.id, 'bad-request', 'already authenticated');
      case 'set': {
        const n = base64Bytes(m.value);
        if (n > this.#limits.maxValueBytes) {
          return this.#refuse(c, m.id, 'limit', 'the value is too large', {
            arg: 'value',
            expected: `at most ${this.#limits.maxValueBytes} bytes`,
            got: `${n} bytes`,
          });
        }
        if (this.#set(c, m.id, m.key, Buffer.from(m.value, 'base64'))) this.#reply(c, { id: m.id, ok: true });
        return;
      }
      case 'get':
        return this.#whenPresent(c, m.id, [m.key], m.timeoutMs, () =>
          this.#reply(c, { id: m.id, ok: true, value: this.#data.get(m.key)!.toString('base64') }),
        );
      case 'wait':
        return this.#whenPresent(c, m.id, m.keys, m.timeoutMs, () => this.#reply(c, { id: m.id, ok: true }));
      case 'add': {
        const old = this.#data.get(m.key);
        const text = old?.toString('latin1') ?? '0';
        if (!/^-?\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
          return this.#refuse(c, m.id, 'bad-request', `key '${m.key}' does not hold a counter`, {
            arg: 'key',
            expected: 'a key set only by add()',
            got: `a ${old!.length}-byte value`,
          });
        }
        const v = Number(text) + m.delta;
        if (!Number.isSafeInteger(v)) {
          return this.#refuse(c, m.id, 'limit', 'the counter would leave the safe integer range', {
            arg: 'delta',
            expected: `a sum within ±${Number.MAX_SAFE_INTEGER}`,
            got: `${text} + ${m.delta}`,
          });
        }
        if (this.#set(c, m.id, m.key, Buffer.from(String(v), 'latin1'))) this.#reply(c, { id: m.id, ok: true, value: v });
        return;
      }
      case 'check':
        return this.#reply(c, { id: m.id, ok: true, value: this.#has(m.keys) });
      case 'hello': {
        if (c.roster)
          return this.#refuse(c, m.id, 'bad-request', `this connection already joined as rank ${c.roster.rank}`, { arg: 'rank' });
        if (this.#worldSize !== undefined && m.rank >= this.#worldSize) {
          return this.#refuse(c, m.id, 'bad-request', 'no such rank in this job', {
            arg: 'rank',
            expected: `a rank in [0, ${this.#worldSize})`,
            got: String(m.rank),
          });
        }
        const other = [...this.#conns].find((o) => o.roster && !o.roster.bye && o.roster.rank === m.rank);
        if (other) {
          return this.#refuse(
            c,
            m.id,
            'conflict',
            `rank ${m.rank} already joined from ${other.remote} (two processes started as the same rank?)`,
            { arg: 'rank', expected: 'a rank no live process holds', got: String(m.rank) },
          );
        }
        c.roster = { rank: m.rank, bye: false };
        this.#reply(c, { id: m.id, ok: true });
        // A rank that arrives after another gave up (its start was slow) learns why now, not
        // from the store closing a moment later when rank 0 exits ('peer-lost', without the cause).
        if (this.#failure && this.#failure.rank !== m.rank) this.#tell(c, this.#failure);
        return;
      }
      case 'bye':
        if (c.roster) c.roster.bye = true;
        return this.#reply(c, { id: m.id, ok: true });
      case 'fail':
        // Only a rank of the job may end it this way (with a secret, only a process that has it).
        if (!c.roster || c.roster.bye)
          return this.#refuse(c, m.id, 'bad-request', 'only a rank of the job (after hello) can report a failure');
        this.announceFailure(c.roster.rank, m.kind, m.where, m.error);
        return this.#reply(c, { id: m.id, ok: true });
    }
  }
}
