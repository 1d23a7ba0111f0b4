import { connect, type Socket } from 'node:net';
import { XpuDistError } from '../errors.js';
import { encodeFrame, FrameReader, MAGIC, type LostEvent, type Request, type Response } from './store_protocol.js';

/**
 * A client of the rendezvous store (store_server.ts): set/get/wait/add with timeouts, plus the
 * liveness channel (hello/bye and `lost` events). Every rank, rank 0 included, talks to the store
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
  /** The operation to name in errors (initProcessGroup). */
  op?: string;
}

export class TcpStore {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #onLost: ((rank: number, why: string) => void)[] = [];
  #nextId = 1;
  #closing = false;
  /** After bye(), rank 0 closing the store is the normal end of the job, not a lost rank. */
  #leaving = false;

  private constructor(socket: Socket, host: string, port: number, timeoutMs: number) {
    this.#socket = socket;
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try {
        msgs = reader.push(chunk);
      } catch (e) {
        socket.destroy(e as Error);
        return;
      }
      for (const m of msgs) this.#receive(m as Response | LostEvent);
    });
    socket.on('close', () => {
      const err = this.#error(`the rendezvous store at ${host}:${port} closed the connection: rank 0, which serves it, exited or failed`, 'peer-lost');
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.#pending.clear();
      // The store lives in rank 0: losing it unexpectedly means rank 0 is gone.
      if (!this.#closing && !this.#leaving) for (const cb of this.#onLost) cb(0, 'the rendezvous store (hosted by rank 0) closed its connection');
    });
    socket.unref();
  }

  /** Connects, retrying while nothing listens yet, and checks the server's magic. */
  static async connect(o: StoreConnectOptions): Promise<TcpStore> {
    const deadline = Date.now() + o.timeoutMs;
    const op = o.op ?? 'TcpStore.connect';
    let last = '';
    let delay = 20;
    while (Date.now() < deadline) {
      try {
        const socket = await TcpStore.#open(o.host, o.port, deadline - Date.now());
        return new TcpStore(socket, o.host, o.port, o.timeoutMs);
      } catch (e) {
        last = (e as Error).message;
        if (/not an xpu store/.test(last)) break; // something else answers there: retrying will not help
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
      delay = Math.min(delay * 2, 500);
    }
    throw new XpuDistError(`could not reach the rendezvous store at ${o.host}:${o.port} within ${o.timeoutMs} ms (${last || 'timed out'})`, {
      op, arg: 'MASTER_ADDR/MASTER_PORT', kind: 'store', expected: 'the address and port where rank 0 listens (the same on every rank)', got: `${o.host}:${o.port}`,
    });
  }

  static #open(host: string, port: number, ms: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      s.setNoDelay(true);
      let got = Buffer.alloc(0);
      const fail = (why: string) => {
        clearTimeout(timer);
        s.destroy();
        reject(new Error(why));
      };
      const timer = setTimeout(() => fail('no answer'), Math.max(1, ms));
      s.once('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
      s.once('connect', () => s.write(MAGIC));
      const onData = (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length < MAGIC.length) return;
        s.off('data', onData);
        if (!got.subarray(0, MAGIC.length).equals(MAGIC)) return fail('the service there is not an xpu store (wrong MASTER_PORT?)');
        clearTimeout(timer);
        s.removeAllListeners('error');
        s.on('error', () => {}); // 'close' follows and rejects what is pending
        resolve(s);
        if (got.length > MAGIC.length) s.emit('data', got.subarray(MAGIC.length));
      };
      s.on('data', onData);
      s.once('close', () => fail('connection closed during the handshake'));
    });
  }

  #error(message: string, kind: 'timeout' | 'store' | 'peer-lost', op = 'TcpStore'): XpuDistError {
    return new XpuDistError(message, { op, kind });
  }

  #receive(m: Response | LostEvent): void {
    if ('event' in m) {
      for (const cb of this.#onLost) cb(m.rank, `rank ${m.rank} left the job: its connection to the store closed before destroyProcessGroup()`);
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
  #request(payload: Payload, ms: number): Promise<Response> {
    if (this.#socket.destroyed) return Promise.reject(this.#error(`the store at ${this.host}:${this.port} is not connected`, 'store'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        if (!this.#pending.size) this.#socket.unref();
        reject(this.#error(`the store at ${this.host}:${this.port} did not answer ${payload.op} within ${ms} ms`, 'timeout'));
      }, ms);
      this.#pending.set(id, { resolve, reject, timer });
      this.#socket.ref();
      this.#socket.write(encodeFrame({ ...payload, id }));
    });
  }

  /** Server-side waits get a little less time than the client's own deadline, so the server's clearer answer arrives first. */
  async #ok(payload: Payload, ms: number, what: string): Promise<Response & { ok: true }> {
    const r = await this.#request(payload, ms + 1_000);
    if (!r.ok) throw this.#error(`${what}: ${r.error}`, r.code === 'timeout' ? 'timeout' : 'store');
    return r;
  }

  async set(key: string, value: string | Uint8Array): Promise<void> {
    const b64 = Buffer.from(typeof value === 'string' ? Buffer.from(value, 'utf8') : value).toString('base64');
    await this.#ok({ op: 'set', key, value: b64 }, this.timeoutMs, `store.set('${key}')`);
  }

  /** The value of `key`, waiting up to timeoutMs for some rank to set it. */
  async get(key: string, timeoutMs = this.timeoutMs): Promise<Buffer> {
    const r = await this.#ok({ op: 'get', key, timeoutMs }, timeoutMs, `store.get('${key}')`);
    return Buffer.from(r.value as string, 'base64');
  }

  /** Resolves when every key exists; rejects with a 'timeout' XpuDistError listing the missing ones. */
  async wait(keys: string[], timeoutMs = this.timeoutMs): Promise<void> {
    await this.#ok({ op: 'wait', keys, timeoutMs }, timeoutMs, 'store.wait');
  }

  async add(key: string, delta: number): Promise<number> {
    return (await this.#ok({ op: 'add', key, delta }, this.timeoutMs, `store.add('${key}')`)).value as number;
  }

  async check(keys: string[]): Promise<boolean> {
    return (await this.#ok({ op: 'check', keys }, this.timeoutMs, 'store.check')).value as boolean;
  }

  /** Joins the liveness roster as `rank`. */
  async hello(rank: number): Promise<void> {
    await this.#ok({ op: 'hello', rank }, this.timeoutMs, 'store.hello');
  }

  /** Leaves the roster cleanly: closing after this is not reported as a lost rank. */
  async bye(): Promise<void> {
    this.#leaving = true;
    await this.#ok({ op: 'bye' }, this.timeoutMs, 'store.bye');
  }

  /** Called when another rank (or rank 0's store itself) goes away without saying bye. */
  onLost(cb: (rank: number, why: string) => void): void {
    this.#onLost.push(cb);
  }

  close(): void {
    this.#closing = true;
    this.#socket.destroy();
  }
}
