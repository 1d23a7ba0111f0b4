import type { Tensor } from '../tensor/tensor.js';
import { checkTag, dtypeCode } from './args.js';
import { Clock } from './clock.js';
import type { GroupOptions } from './collectives.js';
import { outputView, stageIn, stageOut } from './staging.js';
import { groupFor } from './state.js';

/**
 * Point-to-point transfers. Both sides run non-blocking in the engine, so a recv waiting for its
 * sender does not hold up the calls queued after it, and two ranks may send to each other at once.
 * A message is matched by (sender, tag); a recv whose tensor has another dtype or element count
 * than the message fails with an XpuDistError of kind 'mismatch' (the message is consumed).
 */

export interface P2POptions extends GroupOptions {
  /** Matches a send with a recv between the same two ranks (default 0; up to 2^20 - 1). */
  tag?: number;
}

/** Sends `tensor` to global rank `dst`; resolves when the buffer may be reused. */
export async function send(tensor: Tensor, dst: number, o: P2POptions = {}): Promise<void> {
  const op = 'send';
  const g = groupFor(op, o.group);
  const dt = dtypeCode(op, 'tensor', tensor);
  const peer = g.groupRank(op, 'dst', dst);
  const tag = checkTag(op, o.tag ?? 0);
  const clock = new Clock(op, tensor);
  const input = await clock.stageIn(() => stageIn(tensor, op));
  const r = await g.job.call(op, o.timeoutMs ?? g.job.timeoutMs, () => g.job.engine.send(g.comm, input.host, dt, peer, tag));
  clock.engine(r.seconds);
  clock.done();
}

/** Receives from global rank `src` into `tensor` (in place); resolves to `tensor`. */
export async function recv(tensor: Tensor, src: number, o: P2POptions = {}): Promise<Tensor> {
  const op = 'recv';
  const g = groupFor(op, o.group);
  const dt = dtypeCode(op, 'tensor', tensor);
  const peer = g.groupRank(op, 'src', src);
  const tag = checkTag(op, o.tag ?? 0);
  const clock = new Clock(op, tensor);
  // The received values replace all of the tensor, so only a cpu tensor's own memory is used.
  const out = outputView(tensor, op);
  const r = await g.job.call(op, o.timeoutMs ?? g.job.timeoutMs, () => g.job.engine.recv(g.comm, out.host, dt, peer, tag));
  clock.engine(r.seconds);
  await clock.stageOut(() => stageOut(tensor, out));
  clock.done();
  return tensor;
}
