import { takeHost } from '../backends/cpu/host_pool.js';
import { XpuShapeError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkOutput, checkSplits, dtypeCode, evenSplits, opCode, rowsOf } from './args.js';
import { Clock } from './clock.js';
import type { ReduceOp } from './native.js';
import type { ProcessGroup } from './process_group.js';
import { fromEngine, outputView, stageIn, stageOut, type HostView } from './staging.js';
import { groupFor } from './state.js';

/**
 * The collectives on tensors. Each returns a Promise (the engine call runs off the JS thread) and
 * must be called by every rank of the group, in the same order, with matching dtypes and sizes;
 * mismatches are reported on every rank as an XpuDistError of kind 'mismatch' (checkArgs, on by
 * default). Tensors may be on cpu or xpu (staged through host memory, see staging.ts); a tensor
 * handed to a call must not be changed or disposed until its Promise settles.
 *
 * In place (allReduce, broadcast by default; the others with `output`): the result is written
 * into the existing tensor's storage, so other views of it see the result. Out of place: a new
 * tensor on the input's device.
 */

export interface GroupOptions {
  /** Default: the world group from initProcessGroup(). */
  group?: ProcessGroup;
  /** Default: the timeoutMs given to initProcessGroup(). */
  timeoutMs?: number;
}

export interface AllReduceOptions extends GroupOptions {
  op?: ReduceOp;
  /** Write the result into `tensor` (default) or return a new tensor. */
  inPlace?: boolean;
}

export interface BroadcastOptions extends GroupOptions {
  /** Global rank that sends (default 0). */
  src?: number;
  inPlace?: boolean;
}

export interface OutputOptions extends GroupOptions {
  /** A tensor to receive the result (any device, the input's dtype, the result's element count). */
  output?: Tensor;
}

export interface ReduceScatterOptions extends OutputOptions {
  op?: ReduceOp;
}

export interface AllToAllOptions extends OutputOptions {
  /** Rows along dim 0 sent to each rank (default: equal parts, which needs dim 0 % size == 0). */
  inputSplits?: number[];
  /** Rows along dim 0 received from each rank (default: learnt from the senders). */
  outputSplits?: number[];
}

function timeoutOf(g: ProcessGroup, o: GroupOptions): number {
  return o.timeoutMs ?? g.job.timeoutMs;
}

/** Runs the engine call for `op` and finishes its timing. */
async function engineCall(
  g: ProcessGroup,
  op: string,
  o: GroupOptions,
  clock: Clock,
  call: () => Promise<{ seconds: number }>,
): Promise<void> {
  const r = await g.job.call(op, timeoutOf(g, o), call);
  clock.engine(r.seconds);
}

/** The result of a call that fills a whole new or given tensor. */
async function finish(
  clock: Clock,
  host: HostView,
  shape: readonly number[],
  like: Tensor,
  output: Tensor | undefined,
  op: string,
): Promise<Tensor> {
  const out = output
    ? await clock.stageOut(() => stageOut(output, host).then(() => output))
    : await clock.stageOut(() => fromEngine(host.host, shape, like.dtype, like.device, op));
  clock.done();
  return out;
}

function resultView(output: Tensor | undefined, like: Tensor, n: number, op: string): HostView {
  return output ? outputView(output, op) : { host: takeHost(like.dtype, n), direct: false };
}

/** Reduces `tensor` across the group with `op` (sum, avg, max, min, prod). */
export async function allReduce(tensor: Tensor, o: AllReduceOptions = {}): Promise<Tensor> {
  const op = 'allReduce';
  const g = groupFor(op, o.group);
  const dt = dtypeCode(op, 'tensor', tensor);
  const red = opCode(op, o.op ?? 'sum');
  const inPlace = o.inPlace ?? true;
  const clock = new Clock(op, tensor);
  const input = await clock.stageIn(() => stageIn(tensor, op));
  if (inPlace) {
    await engineCall(g, op, o, clock, () => g.job.engine.allReduce(g.comm, null, input.host, dt, red, g.job.check));
    await clock.stageOut(() => stageOut(tensor, input));
    clock.done();
    return tensor;
  }
  const out = takeHost(tensor.dtype, tensor.numel);
  await engineCall(g, op, o, clock, () => g.job.engine.allReduce(g.comm, input.host, out, dt, red, g.job.check));
  return finish(clock, { host: out, direct: false }, tensor.shape, tensor, undefined, op);
}

/** Copies `tensor` from rank `src` to every rank of the group. */
export async function broadcast(tensor: Tensor, o: BroadcastOptions = {}): Promise<Tensor> {
  const op = 'broadcast';
  const g = groupFor(op, o.group);
  const dt = dtypeCode(op, 'tensor', tensor);
  const root = g.groupRank(op, 'src', o.src ?? 0);
  const inPlace = o.inPlace ?? true;
  const clock = new Clock(op, tensor);
  // Only the root's values matter: other ranks skip the read-back of an xpu tensor they overwrite.
  const needsInput = g.rank === root || (inPlace && tensor.device.type === 'cpu' && tensor.isContiguous());
  let buf: HostView;
  if (needsInput) {
    buf = await clock.stageIn(() => stageIn(tensor, op));
    if (!inPlace) buf = { host: buf.host.slice(), direct: false };
  } else {
    buf = inPlace ? outputView(tensor, op) : { host: takeHost(tensor.dtype, tensor.numel), direct: false };
  }
  await engineCall(g, op, o, clock, () => g.job.engine.broadcast(g.comm, buf.host, dt, root, g.job.check));
  if (inPlace && g.rank === root) {
    clock.done(); // the root's tensor already holds the values
    return tensor;
  }
  return finish(clock, buf, tensor.shape, tensor, inPlace ? tensor : undefined, op);
}

/** Concatenates every rank's `tensor` (equal shapes) along dim 0, in rank order. */
export async function allGather(tensor: Tensor, o: OutputOptions = {}): Promise<Tensor> {
  const op = 'allGather';
  const g = groupFor(op, o.group);
  const dt = dtypeCode(op, 'tensor', tensor);
  const { rows, rest } = rowsOf(tensor);
  const shape = [g.size * rows, ...rest];
  if (o.output) checkOutput(op, o.output, tensor.dtype, shape);
  const clock = new Clock(op, tensor);
  const input = await clock.stageIn(() => stageIn(tensor, op));
  const out = resultView(o.output, tensor, g.size * tensor.numel, op);
  await engineCall(g, op, o, clock, () => g.job.engine.allGather(g.comm, input.host, out.host, dt, g.job.check));
  return finish(clock, out, shape, tensor, o.output, op);
}

export interface AllGatherVResult {
  /** Every rank's tensor concatenated along dim 0, in rank order. */
  output: Tensor;
  /** Rows along dim 0 that each rank contributed. */
  sizes: number[];
}

/** allGather for tensors whose dim 0 differs between ranks (the other dims must agree). */
export async function allGatherV(tensor: Tensor, o: OutputOptions = {}): Promise<AllGatherVResult> {
  const op = 'allGatherV';
  const g = groupFor(op, o.group);
  const dt = dtypeCode(op, 'tensor', tensor);
  const { rowSize, rest } = rowsOf(tensor);
  const check = g.job.check;
  const counts = new Int32Array(g.size);
  const clock = new Clock(op, tensor);
  await engineCall(g, op, o, clock, () => g.job.engine.exchangeCounts(g.comm, 0, Int32Array.of(tensor.numel), counts, check, rowSize));
  const total = counts.reduce((a, b) => a + b, 0);
  const sizes = Array.from(counts, (c) => (rowSize ? c / rowSize : 0));
  const shape = [sizes.reduce((a, b) => a + b, 0), ...rest];
  if (o.output) checkOutput(op, o.output, tensor.dtype, shape);
  const input = await clock.stageIn(() => stageIn(tensor, op));
  const out = resultView(o.output, tensor, total, op);
  await engineCall(g, op, o, clock, () => g.job.engine.allGatherV(g.comm, input.host, out.host, counts, dt, check, rowSize));
  return { output: await finish(clock, out, shape, tensor, o.output, op), sizes };
}

/**
 * Reduces `tensor` (the same shape on every rank) across the group and leaves each rank its part
 * along dim 0: rank i gets rows [start_i, start_i + size_i), split as torch.tensor_split does
 * (the first rows % size ranks get one row more), so any number of rows works.
 */
export async function reduceScatter(tensor: Tensor, o: ReduceScatterOptions = {}): Promise<Tensor> {
  const op = 'reduceScatter';
  const g = groupFor(op, o.group);
  const dt = dtypeCode(op, 'tensor', tensor);
  const red = opCode(op, o.op ?? 'sum');
  if (tensor.ndim === 0)
    throw new XpuShapeError('needs a tensor with at least one dim to split', {
      op,
      arg: 'tensor',
      expected: '1 or more dims',
      got: '0-d tensor',
    });
  const { rows, rowSize, rest } = rowsOf(tensor);
  const splits = evenSplits(rows, g.size);
  const recvCounts = Int32Array.from(splits, (s) => s * rowSize);
  const shape = [splits[g.rank], ...rest];
  if (o.output) checkOutput(op, o.output, tensor.dtype, shape);
  const clock = new Clock(op, tensor);
  const input = await clock.stageIn(() => stageIn(tensor, op));
  const out = resultView(o.output, tensor, recvCounts[g.rank], op);
  await engineCall(g, op, o, clock, () =>
    g.job.engine.reduceScatter(g.comm, input.host, out.host, recvCounts, dt, red, g.job.check, rowSize),
  );
  return finish(clock, out, shape, tensor, o.output, op);
}

/**
 * Splits `tensor` along dim 0 and sends part j to rank j; the parts received are concatenated in
 * rank order (torch's all_to_all_single, with optional split sizes in rows).
 */
export async function allToAll(tensor: Tensor, o: AllToAllOptions = {}): Promise<Tensor> {
  const op = 'allToAll';
  const g = groupFor(op, o.group);
  const dt = dtypeCode(op, 'tensor', tensor);
  if (tensor.ndim === 0)
    throw new XpuShapeError('needs a tensor with at least one dim to split', {
      op,
      arg: 'tensor',
      expected: '1 or more dims',
      got: '0-d tensor',
    });
  const { rows, rowSize, rest } = rowsOf(tensor);
  let inSplits: number[];
  if (o.inputSplits) inSplits = checkSplits(op, 'inputSplits', o.inputSplits, g.size, rows);
  else if (rows % g.size === 0) inSplits = evenSplits(rows, g.size);
  else
    throw new XpuShapeError('dim 0 does not divide into equal parts', {
      op,
      arg: 'tensor',
      expected: `dim 0 a multiple of ${g.size}, or inputSplits`,
      got: `[${tensor.shape.join(', ')}]`,
    });
  const sendCounts = Int32Array.from(inSplits, (s) => s * rowSize);
  const check = g.job.check;
  const clock = new Clock(op, tensor);
  let recvCounts: Int32Array;
  if (o.outputSplits) {
    recvCounts = Int32Array.from(checkSplits(op, 'outputSplits', o.outputSplits, g.size), (s) => s * rowSize);
  } else {
    recvCounts = new Int32Array(g.size);
    await engineCall(g, op, o, clock, () => g.job.engine.exchangeCounts(g.comm, 1, sendCounts, recvCounts, check, rowSize));
  }
  const total = recvCounts.reduce((a, b) => a + b, 0);
  const shape = [rowSize ? total / rowSize : 0, ...rest];
  if (o.output) checkOutput(op, o.output, tensor.dtype, shape);
  const input = await clock.stageIn(() => stageIn(tensor, op));
  const out = resultView(o.output, tensor, total, op);
  await engineCall(g, op, o, clock, () => g.job.engine.allToAllV(g.comm, input.host, sendCounts, out.host, recvCounts, dt, check, rowSize));
  return finish(clock, out, shape, tensor, o.output, op);
}

/** Resolves once every rank of the group has called it. */
export async function barrier(o: GroupOptions = {}): Promise<void> {
  const op = 'barrier';
  const g = groupFor(op, o.group);
  await g.job.call(op, timeoutOf(g, o), () => g.job.engine.barrier(g.comm, g.job.check));
}
