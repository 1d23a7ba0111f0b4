// One rank of tests/distributed.test.ts: runs every collective on every dtype, reduction, device and
// placement (in place / out of place), with sizes chosen per case (1, non-multiples of the rank
// count, larger), and checks every element against what this rank computes on its own: every
// rank's input is generated from (seed, rank, case), so each rank knows all inputs.
// Values are chosen so results are exact in every dtype (quarter steps, small products), so the
// check is equality, not a tolerance. Prints one RESULT line; exits 1 on any failure.
//
// usage (under `xpu run`): node collectives_rank.mjs <devices: cpu[,xpu]> <seed>
import * as xpu from '../../dist/src/index.js';
import { castNumber } from '../../dist/src/tensor/dtype.js';
// The runtime opens nothing at import: open the GPU before the first xpu tensor.
await xpu.ready();

const d = xpu.dist;
const devices = (process.argv[2] ?? 'cpu').split(',');
const seed = Number(process.argv[3] ?? 1);
const world = await d.initProcessGroup({ timeoutMs: 60_000 });
const rank = d.getRank();
const n = d.getWorldSize();

let checks = 0;
let elements = 0;
const failures = [];
const fail = (msg) => failures.length < 20 && failures.push(`rank ${rank}: ${msg}`);

/** Element-by-element equality (NaN never occurs: the values are chosen finite). */
function expectEqual(got, want, what) {
  checks++;
  elements += want.length;
  if (got.length !== want.length) return fail(`${what}: length ${got.length}, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i] && !(Object.is(got[i], -0) && want[i] === 0) && !(got[i] === 0 && Object.is(want[i], -0))) {
      return fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
    }
  }
}

function expectThrows(promise, kind, pattern, what) {
  return promise.then(
    () => fail(`${what}: resolved, expected an XpuDistError of kind ${kind}`),
    (e) => {
      checks++;
      if (!(e instanceof xpu.XpuDistError) || e.kind !== kind || !pattern.test(e.message))
        fail(`${what}: got ${e?.name} ${e?.kind}: ${e?.message}`);
    },
  );
}

function mulberry32(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rngFor = (...k) => mulberry32(k.reduce((h, x) => Math.imul(h ^ (x + 0x9e3779b9), 0x85ebca6b) >>> 0, seed * 2654435761));
const pick = (r, list) => list[Math.floor(r() * list.length)];

const DTYPES = ['float32', 'float16', 'int32', 'int8', 'uint8'];
const OPS = ['sum', 'avg', 'max', 'min', 'prod'];
const isFloat = (dt) => dt.startsWith('float');

/** Inputs that keep every result exact in `dtype`, whatever the order of reduction. */
function values(q, c, count, dtype, op) {
  const r = rngFor(q, c, 7);
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    if (op === 'prod')
      out[i] = isFloat(dtype)
        ? pick(r, [-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2])
        : dtype === 'uint8'
          ? pick(r, [0, 1, 2, 3])
          : pick(r, [-3, -2, -1, 0, 1, 2, 3]);
    else if (isFloat(dtype)) out[i] = Math.floor(r() * 101 - 50) / 4;
    else if (dtype === 'int32') out[i] = Math.floor(r() * 2e6 - 1e6);
    else if (dtype === 'int8') out[i] = Math.floor(r() * 61 - 30);
    else out[i] = Math.floor(r() * 61);
  }
  return out;
}

function reduce(op, dtype, inputs) {
  const count = inputs[0].length;
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    let acc = inputs[0][i];
    for (let q = 1; q < inputs.length; q++) {
      const v = inputs[q][i];
      acc = op === 'max' ? Math.max(acc, v) : op === 'min' ? Math.min(acc, v) : op === 'prod' ? acc * v : acc + v;
    }
    if (op === 'avg') acc = isFloat(dtype) ? acc / inputs.length : Math.trunc(acc / inputs.length);
    out[i] = castNumber(acc, dtype);
  }
  return out;
}

/** Sizes every rank agrees on for case c: 1, around multiples of n, and larger odd ones. */
function sizeFor(c, q = 0) {
  const r = rngFor(1000 + q, c);
  return pick(r, [1, 1, Math.max(1, n - 1), n + 1, 2 * n + 1, 7, 64, 999, 1 + Math.floor(r() * 3000)]);
}

const read = async (t) => Array.from(await t.data());
const make = (vals, dtype, device, shape) => xpu.tensor(vals, { dtype, device, shape: shape ?? [vals.length] });
const ranks = [...Array(n).keys()];

async function checkCollectives(device, dtype, c0) {
  let c = c0;
  const tag = (what) => `${device} ${dtype} ${what} (case ${c})`;
  for (const op of OPS) {
    for (const inPlace of [true, false]) {
      c++;
      const count = sizeFor(c);
      const inputs = ranks.map((q) => values(q, c, count, dtype, op));
      const t = make(inputs[rank], dtype, device);
      const res = await d.allReduce(t, { op, inPlace });
      if (inPlace && res !== t) fail(`${tag('allReduce')}: in place returned another tensor`);
      if (!inPlace)
        expectEqual(
          await read(t),
          inputs[rank].map((v) => castNumber(v, dtype)),
          tag(`allReduce ${op} out-of-place leaves its input`),
        );
      expectEqual(await read(res), reduce(op, dtype, inputs), tag(`allReduce ${op} ${inPlace ? 'in place' : 'out of place'} n=${count}`));
      if (device === 'xpu' && d.lastTiming().stageInMs <= 0) fail(`${tag('allReduce')}: no staging time recorded for an xpu tensor`);
    }
  }
  for (const inPlace of [true, false]) {
    c++;
    const count = sizeFor(c);
    const src = c % n;
    const inputs = ranks.map((q) => values(q, c, count, dtype, 'sum'));
    const t = make(inputs[rank], dtype, device);
    const res = await d.broadcast(t, { src, inPlace });
    expectEqual(
      await read(res),
      inputs[src].map((v) => castNumber(v, dtype)),
      tag(`broadcast from ${src} ${inPlace ? 'in place' : 'out of place'} n=${count}`),
    );
  }
  for (const given of [false, true]) {
    c++;
    const count = sizeFor(c);
    const inputs = ranks.map((q) => values(q, c, count, dtype, 'sum'));
    const output = given ? xpu.full([n * count], 99, { dtype, device }) : undefined;
    const res = await d.allGather(make(inputs[rank], dtype, device), { output });
    if (given && res !== output) fail(`${tag('allGather')}: output not returned`);
    expectEqual(
      await read(res),
      inputs.flat().map((v) => castNumber(v, dtype)),
      tag(`allGather ${given ? 'into output' : 'new'} n=${count}`),
    );
  }
  for (const given of [false, true]) {
    c++;
    const rowsOf = (q) => pick(rngFor(q, c, 3), [0, 1, 2, 5, n + 1, 17]);
    const inputs = ranks.map((q) => values(q, c, rowsOf(q) * 3, dtype, 'sum'));
    const total = inputs.reduce((a, v) => a + v.length, 0);
    const output = given ? xpu.full([total / 3, 3], 99, { dtype, device }) : undefined;
    const res = await d.allGatherV(make(inputs[rank], dtype, device, [rowsOf(rank), 3]), { output });
    expectEqual(res.sizes, ranks.map(rowsOf), tag('allGatherV sizes'));
    if (res.output.shape.join() !== `${total / 3},3`) fail(`${tag('allGatherV')}: shape [${res.output.shape}]`);
    expectEqual(
      await read(res.output),
      inputs.flat().map((v) => castNumber(v, dtype)),
      tag(`allGatherV ${given ? 'into output' : 'new'} rows ${ranks.map(rowsOf)}`),
    );
  }
  for (const op of OPS) {
    for (const given of [false, true]) {
      c++;
      const rows = sizeFor(c);
      const inputs = ranks.map((q) => values(q, c, rows * 2, dtype, op));
      const full = reduce(op, dtype, inputs);
      const base = Math.floor(rows / n),
        extra = rows % n;
      const start = rank * base + Math.min(rank, extra),
        mine = base + (rank < extra ? 1 : 0);
      const output = given ? xpu.full([mine, 2], 99, { dtype, device }) : undefined;
      const res = await d.reduceScatter(make(inputs[rank], dtype, device, [rows, 2]), { op, output });
      expectEqual(
        await read(res),
        full.slice(start * 2, (start + mine) * 2),
        tag(`reduceScatter ${op} ${given ? 'into output' : 'new'} rows=${rows}`),
      );
    }
  }
  for (const uneven of [false, true]) {
    for (const tellOutput of [false, true]) {
      c++;
      const k = 1 + (c % 3);
      const split = (q, j) => (uneven ? Math.floor(rngFor(q, j, c)() * 4) : k);
      const inputs = ranks.map((q) =>
        values(
          q,
          c,
          ranks.reduce((a, j) => a + split(q, j), 0),
          dtype,
          'sum',
        ),
      );
      const inputSplits = uneven ? ranks.map((j) => split(rank, j)) : undefined;
      const outputSplits = tellOutput ? ranks.map((q) => split(q, rank)) : undefined;
      const res = await d.allToAll(make(inputs[rank], dtype, device), { inputSplits, outputSplits });
      const want = [];
      for (const q of ranks) {
        const from = ranks.slice(0, rank).reduce((a, j) => a + split(q, j), 0);
        want.push(...inputs[q].slice(from, from + split(q, rank)));
      }
      expectEqual(
        await read(res),
        want.map((v) => castNumber(v, dtype)),
        tag(`allToAll ${uneven ? 'uneven' : 'equal'} splits, output splits ${tellOutput ? 'given' : 'learnt'}`),
      );
    }
  }
  return c;
}

/** In place on views: the result lands in the right elements of the shared storage, and only there. */
async function checkViews(device, c) {
  const k = 5 + (c % 4);
  const inputs = ranks.map((q) => values(q, c, k * 2, 'float32', 'sum'));
  const base = make(inputs[rank], 'float32', device, [k, 2]);
  await d.allReduce(base.transpose(0, 1), { op: 'sum' });
  expectEqual(await read(base), reduce('sum', 'float32', inputs), `${device} allReduce in place on a transposed view`);
  const m = 9;
  const line = ranks.map((q) => values(q, c + 1, m, 'int8', 'sum'));
  const whole = make(line[rank], 'int8', device);
  await d.allReduce(whole.narrow(0, 2, m - 4), { op: 'max' });
  const want = line[rank].slice();
  const red = reduce('max', 'int8', line);
  for (let i = 2; i < m - 2; i++) want[i] = red[i];
  expectEqual(await read(whole), want, `${device} allReduce in place on a narrowed int8 view leaves the rest of the storage`);
  const b = make(line[rank], 'int8', device, [3, 3]).transpose(0, 1);
  await d.broadcast(b, { src: n - 1 });
  expectEqual(
    await read(b),
    await read(
      make(line[n - 1], 'int8', device, [3, 3])
        .transpose(0, 1)
        .contiguous(),
    ),
    `${device} broadcast in place into a transposed view`,
  );
}

async function checkPointToPoint(device) {
  const next = (rank + 1) % n,
    prev = (rank + n - 1) % n;
  const messages = [
    ['float32', 3],
    ['int8', 100_003],
    ['float16', 1],
  ];
  const want = (dtype, count, q) => values(q, 77, count, dtype, 'sum').map((v) => castNumber(v, dtype));
  for (const [dtype, count] of messages) {
    const mine = values(rank, 77, count, dtype, 'sum');
    const into = xpu.zeros([count], { dtype, device });
    // Both directions at once: each rank sends and receives concurrently (no deadlock). A fast
    // sender is already on its next message, with the same tag and another dtype, while a slow
    // receiver is still waiting for this one: same-tag messages must arrive in the order sent.
    await Promise.all([d.send(make(mine, dtype, device), next, { tag: 5 }), d.recv(into, prev, { tag: 5 })]);
    expectEqual(await read(into), want(dtype, count, prev), `${device} send/recv ring ${dtype} x${count}`);
  }
  // All three at once on one tag: the recvs, issued in the order of the sends, get them in order.
  const intos = messages.map(([dtype, count]) => xpu.zeros([count], { dtype, device }));
  await Promise.all(
    messages.flatMap(([dtype, count], i) => [
      d.send(make(values(rank, 77, count, dtype, 'sum'), dtype, device), next, { tag: 6 }),
      d.recv(intos[i], prev, { tag: 6 }),
    ]),
  );
  for (const [i, [dtype, count]] of messages.entries())
    expectEqual(await read(intos[i]), want(dtype, count, prev), `${device} send/recv burst on one tag, message ${i} (${dtype} x${count})`);
}

async function checkGroups(device) {
  const members = n >= 3 ? [0, n - 1] : [1];
  const g = await d.newGroup(members);
  if (!members.includes(rank)) {
    if (g.rank !== -1 || g.isMember) fail(`newGroup: non-member rank ${rank} got group rank ${g.rank}`);
    await expectThrows(
      d.allReduce(xpu.ones([2], { device }), { group: g }),
      'state',
      /not a member/,
      'collective on a group without this rank',
    );
    return;
  }
  checks++;
  if (g.rank !== members.indexOf(rank) || g.size !== members.length) fail(`newGroup: rank ${g.rank} size ${g.size}`);
  const t = make([rank + 1, 10 * rank], 'int32', device);
  await d.allReduce(t, { group: g });
  expectEqual(
    await read(t),
    [members.reduce((a, q) => a + q + 1, 0), members.reduce((a, q) => a + 10 * q, 0)],
    `${device} allReduce on newGroup(${members})`,
  );
  const gathered = await d.allGather(make([rank], 'int32', device), { group: g });
  expectEqual(await read(gathered), members, `${device} allGather on newGroup(${members})`);
  await d.destroyProcessGroup(g);
}

/** Ranks that disagree all get the same clear error, and the group keeps working afterwards. */
async function checkMismatches() {
  await expectThrows(d.allReduce(xpu.ones([rank + 1], { device: 'cpu' })), 'mismatch', /element count/, 'allReduce with different counts');
  await expectThrows(
    d.allReduce(xpu.ones([4], { device: 'cpu', dtype: rank === 0 ? 'float32' : 'int32' })),
    'mismatch',
    /dtype/,
    'allReduce with different dtypes',
  );
  await expectThrows(
    d.allReduce(xpu.ones([4], { device: 'cpu' }), { op: rank === 0 ? 'max' : 'sum' }),
    'mismatch',
    /reduction/,
    'allReduce with different reductions',
  );
  await expectThrows(
    rank === 0 ? d.broadcast(xpu.ones([4], { device: 'cpu' })) : d.allReduce(xpu.ones([4], { device: 'cpu' })),
    'mismatch',
    /different collectives/,
    'broadcast beside allReduce',
  );
  await expectThrows(
    d.allGatherV(xpu.ones([2, rank === 0 ? 3 : 4], { device: 'cpu' })),
    'mismatch',
    /dims after the first/,
    'allGatherV with different trailing dims',
  );
  const wrong = ranks.map((q) => (rank === 0 && q === n - 1 ? 2 : 1));
  await expectThrows(
    d.allToAll(xpu.ones([n], { device: 'cpu' }), { outputSplits: wrong }),
    'mismatch',
    /sends 1 elements? to rank|split sizes disagree/,
    'allToAll with wrong outputSplits',
  );
  // oneCCL has no probe: a recv cannot see the size of the message it gets (README, Collectives).
  if (rank === 0 && world.backend === 'mpi') await d.send(xpu.ones([3], { device: 'cpu' }), 1, { tag: 9 });
  if (rank === 1 && world.backend === 'mpi')
    await expectThrows(
      d.recv(xpu.ones([4], { device: 'cpu' }), 0, { tag: 9 }),
      'mismatch',
      /expected 4 float32 elements, the sender sent 3 float32/,
      'recv of the wrong size',
    );
  // The same bytes in another dtype is a mismatch too, and leaves the tensor as it was.
  if (rank === 0 && world.backend === 'mpi') await d.send(xpu.ones([4], { device: 'cpu', dtype: 'int8' }), 1, { tag: 9 });
  if (rank === 1 && world.backend === 'mpi') {
    const t = xpu.full([1], 7, { device: 'cpu' });
    await expectThrows(
      d.recv(t, 0, { tag: 9 }),
      'mismatch',
      /expected 1 float32 elements, the sender sent 4 int8/,
      'recv of the wrong dtype',
    );
    expectEqual(await read(t), [7], 'a recv that failed leaves its tensor');
  }
  const t = xpu.tensor([rank], { device: 'cpu', dtype: 'int32' });
  await d.allReduce(t);
  expectEqual(await read(t), [(n * (n - 1)) / 2], 'allReduce after the mismatches');
}

let c = 0;
for (const device of devices) {
  for (const dtype of DTYPES) c = await checkCollectives(device, dtype, c);
  await checkViews(device, (c += 2));
  await checkPointToPoint(device);
  await checkGroups(device);
}
await checkMismatches();
await d.barrier();
await d.destroyProcessGroup();
console.log(`RESULT ${JSON.stringify({ rank, n, devices, checks, elements, failures })}`);
process.exitCode = failures.length || checks === 0 ? 1 : 0;
