import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameReader, MAGIC, newNonce, proof } from '../src/distributed/store_protocol.js';

/**
 * A raw client of the rendezvous store for tests/store_hardening.test.ts: it speaks the wire
 * protocol by hand, so a test can send what TcpStore never would (malformed frames, requests
 * before authenticating, oversized frames) and see exactly what the server answers and when it
 * closes the connection.
 */
export class RawConn {
  readonly socket: Socket;
  /** Every frame the server sent, in order (the challenge first). */
  readonly frames: unknown[] = [];
  /** Resolves when the server (or anything) closes the connection. */
  readonly closed: Promise<void>;
  #head = Buffer.alloc(0);
  #gotMagic = false;
  readonly #reader = new FrameReader(64 << 20);
  #wake: (() => void)[] = [];
  #isClosed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#isClosed = true;
        this.#wake.splice(0).forEach((f) => f());
        resolve();
      }),
    );
    socket.on('data', (chunk: Buffer) => {
      if (!this.#gotMagic) {
        this.#head = Buffer.concat([this.#head, chunk]);
        if (this.#head.length < MAGIC.length) return;
        this.#gotMagic = true;
        chunk = this.#head.subarray(MAGIC.length);
      }
      this.frames.push(...this.#reader.push(chunk));
      this.#wake.splice(0).forEach((f) => f());
    });
  }

  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** The n-th frame from the server (0: the challenge), waiting for it; undefined if the connection closes first. */
  async frame(n: number): Promise<Record<string, unknown> | undefined> {
    while (this.frames.length <= n && !this.#isClosed) await new Promise<void>((r) => this.#wake.push(r));
    return this.frames[n] as Record<string, unknown> | undefined;
  }

  send(msg: unknown): void {
    this.socket.write(encodeFrame(msg));
  }

  /** A length prefix and then these bytes as the frame body (for bodies that are not JSON). */
  sendBody(body: Buffer | string, declaredLength?: number): void {
    const b = Buffer.from(body);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(declaredLength ?? b.length, 0);
    this.socket.write(Buffer.concat([head, b]));
  }

  /** Sends the magic and reads the challenge; with `secret`, authenticates and checks the answer. */
  async handshake(secret?: string): Promise<{ challenge: Record<string, unknown> }> {
    this.socket.write(MAGIC);
    const challenge = await this.frame(0);
    if (!challenge) throw new Error('closed before the challenge');
    if (secret !== undefined) {
      const clientNonce = newNonce();
      const serverNonce = Buffer.from(challenge.nonce as string, 'base64');
      this.send({
        id: 0,
        op: 'auth',
        nonce: clientNonce.toString('base64'),
        proof: proof(secret, 'client', serverNonce, clientNonce).toString('base64'),
      });
      const r = await this.frame(1);
      if (!r || r.ok !== true) throw new Error(`authentication failed: ${JSON.stringify(r)}`);
      if (r.value !== proof(secret, 'server', serverNonce, clientNonce).toString('base64')) throw new Error('the server proof is wrong');
    }
    return { challenge };
  }

  /** Sends a request and waits for the frame answering its id (or the close). */
  async request(msg: { id: number } & Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const from = this.frames.length;
    this.send(msg);
    for (let i = from; ; i++) {
      const f = await this.frame(i);
      if (!f || f.id === msg.id) return f;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}
