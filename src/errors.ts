import { fmtValue } from './format_value.js';

/**
 * Typed errors. Each names the op, the argument, what was expected and what came, so a user can
 * tell from the message alone what to fix. All derive from XpuError, which derives from Error.
 */
export interface ErrorDetail {
  op: string;
  arg?: string;
  expected?: string;
  got?: string;
}

/** Whatever a caller put in a detail field, as text (it may not be a string at all). */
function detailText(x: unknown): string {
  return typeof x === 'string' ? x : fmtValue(x, 200);
}

function describe(message: string, d: ErrorDetail): string {
  const op = detailText(d.op);
  const where = d.arg !== undefined ? `${op}(): argument '${detailText(d.arg)}'` : `${op}()`;
  let text = `${where}: ${detailText(message)}`;
  if (d.expected !== undefined) text += `; expected ${detailText(d.expected)}`;
  if (d.got !== undefined) text += `, got ${detailText(d.got)}`;
  return text;
}

export class XpuError extends Error {
  readonly op: string;
  readonly arg?: string;
  readonly expected?: string;
  readonly got?: string;
  constructor(message: string, detail: ErrorDetail) {
    super(describe(message, detail));
    this.name = new.target.name;
    this.op = detail.op;
    this.arg = detail.arg;
    this.expected = detail.expected;
    this.got = detail.got;
  }
}

/** Shapes that do not fit together (broadcasting, reshape, matmul inner dims...). */
export class XpuShapeError extends XpuError {}
/** A dtype the op does not support, or a mix it cannot promote. */
export class XpuDTypeError extends XpuError {}
/** Tensors on different devices, a device that does not exist, or a lost device. */
export class XpuDeviceError extends XpuError {}
/**
 * An xpu device used before `await xpu.ready()` has resolved: the GPU opens asynchronously (Dawn
 * only offers promises) and nothing opens it at import, so the first use must wait for it.
 */
export class XpuNotReadyError extends XpuDeviceError {}
/** A dim or an index outside its range. */
export class XpuIndexError extends XpuError {}
/** An allocation above the device's limits or its memory. */
export class XpuOutOfMemoryError extends XpuError {}
/** A tensor used after dispose(). */
export class XpuDisposedError extends XpuError {}
/** A value that is not valid for an argument (not a shape or dtype problem). */
export class XpuValueError extends XpuError {}
/**
 * An argument of the wrong kind: null, undefined, a number or a plain object where a Tensor
 * belongs, a string or BigInt where a number belongs. `expected` names the type ('Tensor',
 * 'number'...) and `got` what came (see typeName). It extends XpuValueError because ops threw
 * XpuValueError for a non-tensor argument before this class existed, so code catching that
 * still catches this.
 */
export class XpuTypeError extends XpuValueError {}

/** What went wrong in a collective or a process group (see XpuDistError). */
export type DistErrorKind =
  | 'not-initialized' // a collective before initProcessGroup(), or after destroyProcessGroup()
  | 'backend' // an unknown backend name, or one not built into the native addon
  | 'store' // the rendezvous store could not be reached (wrong MASTER_ADDR/MASTER_PORT) in time
  | 'mismatch' // ranks made different calls, or with different dtypes, sizes or reductions
  | 'timeout' // a call or the rendezvous did not complete within timeoutMs (a rank died or never came)
  | 'peer-lost' // another rank left the job while this one was waiting for it
  | 'engine' // the collective engine (MPI, oneCCL) itself returned an error
  | 'auth' // the rendezvous store and this process do not share the job's secret (XPU_DIST_SECRET)
  | 'limit' // a rendezvous-store request above one of its limits (value, key or frame size, stored bytes...)
  | 'state'; // the process group cannot serve the call (already initialised, broken by an earlier failure...)

/**
 * A collective or process-group failure (xpu.dist). `kind` says which; the message says what
 * to fix. Every rank waiting on a dead or absent peer gets one within its timeout, never a hang.
 */
export class XpuDistError extends XpuError {
  readonly kind: DistErrorKind;
  constructor(message: string, detail: ErrorDetail & { kind: DistErrorKind }) {
    super(message, detail);
    this.kind = detail.kind;
  }
}

/**
 * A file that does not follow its format (safetensors: bad header length, non-JSON header,
 * unknown dtype, overlapping or out-of-range offsets, a truncated file...). `path` names the file.
 */
export class XpuFormatError extends XpuError {}
