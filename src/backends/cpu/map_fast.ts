import type { MapSpec, PureMap } from '../backend.js';
import {
  convertKind,
  dtypeInfo,
  f16BitsToNumber,
  numberToF16Bits,
  type ComputeKind,
  type DType,
  type HostArray,
} from '../../tensor/dtype.js';
import type { CpuStorage } from './storage.js';

/**
 * The cpu map for pure kernels (MapKernel.pure: elementwise ops, where, casts, copies, fills):
 * typed-array loops instead of the generic path's closure per element (backend.ts), which went
 * through a reader, the kernel's `js` and a writer per element, all megamorphic call sites shared
 * by every kernel: a 1M-element add took ~40 ms there, ~2 ms here.
 *
 * One loop function is generated (new Function) per pure function and layout signature (operand
 * dtypes and load kinds, output dtype, how each operand walks the innermost dim), and cached. Each
 * generated function is its own code with its own type feedback, so the call of the kernel's
 * function inside it stays monomorphic and V8 inlines it: the per-element math is still the
 * kernel's own JS twin (src/ops/elementwise_table.ts), never rewritten here. Loads and stores
 * follow the generic path exactly: host_io.ts's readers (convertKind, float16 decoded) and
 * writers (castNumber, which is what a typed array's own store does for the integer dtypes and
 * float32; bool and float16 are spelled out).
 *
 * The output is walked in rows of the innermost (merged) dim; each operand's innermost stride is
 * 1 (contiguous), 0 (broadcast: loaded once per row) or anything else (strided); the outer dims
 * advance by an odometer once per row. So contiguous, scalar-broadcast, row- and column-broadcast
 * and general strided views all run without a call per element.
 */

/** How an operand walks the innermost dim: contiguous, broadcast (stride 0), strided. */
type Mode = 'c' | 'b' | 's';

type Loop = (
  o: HostArray,
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offs: readonly number[],
  ins: readonly HostArray[],
  sc: readonly number[],
) => void;

const LOOPS = new WeakMap<PureMap['fn'], Map<number | string, Loop>>();

const DTYPE_CODE: Record<DType, number> = { float32: 0, float16: 1, int32: 2, uint32: 3, int8: 4, uint8: 5, bool: 6 };
const KIND_CODE: Record<ComputeKind, number> = { f32: 0, i32: 1, u32: 2 };
const MODE_CODE: Record<Mode, number> = { c: 0, b: 1, s: 2 };
let generated = 0;

/** Rows at least this long are copied with TypedArray.set (a memcpy); shorter ones by a loop. */
const SET_MIN_ROW = 32;

/** Conversions between compute kinds, as convertKind (the WGSL loaders' semantics). */
const CONVERT: Record<string, (x: number) => number> = {
  'f32>i32': (x) => convertKind(x, 'f32', 'i32'),
  'f32>u32': (x) => convertKind(x, 'f32', 'u32'),
  'i32>u32': (x) => convertKind(x, 'i32', 'u32'),
  'u32>i32': (x) => convertKind(x, 'u32', 'i32'),
};

/** The expression that loads `x` (an element of `dtype`) as `to`, as host_io.ts hostReader does. */
function loadExpr(x: string, dtype: DType, to: ComputeKind): string {
  if (dtype === 'float16') return to === 'f32' ? `h2f(${x})` : `cv_f32_${to}(h2f(${x}))`;
  const from = dtypeInfo(dtype).compute;
  if (from === to) return x;
  if (to === 'f32') return `Math.fround(${x})`;
  return `cv_${from}_${to}(${x})`;
}

/** The expression that turns a result into what `dtype`'s array stores, as host_io.ts hostWriter does. */
function storeExpr(v: string, dtype: DType): string {
  if (dtype === 'float16') return `f2h(${v})`;
  if (dtype === 'bool') return `(${v} !== 0 ? 1 : 0)`; // NaN is true, as castNumber
  // float32 rounds to nearest; the integer arrays truncate and wrap: castNumber's semantics.
  return v;
}

/** A value `dtype`'s array holds, for TypedArray.fill. */
function storeOne(v: number, dtype: DType): number {
  return dtype === 'float16' ? numberToF16Bits(v) : dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
}

interface Operands {
  dtypes: DType[];
  kinds: ComputeKind[];
  modes: Mode[];
}

function generate(pure: PureMap, ops: Operands, outDtype: DType, raw: boolean, label: string): Loop {
  const { slots } = pure;
  const n = ops.dtypes.length;
  const lines: string[] = [];
  const load = (k: number, x: string) => (raw ? x : loadExpr(x, ops.dtypes[k], ops.kinds[k]));
  const idx = (k: number) => (ops.modes[k] === 'c' ? `e${k} + j` : ops.modes[k] === 's' ? `e${k} + j * t${k}` : `e${k}`);
  const args = slots.map((s) =>
    s.tensor ? (ops.modes[s.index] === 'b' ? `b${s.index}` : load(s.index, `a${s.index}[${idx(s.index)}]`)) : `s${s.index}`,
  );
  const value = raw ? args[0] : storeExpr(`f(${args.join(', ')})`, outDtype);
  lines.push(`// map_fast #${++generated}: ${label}`);
  lines.push('return function mapFast(o, shape, strides, offs, ins, sc) {');
  for (let k = 0; k < n; k++) lines.push(`  const a${k} = ins[${k}], st${k} = strides[${k}];`);
  for (const s of slots) if (!s.tensor) lines.push(`  const s${s.index} = sc[${s.index}];`);
  lines.push('  const r = shape.length - 1, inner = shape[r];');
  lines.push('  let rows = 1;');
  lines.push('  for (let d = 0; d < r; d++) rows *= shape[d];');
  for (let k = 0; k < n; k++) lines.push(`  let e${k} = offs[${k}];${ops.modes[k] === 's' ? ` const t${k} = st${k}[r];` : ''}`);
  lines.push('  const c = r > 0 ? new Int32Array(r) : null; // the outer odometer (none for one run)');
  lines.push('  for (let row = 0, i = 0; row < rows; row++, i += inner) {');
  for (let k = 0; k < n; k++) if (ops.modes[k] === 'b') lines.push(`    const b${k} = ${load(k, `a${k}[e${k}]`)};`);
  lines.push(`    for (let j = 0; j < inner; j++) o[i + j] = ${value};`);
  lines.push('    if (c === null) break;');
  lines.push('    for (let d = r - 1; d >= 0; d--) {');
  lines.push(`      c[d]++;${Array.from({ length: n }, (_, k) => ` e${k} += st${k}[d];`).join('')}`);
  lines.push('      if (c[d] < shape[d]) break;');
  lines.push(`      c[d] = 0;${Array.from({ length: n }, (_, k) => ` e${k} -= st${k}[d] * shape[d];`).join('')}`);
  lines.push('    }');
  lines.push('  }');
  lines.push('};');
  const make = new Function('f', 'h2f', 'f2h', 'cv_f32_i32', 'cv_f32_u32', 'cv_i32_u32', 'cv_u32_i32', lines.join('\n')) as (
    ...a: unknown[]
  ) => Loop;
  return make(pure.fn, f16BitsToNumber, numberToF16Bits, CONVERT['f32>i32'], CONVERT['f32>u32'], CONVERT['i32>u32'], CONVERT['u32>i32']);
}

function modeOf(stride: number): Mode {
  return stride === 1 ? 'c' : stride === 0 ? 'b' : 's';
}

/**
 * Runs a pure map into `out` (numel n, contiguous). `shape` and `strides` are the output's dims
 * and the inputs' strides after merging (coalesce). Returns false when the kernel is not pure.
 * Per call this only builds the layout key and looks the loop up (a 256-element op costs a few
 * microseconds in all, so the dispatch allocates as little as it can).
 */
export function fastMap(
  spec: MapSpec,
  out: HostArray,
  n: number,
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): boolean {
  const pure = spec.kernel.pure;
  if (!pure) return false;
  if (n === 0) return true;
  const { inputs, outDtype, argKind } = spec;
  const scalars = spec.scalars;
  const sc: number[] = [];
  if (scalars) for (let k = 0; k < scalars.length; k++) sc.push(scalars[k].value);
  const nIn = inputs.length;
  if (nIn === 0) {
    // A fill: one value, computed by the kernel's own function.
    out.fill(storeOne(pure.fn(...pure.slots.map((s) => sc[s.index])), outDtype));
    return true;
  }
  const dims = shape.length ? shape : [1];
  const st = shape.length ? strides : strides.map(() => [0]);
  const last = dims.length - 1;
  const outKind = dtypeInfo(outDtype).compute;
  // The identity from a dtype to itself copies elements as they are (float16 bits, NaN payloads).
  let raw = pure.copy === true && nIn === 1 && inputs[0].dtype === outDtype;
  // The layout signature as one number (up to 3 operands and slots; 4 bits a slot, 8 an operand:
  // below 2^53), a string beyond: no string is built for the common case.
  const slots = pure.slots;
  const numeric = nIn <= 3 && slots.length <= 3;
  let code = DTYPE_CODE[outDtype];
  let text = numeric ? '' : outDtype;
  for (let j = 0; j < slots.length; j++) {
    if (numeric) code = code * 16 + (slots[j].tensor ? 8 : 0) + Math.min(slots[j].index, 7);
    else text += slots[j].tensor ? `,t${slots[j].index}` : `,s${slots[j].index}`;
  }
  const data: HostArray[] = [];
  const offs: number[] = [];
  for (let k = 0; k < nIn; k++) {
    const op = inputs[k];
    const kind = spec.loadKinds?.[k] ?? argKind;
    if (kind !== outKind) raw = false;
    const mode = modeOf(st[k][last]);
    if (numeric) code = code * 256 + DTYPE_CODE[op.dtype] * 16 + KIND_CODE[kind] * 4 + MODE_CODE[mode];
    else text += `|${op.dtype}:${kind}:${mode}`;
    data.push((op.storage as CpuStorage).data);
    offs.push(op.offset);
  }
  if (raw && st[0][last] === 1 && dims[last] >= SET_MIN_ROW) {
    copyRows(out, data[0], n, dims, st[0], offs[0]);
    return true;
  }
  // Slot and operand counts make the numeric codes of different arities distinct.
  const key = numeric ? (code * 8 + slots.length) * 8 + nIn + (raw ? 0.5 : 0) : raw ? `${text}|raw` : text;
  let byKey = LOOPS.get(pure.fn);
  if (!byKey) LOOPS.set(pure.fn, (byKey = new Map()));
  let loop = byKey.get(key);
  if (!loop) {
    const ops: Operands = {
      dtypes: inputs.map((op) => op.dtype),
      kinds: inputs.map((_, k) => spec.loadKinds?.[k] ?? argKind),
      modes: st.map((s) => modeOf(s[last])),
    };
    byKey.set(
      key,
      (loop = generate(pure, ops, outDtype, raw, `${spec.kernel.name} ${ops.dtypes.join(',')} ${ops.modes.join('')} -> ${outDtype}`)),
    );
  }
  loop(out, dims, st, offs, data, sc);
  return true;
}

/** A same-dtype copy whose innermost dim is contiguous: one TypedArray.set (memcpy) per row. */
function copyRows(
  out: HostArray,
  src: HostArray,
  total: number,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): void {
  const r = shape.length - 1;
  const inner = shape[r];
  const dst = out as Float32Array; // same dtype as src: set() copies elements as they are
  const c = new Int32Array(r > 0 ? r : 1);
  let e = offset;
  for (let i = 0; i < total; i += inner) {
    dst.set(src.subarray(e, e + inner) as Float32Array, i);
    for (let d = r - 1; d >= 0; d--) {
      c[d]++;
      e += strides[d];
      if (c[d] < shape[d]) break;
      c[d] = 0;
      e -= strides[d] * shape[d];
    }
  }
}
