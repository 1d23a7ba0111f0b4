import type { MapContext, MapKernel, Operand, Scalar } from '../backends/backend.js';
import type { Device } from '../device/device.js';
import { XpuDTypeError, XpuTypeError, XpuValueError } from '../errors.js';
import { typeName } from '../format_value.js';
import { castNumber, dtypeInfo, isFloating, promoteTypes, resultType as promote, type ComputeKind, type DType } from '../tensor/dtype.js';
import { broadcastShapes } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, copyAs, operand, runMap, scalarWgsl, tensorArg } from './common.js';
import { BINARY, BOOL_RESULT, INTEGER_DIVISIONS, PARAMETRIC, UNARY, type ElementwiseDef } from './elementwise_table.js';
import { checkIntegerDivisor } from './divisor.js';
import { needsGrad, needsGrad2, recordOp } from '../autograd/record.js';

/** A tensor, or a JS number/boolean that acts as a scalar (PyTorch's "wrapped number"). */
export type TensorOrScalar = Tensor | number | boolean;

function checkNumber(op: string, arg: string, x: unknown): number {
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (typeof x !== 'number')
    throw new XpuTypeError('not a tensor or a number', { op, arg, expected: 'Tensor, number or boolean', got: typeName(x) });
  return x;
}

/** Checks an operand that may be a tensor or a scalar, before anything reads it. */
function operandArg(op: string, arg: string, x: unknown): void {
  if (x instanceof Tensor) tensorArg(op, arg, x);
  else checkNumber(op, arg, x);
}

/** The dtype operands promote to: torch.result_type's rule (tensor/dtype.ts resultType). */
function resultType(op: string, xs: readonly TensorOrScalar[]): DType {
  return promote(
    xs.map((x) =>
      x instanceof Tensor ? { dtype: x.dtype, zeroDim: x.shape.length === 0 } : typeof x === 'boolean' ? x : checkNumber(op, 'other', x),
    ),
  );
}

/**
 * Runs an elementwise def over a mix of tensors and scalars. Scalars travel as uniforms, so a
 * chain like x.mul(2).add(1) records two dispatches and uploads nothing.
 */
export function run(
  op: string,
  def: ElementwiseDef,
  xs: readonly TensorOrScalar[],
  argDtype: DType,
  outDtype: DType,
  names: string[],
): Tensor {
  const tensors = xs.filter((x): x is Tensor => x instanceof Tensor);
  const device: Device = checkSameDevice(
    op,
    tensors,
    names.filter((_, j) => xs[j] instanceof Tensor),
  );
  const outShape = broadcastShapes(op, ...tensors.map((t) => t.shape));
  const argKind: ComputeKind = dtypeInfo(argDtype).compute;
  const inputs: Operand[] = [];
  const scalars: Scalar[] = [];
  const temps: Tensor[] = [];
  let pattern = '';
  for (let j = 0; j < xs.length; j++) {
    const x = xs[j];
    if (x instanceof Tensor) {
      // Operands are converted to the result dtype first, as in torch: only a 0-d tensor can be
      // of a wider type (int8[3] + int32 0-d 300 adds 44; a float32 0-d rounds to float16).
      const narrowed = promoteTypes(x.dtype, argDtype) !== argDtype ? copyAs(op, x, argDtype) : x;
      if (narrowed !== x) temps.push(narrowed);
      inputs.push(operand(narrowed, outShape));
      pattern += 't';
    } else {
      scalars.push({ kind: argKind, value: checkNumber(op, names[j], x) });
      pattern += 's';
    }
  }
  const kernel = elementwiseKernel(op, def, argKind, pattern);
  // Scalars are converted to the result dtype, as torch does (uint8 < -1 compares with 255, a
  // float16 op sees 0.1 as float16), which is also what the GPU's uniform bits hold.
  for (const s of scalars) s.value = castNumber(s.value, argDtype);
  const out = runMap({ device, kernel, inputs, outShape, outDtype, argKind, scalars });
  for (const t of temps) t.dispose(); // the map above has read them (or is recorded before any reuse)
  return out;
}

const KERNELS = new WeakMap<ElementwiseDef, Map<string, MapKernel>>();

/**
 * The map kernel of a def for an argument kind and an operand pattern ('t' tensor, 's' scalar
 * per operand), made once: its WGSL, its JS twin's caller and its pure form depend on nothing
 * else, and building them (strings, closures) was a good part of a small eager op's cost.
 */
function elementwiseKernel(op: string, def: ElementwiseDef, argKind: ComputeKind, pattern: string): MapKernel {
  let byKey = KERNELS.get(def);
  if (!byKey) KERNELS.set(def, (byKey = new Map()));
  const key = `${op}|${argKind}|${pattern}`;
  let kernel = byKey.get(key);
  if (kernel) return kernel;
  const pre: string[] = [];
  let tensors = 0;
  let scalarSlots = 0;
  for (let j = 0; j < pattern.length; j++) {
    if (pattern[j] === 't') pre.push(`let x${j} = ld${tensors}(e${tensors++});`);
    else pre.push(`let x${j} = ${scalarWgsl(argKind, scalarSlots++)};`);
  }
  const js = twin(def, argKind);
  const kinds = [...pattern];
  const slots = kinds.map((p, j) => ({ tensor: p === 't', index: kinds.slice(0, j).filter((q) => q === p).length }));
  kernel = {
    name: `${op}_${pattern}`,
    lazy: true,
    wgsl: `${pre.join('\n  ')}\n  ${def.wgsl(argKind)}`,
    js: slotCaller(js, slots),
    pure: { fn: js, slots, op },
  };
  byKey.set(key, kernel);
  return kernel;
}

const TWINS = new WeakMap<ElementwiseDef, Map<ComputeKind, (...x: number[]) => number>>();

/**
 * The def's JS twin for a kind, one function object per (def, kind): the cpu backend caches the
 * loops it compiles around a pure map by that object (src/backends/cpu/map_fast.ts).
 */
function twin(def: ElementwiseDef, kind: ComputeKind): (...x: number[]) => number {
  let byKind = TWINS.get(def);
  if (!byKind) TWINS.set(def, (byKind = new Map()));
  let fn = byKind.get(kind);
  if (!fn) byKind.set(kind, (fn = def.js(kind)));
  return fn;
}

type Getter = (ctx: MapContext) => number;

/** The CPU twin's call, unrolled by arity so the per-element path allocates nothing. */
function slotCaller(f: (...x: number[]) => number, slots: { tensor: boolean; index: number }[]): MapKernel['js'] {
  const g: Getter[] = slots.map(({ tensor, index }) => (tensor ? (c) => c.load(index, c.e[index]) : (c) => c.scalars[index]));
  switch (g.length) {
    case 1: {
      const [a] = g;
      return (_x, c) => f(a(c));
    }
    case 2: {
      const [a, b] = g;
      return (_x, c) => f(a(c), b(c));
    }
    case 3: {
      const [a, b, d] = g;
      return (_x, c) => f(a(c), b(c), d(c));
    }
    default:
      return (_x, c) => f(...g.map((get) => get(c)));
  }
}

export function unaryOp(name: keyof typeof UNARY & string, x: Tensor): Tensor {
  const def = UNARY[name];
  tensorArg(name, 'input', x);
  if (x.dtype === 'bool' && (name === 'neg' || name === 'abs' || name === 'relu' || def.refuse === 'bool')) {
    throw new XpuDTypeError('not supported for bool tensors', { op: name, arg: 'input', expected: 'a numeric dtype', got: 'bool' });
  }
  if (def.refuse === 'nonfloat') floatInput(name, x);
  const dtype = def.floatOnly && !isFloating(x.dtype) ? 'float32' : def.boolAsInt && x.dtype === 'bool' ? 'int32' : x.dtype;
  const out = run(name, def, [x], dtype, def.boolOut ? 'bool' : dtype, ['input']);
  if (x.requiresGrad && needsGrad(x)) recordOp(name, [x], out);
  return out;
}

function floatInput(op: string, x: Tensor): void {
  if (!isFloating(x.dtype))
    throw new XpuDTypeError('needs a floating point input', { op, arg: 'input', expected: 'float32 or float16', got: x.dtype });
}

/**
 * A unary op with float parameters (leakyRelu's slope, softplus's beta...), named `op` in errors.
 * The parameters stay float32 for a float16 input, as torch computes half ops in float.
 */
export function parametricOp(op: string, name: keyof typeof PARAMETRIC & string, x: Tensor, params: number[]): Tensor {
  tensorArg(op, 'input', x);
  floatInput(op, x);
  const out = run(op, PARAMETRIC[name], [x, ...params], 'float32', x.dtype, ['input', ...params.map((_, i) => `param${i}`)]);
  if (x.requiresGrad && needsGrad(x)) recordOp(op, [x], out, { params });
  return out;
}

export function binaryOp(name: keyof typeof BINARY & string, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  operandArg(name, 'input', a);
  operandArg(name, 'other', b);
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    throw new XpuValueError('needs at least one tensor', {
      op: name,
      arg: 'input',
      expected: 'a Tensor',
      got: `${typeof a} and ${typeof b}`,
    });
  }
  let t = resultType(name, [a, b]);
  if (name === 'div' && !isFloating(t)) t = 'float32'; // true division
  if (t === 'bool' && !BOOL_RESULT.has(name) && name !== 'maximum' && name !== 'minimum' && name !== 'mul') {
    throw new XpuDTypeError('not supported for bool tensors', {
      op: name,
      arg: 'input',
      expected: 'numeric dtypes (cast with .to())',
      got: 'bool',
    });
  }
  if (INTEGER_DIVISIONS.has(name)) checkIntegerDivisor(name, b, t);
  const outDtype = BOOL_RESULT.has(name) ? 'bool' : t;
  const out = run(name, BINARY[name], [a, b], t, outDtype, ['input', 'other']);
  if (needsGrad2(a, b)) recordOp(name, [a, b], out);
  return out;
}

/** A binary op that takes tensors only, as torch's logical ops do: a number is refused by name. */
export function tensorsOp(name: keyof typeof BINARY & string, a: Tensor, b: Tensor): Tensor {
  tensorArg(name, 'input', a);
  tensorArg(name, 'other', b);
  return binaryOp(name, a, b);
}

const WHERE: ElementwiseDef = { wgsl: () => 'return select(x2, x1, x0 != A(0));', js: () => (c, x, y) => (c !== 0 ? x : y) };

/** where(cond, a, b): a where cond is true, else b, with broadcasting. */
export function where(cond: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  tensorArg('where', 'condition', cond);
  operandArg('where', 'input', a);
  operandArg('where', 'other', b);
  if (cond.dtype !== 'bool')
    throw new XpuDTypeError('condition must be bool', { op: 'where', arg: 'condition', expected: 'bool', got: cond.dtype });
  const values = [a, b].filter((x) => x instanceof Tensor);
  const t = values.length
    ? resultType('where', values.length === 2 ? [a, b] : [values[0], ...[a, b].filter((x) => !(x instanceof Tensor))])
    : 'float32';
  if (!values.length)
    throw new XpuValueError('needs a tensor value', {
      op: 'where',
      arg: 'input',
      expected: 'a Tensor for input or other',
      got: 'two scalars',
    });
  const out = run('where', WHERE, [cond, a, b], t, t, ['condition', 'input', 'other']);
  if (needsGrad(a, b)) recordOp('where', [cond, a, b], out);
  return out;
}
