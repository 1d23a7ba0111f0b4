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

/**
 * A short, printable description of any value, for error messages. It never throws: a BigInt, a
 * symbol, a cyclic or prototype-less object, a Proxy whose traps throw or an object whose
 * toString throws must not turn the error path itself into an untyped TypeError (JSON.stringify
 * throws on a BigInt and on cycles; String() and template literals throw on a symbol or an object
 * without a prototype). Accessors are never run: a getter shows as [getter].
 */
export function fmtValue(x: unknown, maxLength = 80): string {
  let text: string;
  try {
    text = formatAny(x, 0, new Set());
  } catch {
    text = typeName(x);
  }
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}

function formatAny(x: unknown, depth: number, seen: Set<object>): string {
  switch (typeof x) {
    case 'number': return Object.is(x, -0) ? '-0' : String(x);
    case 'bigint': return `${x.toString()}n`;
    case 'string': return JSON.stringify(x.length > 60 ? `${x.slice(0, 60)}...` : x);
    case 'boolean': return x ? 'true' : 'false';
    case 'undefined': return 'undefined';
    case 'symbol': return Symbol.prototype.toString.call(x);
    case 'function': return typeName(x);
  }
  if (x === null) return 'null';
  const o = x as object;
  if (seen.has(o)) return '[cycle]';
  if (depth >= 2) return typeName(o);
  seen.add(o);
  try {
    if (Array.isArray(o)) {
      const items: string[] = [];
      for (let i = 0; i < Math.min(o.length, 8); i++) items.push(formatProp(o, String(i), depth, seen));
      return `[${items.join(', ')}${o.length > 8 ? `, ... (${o.length} items)` : ''}]`;
    }
    if (ArrayBuffer.isView(o)) return typeName(o);
    const ctor = constructorName(o);
    if (ctor !== 'Object' && ctor !== undefined) return typeName(o);
    const keys = Object.keys(o);
    const items = keys.slice(0, 6).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${formatProp(o, k, depth, seen)}`);
    return `{${items.join(', ')}${keys.length > 6 ? ', ...' : ''}}`;
  } finally {
    seen.delete(o);
  }
}

function formatProp(o: object, key: string, depth: number, seen: Set<object>): string {
  const d = Object.getOwnPropertyDescriptor(o, key);
  if (!d) return 'empty';
  if (!('value' in d)) return '[getter]';
  return formatAny(d.value, depth + 1, seen);
}

/** The name of an object's class without running user code (undefined for a null prototype). */
function constructorName(o: object): string | undefined {
  const proto = Object.getPrototypeOf(o) as object | null;
  if (proto === null) return undefined;
  const d = Object.getOwnPropertyDescriptor(proto, 'constructor');
  const ctor = d && 'value' in d ? (d.value as unknown) : undefined;
  if (typeof ctor !== 'function') return 'Object';
  const n = Object.getOwnPropertyDescriptor(ctor, 'name');
  return n && typeof n.value === 'string' && n.value ? n.value : 'Object';
}

/**
 * What kind of value `x` is, as an error's `got` says it: 'null', 'undefined', 'number 3',
 * 'bigint 3n', 'string "a"', 'a plain object', 'an instance of Map', 'Array(2)'... Never throws.
 */
export function typeName(x: unknown): string {
  try {
    if (x === null) return 'null';
    switch (typeof x) {
      case 'undefined': return 'undefined';
      case 'function': {
        const n = Object.getOwnPropertyDescriptor(x, 'name');
        return n && typeof n.value === 'string' && n.value ? `function ${n.value}` : 'a function';
      }
      case 'object': {
        if (Array.isArray(x)) return `Array(${x.length})`;
        const ctor = constructorName(x);
        if (ctor === undefined) return 'an object with no prototype';
        return ctor === 'Object' ? 'a plain object' : `an instance of ${ctor}`;
      }
      default: return `${typeof x} ${formatAny(x, 0, new Set())}`;
    }
  } catch {
    return typeof x;
  }
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
