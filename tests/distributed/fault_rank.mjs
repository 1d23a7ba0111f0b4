// One rank of the fault tests in tests/distributed.test.ts. Every rank that sees a failure prints
// `OUTCOME {rank, kind, message, ms}` and exits 1; the test checks that each survivor reports a
// clear error within its timeout. Modes (argv[2]):
//   exit-early   rank 1 exits right after initProcessGroup(); the others are in an allReduce
//   never-init   the last rank never calls initProcessGroup() (it sleeps); the others init
//   never-call   every rank inits; the last never joins the allReduce the others wait in
//   wrong-port   rank 1 looks for the store on another MASTER_PORT than rank 0 serves (and
//                gives up first, with half the timeout, so its own error is the first)
import { createServer } from 'node:net';
import * as xpu from '../../dist/src/index.js';

const d = xpu.dist;
const mode = process.argv[2];
const timeoutMs = Number(process.argv[3] ?? 3000);
const rank = Number(process.env.RANK ?? process.env.OMPI_COMM_WORLD_RANK);
const size = Number(process.env.WORLD_SIZE ?? process.env.OMPI_COMM_WORLD_SIZE);
const t0 = Date.now();
const sleepForever = () => new Promise(() => setInterval(() => {}, 1000));

function report(e) {
  console.log(`OUTCOME ${JSON.stringify({ rank, kind: e.kind ?? e.name, name: e.name, message: e.message, ms: Date.now() - t0 })}`);
  process.exit(1);
}

/** A port with nothing listening. */
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

try {
  if (mode === 'never-init' && rank === size - 1) await sleepForever();
  if (mode === 'wrong-port' && rank === 1) process.env.MASTER_PORT = String(await freePort());
  await d.initProcessGroup({ timeoutMs: mode === 'wrong-port' && rank === 1 ? timeoutMs / 2 : timeoutMs });
  if (mode === 'exit-early' && rank === 1) process.exit(0);
  if (mode === 'never-call' && rank === size - 1) await sleepForever();
  if (mode === 'exit-early') await new Promise((r) => setTimeout(r, 200));
  await d.allReduce(xpu.ones([1000], { device: 'cpu' }));
  console.log(`OUTCOME ${JSON.stringify({ rank, kind: 'none', message: 'the allReduce completed', ms: Date.now() - t0 })}`);
} catch (e) {
  report(e);
}
