/**
 * The wire format of the rendezvous store (store.ts is the client, store_server.ts the server).
 *
 * A client opens with the 8-byte MAGIC and the server answers with the same 8 bytes, so each side
 * knows at once that it reached the other and not some unrelated service on MASTER_PORT; a
 * connection that opens with anything else is closed by the server. After that both sides send
 * frames: a little-endian u32 byte length, then that many bytes of UTF-8 JSON. Binary values
 * travel as base64 (they are small: oneCCL's 256-byte KVS address, counters, flags).
 */

export const MAGIC = Buffer.from('XPUSTOR1', 'latin1');
/** Far above any real message; a peer that announces more is not speaking this protocol. */
export const MAX_FRAME = 4 << 20;
/** How long the server waits for a new connection's magic before closing it. */
export const HANDSHAKE_MS = 5_000;

export type Request =
  | { id: number; op: 'set'; key: string; value: string }
  | { id: number; op: 'get'; key: string; timeoutMs: number }
  | { id: number; op: 'wait'; keys: string[]; timeoutMs: number }
  | { id: number; op: 'add'; key: string; delta: number }
  | { id: number; op: 'check'; keys: string[] }
  | { id: number; op: 'hello'; rank: number }
  | { id: number; op: 'bye' };

export type Response = { id: number; ok: true; value?: string | number | boolean } | { id: number; ok: false; code: 'timeout' | 'bad-request'; error: string };

/** Pushed by the server: a rank's connection closed before it said bye (it died or exited). */
export interface LostEvent {
  event: 'lost';
  rank: number;
}

export function encodeFrame(msg: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames; throws on a frame longer than MAX_FRAME or bad JSON. */
export class FrameReader {
  #buf: Buffer<ArrayBufferLike> = Buffer.alloc(0);

  push(chunk: Buffer): unknown[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    const out: unknown[] = [];
    while (this.#buf.length >= 4) {
      const n = this.#buf.readUInt32LE(0);
      if (n > MAX_FRAME) throw new Error(`frame of ${n} bytes exceeds ${MAX_FRAME}`);
      if (this.#buf.length < 4 + n) break;
      out.push(JSON.parse(this.#buf.subarray(4, 4 + n).toString('utf8')));
      this.#buf = this.#buf.subarray(4 + n);
    }
    return out;
  }
}
