import type { Activation, MatmulEpilogue, Operand } from '../backends/backend.js';
import { isActivation, ACTIVATIONS } from '../backends/activation.js';
import { XpuShapeError, XpuValueError } from '../errors.js';
import { broadcastShapes, fmtShape, numberArg, shapeEq } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, operand, optionalTensorArg, optionsArg, tensorArg } from './common.js';
import { checkGemmDtypes, matmul, runGemm } from './matmul.js';
import { isQuantizedTensor, type QuantizedTensor } from '../quant/quantized_tensor.js';
import { quantizedLinear } from '../quant/linear.js';
import { needsGrad, recordOp, saveTensor } from '../autograd/record.js';
import { noGrad } from '../autograd/grad_mode.js';
import { unaryOp } from './elementwise.js';
import { add } from './math.js';

/**
 * GEMMs with a fused epilogue: the bias, the activation and the residual run inside the GEMM's
 * store (one dispatch, no intermediate tensor), on both devices through MatmulSpec.epilogue.
 */

export interface LinearOptions {
  /** [out_features], added to every row. */
  bias?: Tensor;
  /** Applied after the bias: 'relu', 'gelu' (erf form, PyTorch's default) or 'silu'. */
  activation?: Activation;
  /** Added last (after the activation); broadcastable to the output, e.g. a skip connection. */
  residual?: Tensor;
}

export interface AddmmOptions {
  /** Scales `input` (default 1; 0 ignores input, NaN and all, as PyTorch does). */
  beta?: number;
  /** Scales mat1 @ mat2 (default 1). */
  alpha?: number;
}

function checkActivation(op: string, activation: unknown): Activation | undefined {
  if (activation === undefined) return undefined;
  if (!isActivation(activation)) {
    throw new XpuValueError('unknown activation', {
      op,
      arg: 'activation',
      expected: Object.keys(ACTIVATIONS)
        .map((a) => `'${a}'`)
        .join(', '),
      got: String(activation),
    });
  }
  return activation;
}

/** A tensor added to an output of `outShape`: it may broadcast up to it, never grow it. */
function checkAddend(op: string, arg: string, t: Tensor, outShape: readonly number[]): void {
  let ok = t.ndim <= outShape.length;
  if (ok) {
    try {
      ok = shapeEq(broadcastShapes(op, outShape, t.shape), outShape);
    } catch {
      ok = false;
    }
  }
  if (!ok)
    throw new XpuShapeError('does not broadcast to the output', {
      op,
      arg,
      expected: `a shape broadcastable to ${fmtShape(outShape)}`,
      got: fmtShape(t.shape),
    });
}

const checkScalar = (op: string, arg: string, x: unknown): number => numberArg(op, arg, x, true);

/**
 * torch.nn.functional.linear with a fused epilogue: act(input @ weight^T + bias) + residual.
 * weight is [out_features, in_features] and is read transposed in place (never copied); input is
 * [..., in_features] (1-D gives a 1-D result), and its leading dims are the batch.
 */
export function linear(input: Tensor, weight: Tensor | QuantizedTensor, options: LinearOptions = {}): Tensor {
  // A quantized weight (xpu.quant.quantize) runs the quantized kernels (src/quant/linear.ts).
  const op = 'linear';
  tensorArg(op, 'input', input);
  optionsArg(op, options);
  if (isQuantizedTensor(weight)) return quantizedLinear(input, weight, options);
  tensorArg(op, 'weight', weight);
  const bias = optionalTensorArg(op, 'bias', options.bias);
  const residual = optionalTensorArg(op, 'residual', options.residual);
  const tensors = [input, weight, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  const names = ['input', 'weight', ...(bias ? ['bias'] : []), ...(residual ? ['residual'] : [])];
  const device = checkSameDevice(op, tensors, names);
  const dtype = checkGemmDtypes(op, tensors, names);
  const activation = checkActivation(op, options.activation);
  if (weight.ndim !== 2) {
    throw new XpuShapeError('weight must be 2-D', {
      op,
      arg: 'weight',
      expected: '[out_features, in_features]',
      got: fmtShape(weight.shape),
    });
  }
  const [n, k] = weight.shape;
  if (input.ndim === 0 || input.shape[input.ndim - 1] !== k) {
    throw new XpuShapeError('last dim of input must be in_features', {
      op,
      arg: 'input',
      expected: `[..., ${k}] (weight is ${fmtShape(weight.shape)})`,
      got: fmtShape(input.shape),
    });
  }
  if (bias && !(bias.ndim === 1 && bias.shape[0] === n)) {
    throw new XpuShapeError('bias must be [out_features]', { op, arg: 'bias', expected: `[${n}]`, got: fmtShape(bias.shape) });
  }
  const rows = input.ndim === 1 ? [1] : input.shape.slice(-2, -1);
  const batch = input.shape.slice(0, -2);
  const m = rows[0];
  const full = [...batch, m, n];
  const outShape = input.ndim === 1 ? [n] : full;
  if (residual) checkAddend(op, 'residual', residual, outShape);
  // A 1-D input is one row: its strides over [1, k] are just its own (the row stride is unused).
  const a: Operand =
    input.ndim === 1
      ? { storage: input.ref.storage, dtype, strides: [0, input.strides[0]], offset: input.offset }
      : operand(input, [...batch, m, k]);
  // weight^T as a [k, n] operand: the weight's strides swapped, zero over the batch dims.
  const b: Operand = {
    storage: weight.ref.storage,
    dtype,
    strides: [...batch.map(() => 0), weight.strides[1], weight.strides[0]],
    offset: weight.offset,
  };
  const epilogue: MatmulEpilogue | undefined =
    bias || activation || residual
      ? {
          bias: bias ? operand(bias, full) : undefined,
          activation,
          residual: residual ? operand(residual, full) : undefined,
        }
      : undefined;
  const grad = needsGrad(input, weight, bias, residual);
  // On cpu the forward stays one fused launch and an activation's backward recomputes the
  // pre-activation with one GEMM (bias fused): the activation as a separate pass there measured no
  // faster than a oneDNN GEMM. On xpu the GEMM is the dearer pass by far (lavapipe: the step's
  // largest kernels), so a float32 linear that will be differentiated keeps its pre-activation:
  // the GEMM stores it (bias fused), one map applies the activation (and the residual), and the
  // backward reads it instead of running the GEMM again (bench/results/README.md, train).
  if (grad && activation && dtype === 'float32' && device.type === 'xpu') {
    const pre = runGemm(device, a, b, batch, m, k, n, dtype, bias ? { bias: operand(bias, full) } : undefined, outShape);
    const out = noGrad(() => {
      const act = unaryOp(activation, pre);
      if (!residual) return act;
      const sum = add(act, residual);
      act.dispose();
      return sum;
    });
    recordOp('linear', [input, weight, bias ?? null, residual ?? null], out, { activation, preActivation: saveTensor(pre) });
    pre.dispose();
    return out;
  }
  const out = runGemm(device, a, b, batch, m, k, n, dtype, epilogue, outShape);
  if (grad) recordOp('linear', [input, weight, bias ?? null, residual ?? null], out, { activation });
  return out;
}

/** torch.bmm: [b, n, m] @ [b, m, p] -> [b, n, p]; no broadcasting (use matmul for that). */
export function bmm(input: Tensor, mat2: Tensor): Tensor {
  const op = 'bmm';
  checkSameDevice(op, [input, mat2], ['input', 'mat2']);
  for (const [t, arg] of [
    [input, 'input'],
    [mat2, 'mat2'],
  ] as const) {
    if (t.ndim !== 3)
      throw new XpuShapeError('bmm needs 3-D tensors', { op, arg, expected: '3 dims [batch, rows, cols]', got: fmtShape(t.shape) });
  }
  if (input.shape[0] !== mat2.shape[0]) {
    throw new XpuShapeError('batch sizes differ', {
      op,
      arg: 'mat2',
      expected: `batch ${input.shape[0]} (as input ${fmtShape(input.shape)})`,
      got: fmtShape(mat2.shape),
    });
  }
  if (input.shape[2] !== mat2.shape[1]) {
    throw new XpuShapeError('inner dims do not match', {
      op,
      arg: 'mat2',
      expected: `[${input.shape[0]}, ${input.shape[2]}, *] (input is ${fmtShape(input.shape)})`,
      got: fmtShape(mat2.shape),
    });
  }
  return matmul(input, mat2);
}

/**
 * torch.addmm: beta * input + alpha * (mat1 @ mat2), with input broadcast to [n, p]; the scaling
 * and the addition run in the GEMM's store.
 */
export function addmm(input: Tensor, mat1: Tensor, mat2: Tensor, options: AddmmOptions = {}): Tensor {
  const op = 'addmm';
  optionsArg(op, options);
  const names = ['input', 'mat1', 'mat2'];
  const device = checkSameDevice(op, [input, mat1, mat2], names);
  const dtype = checkGemmDtypes(op, [input, mat1, mat2], names);
  const beta = checkScalar(op, 'beta', options.beta ?? 1);
  const alpha = checkScalar(op, 'alpha', options.alpha ?? 1);
  for (const [t, arg] of [
    [mat1, 'mat1'],
    [mat2, 'mat2'],
  ] as const) {
    if (t.ndim !== 2) throw new XpuShapeError('addmm needs 2-D matrices', { op, arg, expected: '2 dims', got: fmtShape(t.shape) });
  }
  const [m, k] = mat1.shape;
  const [k2, n] = mat2.shape;
  if (k !== k2) {
    throw new XpuShapeError('inner dims do not match', {
      op,
      arg: 'mat2',
      expected: `[${k}, *] (mat1 is ${fmtShape(mat1.shape)})`,
      got: fmtShape(mat2.shape),
    });
  }
  checkAddend(op, 'input', input, [m, n]);
  const epilogue: MatmulEpilogue = { alpha, beta, bias: beta === 0 ? undefined : operand(input, [m, n]) };
  const out = runGemm(device, operand(mat1, [m, k]), operand(mat2, [k, n]), [], m, k, n, dtype, epilogue);
  if (needsGrad(input, mat1, mat2)) recordOp('addmm', [input, mat1, mat2], out, { alpha, beta });
  return out;
}
