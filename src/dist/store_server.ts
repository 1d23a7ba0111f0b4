import { createServer, type Server, type Socket } from 'node:net';
import { XpuDistError } from '../errors.js';
import { encodeFrame, FrameReader, HANDSHAKE_MS, MAGIC, type Request, type Response } from './store_protocol.js';

/**
 * The rendezvous store's server, run by rank 0 (as PyTorch's TCPStore on the master): a key-value
 * map with blocking get/wait, counters, and a liveness roster. It listens on MASTER_ADDR only,
 * never on every interface, and drops connections that do not open with the protocol's magic.
 *
 * Liveness: a rank says hello(rank) once; if its connection closes before it said bye, the server
 * tells every other rank (a `lost` event), so their pending collectives fail at once with the
 * rank's number instead of waiting for their timeout.
 */
export class StoreServer {
  readonly #server: Server;
  readonly #data = new Map<string, Buffer>();
  readonly #waiters = new Set<{ keys: string[]; done: () => void }>();
  /** Ranks that said hello, by socket, and whether they said bye. */
  readonly #roster = new Map<Socket, { rank: number; bye: boolean }>();
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listens on host:port (port 0 picks a free one). */
  static listen(host: string, port: number): Promise<StoreServer> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      const store = new StoreServer(server);
      server.on('connection', (s) => store.#accept(s));
      server.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'EADDRINUSE' ? 'the port is already in use' : e.code === 'EADDRNOTAVAIL' ? 'the address is not one of this machine' : e.message;
        reject(new XpuDistError(`rank 0 could not start the rendezvous store on ${host}:${port}: ${why}`, {
          op: 'initProcessGroup', arg: 'MASTER_ADDR/MASTER_PORT', kind: 'store', expected: 'a free port on an address of rank 0\'s machine', got: `${host}:${port}`,
        }));
      });
      server.listen({ host, port }, () => {
        // Rank 0's event loop must not stay alive for the store alone (see store.ts on unref).
        server.unref();
        resolve(store);
      });
    });
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** Ranks that said hello and have not said bye (still connected). */
  liveRanks(): number[] {
    return [...this.#roster.values()].filter((r) => !r.bye).map((r) => r.rank);
  }

  /** Ends every connection after what was written to it (the last replies) has gone out. */
  close(): void {
    for (const s of this.#sockets) s.end();
    this.#server.close();
    const sockets = [...this.#sockets];
    setTimeout(() => sockets.forEach((s) => s.destroy()), 1_000).unref();
  }

  #accept(s: Socket): void {
    s.unref();
    this.#sockets.add(s);
    s.setNoDelay(true);
    let greeted = false;
    let head = Buffer.alloc(0);
    const reader = new FrameReader();
    const timer = setTimeout(() => s.destroy(), HANDSHAKE_MS).unref();
    s.on('data', (chunk: Buffer) => {
      if (!greeted) {
        head = Buffer.concat([head, chunk]);
        if (head.length < MAGIC.length) {
          if (!MAGIC.subarray(0, head.length).equals(head)) s.destroy();
          return;
        }
        if (!head.subarray(0, MAGIC.length).equals(MAGIC)) {
          s.destroy(); // not our protocol: say nothing, keep nothing
          return;
        }
        greeted = true;
        clearTimeout(timer);
        s.write(MAGIC);
        chunk = head.subarray(MAGIC.length);
        if (!chunk.length) return;
      }
      let msgs: unknown[];
      try {
        msgs = reader.push(chunk);
      } catch {
        s.destroy();
        return;
      }
      for (const m of msgs) this.#handle(s, m as Request);
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      this.#sockets.delete(s);
      const who = this.#roster.get(s);
      this.#roster.delete(s);
      if (who && !who.bye) this.#broadcast({ event: 'lost', rank: who.rank });
    });
  }

  #broadcast(msg: unknown): void {
    for (const [s, r] of this.#roster) if (!r.bye) s.write(encodeFrame(msg));
  }

  #reply(s: Socket, r: Response): void {
    if (!s.destroyed) s.write(encodeFrame(r));
  }

  #has(keys: string[]): boolean {
    return keys.every((k) => this.#data.has(k));
  }

  /** Calls done() once every key exists, or answers a timeout after timeoutMs. */
  #whenPresent(s: Socket, id: number, keys: string[], timeoutMs: number, done: () => void): void {
    if (this.#has(keys)) return done();
    const w = {
      keys,
      done: () => {
        clearTimeout(timer);
        this.#waiters.delete(w);
        done();
      },
    };
    const timer = setTimeout(() => {
      this.#waiters.delete(w);
      const missing = keys.filter((k) => !this.#data.has(k));
      this.#reply(s, { id, ok: false, code: 'timeout', error: `still missing after ${timeoutMs} ms: ${missing.join(', ')}` });
    }, timeoutMs);
    timer.unref();
    this.#waiters.add(w);
  }

  #set(key: string, value: Buffer): void {
    this.#data.set(key, value);
    for (const w of [...this.#waiters]) if (this.#has(w.keys)) w.done();
  }

  #handle(s: Socket, m: Request): void {
    switch (m.op) {
      case 'set':
        this.#set(m.key, Buffer.from(m.value, 'base64'));
        return this.#reply(s, { id: m.id, ok: true });
      case 'get':
        return this.#whenPresent(s, m.id, [m.key], m.timeoutMs, () => this.#reply(s, { id: m.id, ok: true, value: this.#data.get(m.key)!.toString('base64') }));
      case 'wait':
        return this.#whenPresent(s, m.id, m.keys, m.timeoutMs, () => this.#reply(s, { id: m.id, ok: true }));
      case 'add': {
        const v = Number(this.#data.get(m.key)?.toString() ?? '0') + m.delta;
        this.#set(m.key, Buffer.from(String(v)));
        return this.#reply(s, { id: m.id, ok: true, value: v });
      }
      case 'check':
        return this.#reply(s, { id: m.id, ok: true, value: this.#has(m.keys) });
      case 'hello':
        this.#roster.set(s, { rank: m.rank, bye: false });
        return this.#reply(s, { id: m.id, ok: true });
      case 'bye': {
        const r = this.#roster.get(s);
        if (r) r.bye = true;
        return this.#reply(s, { id: m.id, ok: true });
      }
      default:
        this.#reply(s, { id: (m as { id: number }).id, ok: false, code: 'bad-request', error: `unknown op ${(m as { op: string }).op}` });
    }
  }
}
