// One rank of the store-hardening job (tests/store_hardening.test.ts, last block). Every rank
// initialises with short store limits; then, for each attack, rank 1 runs store_intruder.mjs (a
// separate process, without the job's secret) against rank 0's store while the other ranks
// already wait in an allReduce, and every rank checks that allReduce's sum. A store that an attack
// crashed, or a `lost` rank it announced, would fail those calls (peer-lost) and end the job.
// Also reports the TCP sockets this rank listens on (Linux), to check that OpenMPI listens on none
// outside the loopback interface. Prints `RESULT {rank, size, sums, intruder, listeners}`.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as xpu from '../../dist/src/index.js';

const ATTACKS = ['malformed', 'spoof', 'flood', 'oversize'];
const d = xpu.dist;
await d.initProcessGroup({
  timeoutMs: 60_000,
  storeLimits: {
    handshakeMs: 300,
    idleMs: 300,
    maxHandshakingConnections: 16,
    maxValueBytes: 4096,
    maxFrameBytes: 16384,
    maxStoredBytes: 65536,
  },
});
const rank = d.getRank();
const size = d.getWorldSize();
const result = { rank, size, sums: [], intruder: [], listeners: listening() };

/** This process's listening TCP sockets as { family, address, port }, from /proc (empty elsewhere). */
function listening() {
  let inodes;
  try {
    inodes = new Set(
      readdirSync('/proc/self/fd')
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter(Boolean),
    );
  } catch {
    return [];
  }
  const out = [];
  for (const family of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/self/net/${family}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '0A' || !inodes.has(f[9])) continue; // 0A: LISTEN
      const [addr, portHex] = f[1].split(':');
      let address;
      if (family === 'tcp') address = Buffer.from(addr, 'hex').reverse().join('.');
      else
        address =
          addr === '0'.repeat(32)
            ? '::'
            : addr === '00000000000000000000000001000000'
              ? '::1'
              : /^0{16}FFFF0000.{6}7F$/i.test(addr)
                ? `::ffff:127.x`
                : addr;
      out.push({ family, address, port: parseInt(portHex, 16) });
    }
  }
  return out;
}

function intruder(attack) {
  const env = { ...process.env };
  const secret = env.XPU_DIST_SECRET;
  delete env.XPU_DIST_SECRET;
  // Only the attacks that play a buggy member of the job get the secret, under another name.
  if (attack === 'malformed' || attack === 'oversize') env.MEMBER_SECRET = secret;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./store_intruder.mjs', import.meta.url)), attack], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.on('exit', (code) => {
      let report = null;
      try {
        report = JSON.parse(out.trim().split('\n').at(-1));
      } catch {
        report = { unreadable: out };
      }
      resolve({ attack, code, report });
    });
  });
}

for (const attack of ATTACKS) {
  if (rank === 1) result.intruder.push(await intruder(attack));
  const t = xpu.full([8], rank + 1, { device: 'cpu', dtype: 'float32' });
  await d.allReduce(t);
  result.sums.push(Array.from(await t.data()));
}
await d.barrier();
await d.destroyProcessGroup();
console.log(`RESULT ${JSON.stringify(result)}`);
