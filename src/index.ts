// The shipped .d.ts files name WebGPU types (GPUDevice, GPUBuffer): a consumer's strict tsc
// without skipLibCheck needs them, so index.d.ts keeps this reference (@webgpu/types is a dependency).
/// <reference types="@webgpu/types" preserve="true" />
/**
 * xpu: a tensor runtime for Node.js on WebGPU (Dawn) with a complete CPU fallback.
 * This file is the public API and nothing else.
 *
 * Importing it opens nothing (no top-level await, so `require('xpu')` works too): cpu works at
 * once, and `await xpu.ready()` opens the GPU (src/device/registry.ts).
 */
import './tensor/methods.js';

export { ready } from './device/registry.js';
export { Tensor, isTensor } from './tensor/tensor.js';
export { Device, type DeviceLike, type DeviceString, type DeviceType } from './device/device.js';
export type { DType } from './tensor/dtype.js';
export * from './errors.js';
export { scope, keep } from './tensor/scope_api.js';
export {
  tensor,
  zeros,
  ones,
  full,
  zerosLike,
  onesLike,
  fullLike,
  empty,
  arange,
  linspace,
  eye,
  type CreateOptions,
} from './ops/creation.js';
export { rand, randn, manualSeed, getRngState } from './ops/random.js';
export { dropout, randint, randperm, multinomial } from './ops/random_ops.js';
export { data, toArray, item, to, toAsync, type DataArray, type DataArrayOf, type DataArrays, type NestedArray } from './ops/transfer.js';
export * from './ops/math.js';
export { where, type TensorOrScalar } from './ops/elementwise.js';
export { clip } from './ops/elementwise_wrappers.js';
export { isclose, allclose, type IscloseOptions } from './ops/pointwise.js';
export { any, all } from './ops/logical_reduce.js';
export { logsumexp, norm } from './ops/reduce_ops.js';
export { split, chunk, repeat, tile, flip, roll } from './ops/shape_ops.js';
export { pad, type PadMode, type PadOptions } from './ops/pad.js';
export { cumsum, cumprod, type ScanOptions } from './ops/scan.js';
export { sort, argsort, topk, type SortResult, type TopkOptions } from './ops/sort.js';
export { scatter, scatterAdd, oneHot } from './ops/scatter.js';
export { einsum, outer, dot } from './ops/einsum.js';
export {
  view,
  reshape,
  permute,
  transpose,
  t2 as t,
  expand,
  narrow,
  slice,
  select,
  squeeze,
  unsqueeze,
  flatten,
  contiguous,
  clone,
} from './ops/views.js';
export * as accelerator from './device/accelerator.js';
export { device, defaultDevice } from './device/accelerator.js';
export { matmul, mm } from './ops/matmul.js';
export * as profiler from './profiler/profiler.js';
export type { Profile, KernelEvent, KernelSummary } from './profiler/report.js';
export {
  sum,
  prod,
  mean,
  max,
  min,
  argmax,
  argmin,
  variance as var,
  std,
  type Dims,
  type KeepdimArg,
  type VarOptions,
} from './ops/reduce.js';
export { softmax, logSoftmax, layerNorm, rmsNorm, type LayerNormOptions, type RmsNormOptions } from './ops/norm.js';
export { nativeInfo, type NativeInfo, type NativeBuildInfo } from './backends/cpu/native.js';
export { cat, stack, indexSelect, gather, embedding, triu, tril } from './ops/structural.js';
export { linear, bmm, addmm, type LinearOptions, type AddmmOptions } from './ops/linear.js';
export type { Activation } from './backends/backend.js';
export * as dist from './distributed/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as io from './io/index.js';
export { scaledDotProductAttention, type SdpaOptions } from './ops/attention/sdpa.js';
export { flexAttention, type FlexAttentionOptions } from './ops/attention/flex_attention.js';
export * as flex from './flex/index.js';
export { createBlockMask, BlockMask } from './flex/block_mask.js';
export * as quant from './quant/index.js';
export * as llama from './models/llama/index.js';
export * as llm from './llm/index.js';
export { copyInto } from './ops/copy_into.js';
export { applyRotary } from './ops/rotary.js';
export * as autograd from './autograd/index.js';
export { noGrad, enableGrad, isGradEnabled } from './autograd/grad_mode.js';
export { compile, type CompileOptions, type CompileStats, type CompiledFunction } from './compile/compile.js';
