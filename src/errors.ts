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

function describe(message: string, d: ErrorDetail): string {
  const where = d.arg ? `${d.op}(): argument '${d.arg}'` : `${d.op}()`;
  let text = `${where}: ${message}`;
  if (d.expected !== undefined) text += `; expected ${d.expected}`;
  if (d.got !== undefined) text += `, got ${d.got}`;
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
/** A dim or an index outside its range. */
export class XpuIndexError extends XpuError {}
/** An allocation above the device's limits or its memory. */
export class XpuOutOfMemoryError extends XpuError {}
/** A tensor used after dispose(). */
export class XpuDisposedError extends XpuError {}
/** A value that is not valid for an argument (not a shape or dtype problem). */
export class XpuValueError extends XpuError {}
