import type { Operand } from '../backends/backend.js';
import { XpuDTypeError, XpuShapeError, XpuValueError } from '../errors.js';
import { checkSameDevice, optionalTensorArg, wrap } from '../ops/common.js';
import { add, gelu, relu, silu } from '../ops/math.js';
import { reshape } from '../ops/views.js';
import { isFloating } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Activation } from '../backends/backend.js';
import { int8RowStride } from './formats.js';
import { isGgufWeightFormat } from './gguf_formats.js';
import type { QuantizedTensor } from './quantized_tensor.js';
import { quantizeRowsInt8 } from './quantize_rows.js';
import { differentiable } from '../autograd/record.js';

export interface QuantLinearOptions {
  bias?: Tensor;
  activation?: Activation;
  residual?: Tensor;
}

/**
 * xpu.linear(x, qw, { bias }) for a quantized weight: x [..., K] -> [..., N] in x's dtype. The bias
 * is fused into the kernel's store; an activation or residual runs as one more op each (the
 * quantized kernels do not fuse them yet). int8_dynamic quantizes x per row first (the same map
 * kernels as the weights, float32 scales), then multiplies integers.
 */
/** Strides of `t` (shaped like the output [..., n]) as an [m, n] matrix, when its leading dims merge. */
function rowsOf(t: Tensor, m: number, n: number): [number, number] | undefined {
  const sn = t.strides[t.ndim - 1];
  let sm: number | undefined;
  let span = 1;
  for (let d = t.ndim - 2; d >= 0; d--) {
    if (t.shape[d] === 1) continue;
    if (sm === undefined) sm = t.strides[d];
    else if (t.strides[d] !== sm * span) return undefined;
    span *= t.shape[d];
  }
  return [m === 1 ? 0 : (sm ?? 0), n === 1 ? 0 : sn];
}

export function quantizedLinear(input: Tensor, qw: QuantizedTensor, options: QuantLinearOptions = {}): Tensor {
  // The weight is frozen: gradients flow to the input, the bias and the residual only.
  return differentiable(
    'linearQuantized',
    [input, options.bias ?? null, options.residual ?? null],
    () => quantizedLinearOf(input, qw, options),
    { weight: qw, activation: options.activation },
  );
}

function quantizedLinearOf(input: Tensor, qw: QuantizedTensor, options: QuantLinearOptions): Tensor {
  const op = 'linear';
  const bias = optionalTensorArg(op, 'bias', options.bias);
  optionalTensorArg(op, 'residual', options.residual);
  const tensors = [input, qw.qdata, ...(bias ? [bias] : [])];
  const device = checkSameDevice(op, tensors, ['input', 'weight', ...(bias ? ['bias'] : [])]);
  qw.check(op);
  if (!isFloating(input.dtype))
    throw new XpuDTypeError('linear needs a float input', { op, arg: 'input', expected: 'float32 or float16', got: input.dtype });
  const [n, k] = qw.shape;
  if (input.ndim === 0 || input.shape[input.ndim - 1] !== k) {
    throw new XpuShapeError('last dim of input must be in_features', {
      op,
      arg: 'input',
      expected: `[..., ${k}] (weight is ${qw.scheme} [${n}, ${k}])`,
      got: fmtShape(input.shape),
    });
  }
  if (bias && !(bias.ndim === 1 && bias.shape[0] === n))
    throw new XpuShapeError('bias must be [out_features]', { op, arg: 'bias', expected: `[${n}]`, got: fmtShape(bias.shape) });
  if (bias && !isFloating(bias.dtype))
    throw new XpuDTypeError('bias must be float', { op, arg: 'bias', expected: 'float32 or float16', got: bias.dtype });
  const act = options.activation;
  if (act !== undefined && act !== 'relu' && act !== 'gelu' && act !== 'silu')
    throw new XpuValueError('unknown activation', { op, arg: 'activation', expected: "'relu', 'gelu', 'silu'", got: String(act) });
  const lead = input.shape.slice(0, -1);
  const m = lead.reduce((x, y) => x * y, 1);
  const outShape = [...lead, n];
  if (m === 0) return wrap(device, device.backend.alloc(input.dtype, 0, op), outShape, input.dtype);
  // On cpu the kernel reads x's rows where they lie when its leading dims merge (a decode step's
  // [B, 1, K] activations), so no [m, K] view is made per call (211 a SmolLM2 token).
  const rows = device.type === 'cpu' && qw.scheme !== 'int8_dynamic' && input.ndim !== 2 ? rowsOf(input, m, k) : undefined;
  const x2 = input.ndim === 2 || rows ? input : reshape(input, [m, k]); // a view when the strides allow
  const temps: Tensor[] = x2 === input ? [] : [x2];
  let a: Operand = rows
    ? { storage: input.ref.storage, dtype: input.dtype, strides: [m === 1 ? k : rows[0], k === 1 ? 1 : rows[1]], offset: input.offset }
    : { storage: x2.ref.storage, dtype: x2.dtype, strides: [x2.strides[0], x2.strides[1]], offset: x2.offset };
  let aScales;
  if (qw.scheme === 'int8_dynamic') {
    const { q, scales } = quantizeRowsInt8(device, x2, m, k, x2.strides[0], x2.strides[1], 'float32');
    temps.push(q, scales);
    a = { storage: q.ref.storage, dtype: 'int8', strides: [int8RowStride(k), 1], offset: 0 };
    aScales = scales.ref.storage;
  }
  const biasOp: Operand | undefined = bias
    ? { storage: bias.ref.storage, dtype: bias.dtype, strides: [0, bias.strides[0]], offset: bias.offset }
    : undefined;
  // GGUF weights on cpu fuse the activation and a residual of the output's shape into the native
  // kernel's store (one pass over the output instead of one op each; a decode step of SmolLM2 has
  // 90 of them). xpu's quantized store does not have them yet: separate ops there.
  const res = options.residual;
  const fuse = device.type === 'cpu' && isGgufWeightFormat(qw.format);
  const fuseRes =
    fuse &&
    res !== undefined &&
    res.device === device &&
    res.ndim === outShape.length &&
    res.shape.every((d, i) => d === outShape[i]) &&
    res.dtype === input.dtype &&
    rowsOf(res, m, n) !== undefined;
  const resOp: Operand | undefined = fuseRes
    ? { storage: res.ref.storage, dtype: res.dtype, strides: rowsOf(res, m, n)!, offset: res.offset }
    : undefined;
  const storage = device.backend.qmatmul({
    a,
    m,
    aScales,
    w: qw.kernelWeight(),
    outDtype: input.dtype,
    bias: biasOp,
    activation: fuse ? act : undefined,
    residual: resOp,
  });
  for (const t of temps) t.dispose(); // the queue keeps its buffers until the kernel ran
  let out = wrap(device, storage, outShape, input.dtype);
  if (fuse && (fuseRes || !options.residual)) return out;
  if (act && !fuse) {
    const y = act === 'relu' ? relu(out) : act === 'gelu' ? gelu(out) : silu(out);
    out.dispose();
    out = y;
  }
  if (options.residual) {
    checkSameDevice(op, [out, options.residual], ['output', 'residual']);
    const y = add(out, options.residual);
    if (y.shape.length !== out.shape.length || y.shape.some((d, i) => d !== out.shape[i])) {
      y.dispose();
      throw new XpuShapeError('does not broadcast to the output', {
        op,
        arg: 'residual',
        expected: `a shape broadcastable to ${fmtShape(outShape)}`,
        got: fmtShape(options.residual.shape),
      });
    }
    out.dispose();
    out = y;
  }
  return out;
}
