// A hostile (or broken) local process for the store-hardening job test (tests/store_hardening.test.ts):
// started by rank 1 of a running job, it attacks rank 0's rendezvous store at MASTER_ADDR:MASTER_PORT
// and prints one JSON line of what it saw, `{ attack, seen: [{ what, code, closed }] }`.
// Its environment has no XPU_DIST_SECRET; MEMBER_SECRET, when given, is the job's secret, for the
// attacks that play a buggy member of the job (malformed and oversized requests after authenticating).
//   malformed  null, a set with a numeric value, a wait with keys: 5: before and after authenticating
//   spoof      hello as rank 1 with no proof, a wrong proof, TcpStore without / with a wrong secret
//   flood      200 connections that stay silent, stop after the magic, or stop inside a frame
//   oversize   a large first frame; as a member: a value above maxValueBytes, a frame above
//              maxFrameBytes, values until the store is full (then emptied again for the job)
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { TcpStore } from '../../dist/src/distributed/store.js';
import { encodeFrame, FrameReader, MAGIC, newNonce, proof } from '../../dist/src/distributed/store_protocol.js';

const attack = process.argv[2];
const host = process.env.MASTER_ADDR;
const port = Number(process.env.MASTER_PORT);
const memberSecret = process.env.MEMBER_SECRET || undefined;
const seen = [];

/** A raw connection: `frames` as they come, `closed` when the server closes it. */
function open() {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const c = { s, frames: [], closed: null, wake: [] };
    let head = Buffer.alloc(0);
    let magic = false;
    const reader = new FrameReader(64 << 20);
    c.closed = new Promise((r) =>
      s.once('close', () => {
        c.isClosed = true;
        c.wake.splice(0).forEach((f) => f());
        r();
      }),
    );
    s.on('error', () => {});
    s.on('data', (chunk) => {
      if (!magic) {
        head = Buffer.concat([head, chunk]);
        if (head.length < MAGIC.length) return;
        magic = true;
        chunk = head.subarray(MAGIC.length);
      }
      c.frames.push(...reader.push(chunk));
      c.wake.splice(0).forEach((f) => f());
    });
    s.once('connect', () => resolve(c));
    s.once('error', reject);
  });
}

async function frame(c, n) {
  while (c.frames.length <= n && !c.isClosed) await new Promise((r) => c.wake.push(r));
  return c.frames[n];
}

/** Magic, challenge and, with a secret, the proof. */
async function handshake(c, secret) {
  c.s.write(MAGIC);
  const challenge = await frame(c, 0);
  if (secret) {
    const cn = newNonce();
    const sn = Buffer.from(challenge.nonce, 'base64');
    c.s.write(encodeFrame({ id: 0, op: 'auth', nonce: cn.toString('base64'), proof: proof(secret, 'client', sn, cn).toString('base64') }));
    const ok = await frame(c, 1);
    if (!ok || ok.ok !== true) throw new Error(`the member secret was refused: ${JSON.stringify(ok)}`);
  }
  return challenge;
}

const body = (b, declared) => {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(declared ?? b.length, 0);
  return Buffer.concat([head, Buffer.from(b)]);
};

/** Sends `bytes` on a fresh connection (after the handshake) and records how the server closed it. */
async function oneShot(what, secret, bytes) {
  const c = await open();
  await handshake(c, secret);
  c.s.write(bytes);
  await c.closed;
  const last = c.frames.at(-1);
  seen.push({ what, code: last?.code ?? null, closed: true });
}

async function request(c, msg) {
  const from = c.frames.length;
  c.s.write(encodeFrame(msg));
  for (let i = from; ; i++) {
    const f = await frame(c, i);
    if (!f || f.id === msg.id) return f;
  }
}

const MALFORMED = [
  ['null', null],
  ['set with a numeric value', { id: 1, op: 'set', key: 'k', value: 5 }],
  ['wait with keys: 5', { id: 1, op: 'wait', keys: 5, timeoutMs: 10 }],
];

if (attack === 'malformed') {
  for (const [what, msg] of MALFORMED) await oneShot(`outsider: ${what}`, undefined, encodeFrame(msg));
  for (const [what, msg] of MALFORMED) await oneShot(`member: ${what}`, memberSecret, encodeFrame(msg));
} else if (attack === 'spoof') {
  await oneShot('hello as rank 1, no proof', undefined, encodeFrame({ id: 1, op: 'hello', rank: 1 }));
  await oneShot(
    'a wrong proof',
    undefined,
    encodeFrame({ id: 0, op: 'auth', nonce: randomBytes(16).toString('base64'), proof: randomBytes(32).toString('base64') }),
  );
  for (const [what, secret] of [
    ['TcpStore without a secret', undefined],
    ['TcpStore with a wrong secret', randomBytes(32).toString('hex')],
  ]) {
    try {
      const s = await TcpStore.connect({ host, port, timeoutMs: 5_000, secret });
      await s.hello(1);
      seen.push({ what, code: 'joined', closed: false });
      s.close();
    } catch (e) {
      seen.push({ what, code: e.kind ?? e.message, closed: true });
    }
  }
} else if (attack === 'flood') {
  const conns = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const c = await open();
      if (i % 3 >= 1) c.s.write(MAGIC);
      if (i % 3 === 2) c.s.write(body('{"id":0,', 100));
      return c;
    }),
  );
  await Promise.all(conns.map((c) => c.closed));
  seen.push({ what: '200 idle connections', code: null, closed: conns.length });
} else if (attack === 'oversize') {
  await oneShot('outsider: a 100 kB first frame', undefined, body('x', 100_000));
  const c = await open();
  const { limits } = await handshake(c, memberSecret);
  const big = await request(c, { id: 1, op: 'set', key: 'big', value: randomBytes(limits.maxValueBytes + 1).toString('base64') });
  seen.push({ what: 'member: a value above maxValueBytes', code: big.code, closed: c.isClosed === true });
  let full = null;
  let n = 0;
  for (let i = 2; i < 1000 && !full; i++) {
    const r = await request(c, { id: i, op: 'set', key: `fill/${i}`, value: randomBytes(limits.maxValueBytes).toString('base64') });
    if (r.ok) n++;
    else full = r;
  }
  seen.push({ what: `member: values until the store is full (${n} fit)`, code: full?.code ?? null, closed: c.isClosed === true });
  // Empty them again: the job still needs room for its goodbye keys.
  for (let i = 2; i < 2 + n; i++) await request(c, { id: 1000 + i, op: 'set', key: `fill/${i}`, value: '' });
  c.s.write(body('x', limits.maxFrameBytes + 1));
  await c.closed;
  seen.push({ what: 'member: a frame above maxFrameBytes', code: c.frames.at(-1)?.code ?? null, closed: true });
}

console.log(JSON.stringify({ attack, seen }));
