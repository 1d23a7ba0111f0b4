import type { ComputeKind, DType, HostArray } from '../tensor/dtype.js';
import type { AttentionBackwardSpec, AttentionGrads, AttentionSpec } from './attention_spec.js';
import type { DecodeAttentionSpec } from './decode_attention_spec.js';
import type { OptimStepSpec } from './optim_spec.js';
import type { Operand, Storage } from './operand.js';
import type { ScanSpec, ScatterSpec, SortSpec } from './row_specs.js';

export type { Operand, Storage };
import type { GgufWeightFormat } from '../quant/gguf_formats.js';

/**
 * The contract between ops (src/ops) and the two backends. Ops check arguments, work out shapes,
 * dtypes and strides, and then call one of a few primitive kernels below; a backend only runs
 * them. Every primitive writes a fresh, contiguous output storage.
 */

/** A scalar parameter passed to a kernel in its uniforms, with the kind it is read as. */
export interface Scalar {
  kind: ComputeKind;
  value: number;
}

/** What a map body sees on the CPU path: values loaded and converted, plus indices. */
export interface MapContext {
  /** Linear output index. */
  i: number;
  /** Output coordinates (only filled when the kernel sets usesCoords). */
  coords: number[];
  /** Storage index of each input for this output element. */
  e: number[];
  /** Loads element `e` of input k as a number converted to the kernel's argument kind. */
  load: (k: number, e: number) => number;
  scalars: number[];
}

/**
 * A map kernel whose output element is a pure function of its operands, in order: slot j is
 * tensor input `index` (loaded in argKind, or loadKinds[index]) or scalar `index`. The elementwise
 * ops, where, casts, copies and fills are such maps. The cpu backend compiles a typed-array loop
 * around `fn` (src/backends/cpu/map_fast.ts) instead of calling `js` per element through strides;
 * both must compute the same (`js` is built from the same function).
 */
export interface PureMap {
  fn: (...x: number[]) => number;
  slots: readonly { tensor: boolean; index: number }[];
  /** fn is the identity: a map from a dtype to itself may copy elements (bits) as they are. */
  copy?: boolean;
  /**
   * The op's name in src/ops/elementwise_table.ts ('add', 'exp', ...): a backend with its own
   * kernel for that op (the cpu's native addon, native_map.ts) may run it instead of fn.
   */
  op?: string;
  /**
   * fn as a sequence of table ops (xpu.compile's fused maps, src/compile/fused_kernel.ts): step s
   * is table op `op` of its arguments (tensor input k, an earlier step's value, or a scalar), every
   * value float32. A backend with kernels for those ops (the cpu's addon, native_map.ts) may run
   * the chain block by block instead of fn; it computes the same values.
   */
  chain?: readonly { op: string; args: readonly ChainArg[] }[];
}

/** An argument of a PureMap chain step. */
export type ChainArg = { input: number } | { step: number } | { scalar: number };

/**
 * One elementwise-family kernel, written once for both devices: a WGSL body and its JavaScript
 * twin. Bodies see x0..xN (inputs converted to `argKind`), `i` (linear output index), `c` (coords),
 * e0..eN (i32 storage indices), ld0(e).. loaders, and sf(k)/si(k)/su(k) scalars; they return R,
 * the output's compute type (A is the argument type).
 */
export interface MapKernel {
  /** Unique per distinct body (part of the pipeline cache key). */
  name: string;
  wgsl: string;
  js: (x: number[], ctx: MapContext) => number;
  /** The body loads inputs itself (ld0(e0)...) instead of getting x0..xN. */
  lazy?: boolean;
  /** The body uses output coordinates; disables merging of dims. */
  usesCoords?: boolean;
  /**
   * The WGSL body calls index_error(j) for an index outside its range: on xpu the launch gets a
   * device-side assert slot, read back at the next read or synchronize (XpuIndexError, see
   * src/backends/webgpu/asserts.ts). The JS twin never needs it: cpu ops check indices first.
   */
  assertsIndex?: boolean;
  /** Set when the body is a pure function of its operands (see PureMap): the cpu fast paths. */
  pure?: PureMap;
}

export interface MapSpec {
  kernel: MapKernel;
  inputs: Operand[];
  outShape: number[];
  outDtype: DType;
  /** Kind the inputs are converted to before the body runs. */
  argKind: ComputeKind;
  /**
   * Per-input kinds that override argKind (ldK returns this kind): an integer index read
   * exactly beside float data, which argKind f32 would round above 2^24.
   */
  loadKinds?: (ComputeKind | undefined)[];
  scalars?: Scalar[];
  /** For a kernel that asserts indices: the op and argument an XpuIndexError names, and the valid range [0, size). */
  indexCheck?: { op: string; arg: string; size: number };
}

export type ReduceOp = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin' | 'mean' | 'var';

export interface ReduceSpec {
  op: ReduceOp;
  input: Operand;
  /** Input shape with kept dims first, reduced dims last; strides match it. */
  shape: number[];
  /** How many leading dims of `shape` are kept. */
  keptRank: number;
  /** Kind values are accumulated in (f32 for floats; i32/u32 for integer sums and max/min). */
  accKind: ComputeKind;
  /** Output dtype; a 32-bit type the accumulator converts to. */
  outDtype: DType;
  /** Bessel correction for var. */
  correction?: number;
}

export type RowOp = 'softmax' | 'logsoftmax' | 'layernorm' | 'rmsnorm';

export interface RowsSpec {
  op: RowOp;
  input: Operand;
  /** Input shape with the normalised dims last; strides of input and output follow it. */
  shape: number[];
  /** How many trailing dims form a row. */
  rowRank: number;
  /** Output strides (in the same permuted order), into a fresh contiguous float32 buffer. */
  outStrides: number[];
  /** Contiguous float32 weight and bias of the row's length, where the op has them. */
  weight?: Storage;
  bias?: Storage;
  eps: number;
}

/** Activations a GEMM epilogue can apply (PyTorch's relu, gelu with erf, silu). */
export type Activation = 'relu' | 'gelu' | 'silu';

/**
 * What a GEMM does to each accumulated value before it is stored, inside the GEMM's store (one
 * dispatch): out = act(alpha * (a @ b) + beta * bias) + residual, then cast to outDtype. Every
 * part is optional (alpha = beta = 1). bias and residual are strided over the output
 * [batch..., M, N] (zero strides broadcast), as the GEMM's own operands are.
 */
export interface MatmulEpilogue {
  alpha?: number;
  bias?: Operand;
  beta?: number;
  activation?: Activation;
  residual?: Operand;
}

export interface MatmulSpec {
  a: Operand;
  b: Operand;
  /** Output [batch..., M, N]; a's strides are over [batch..., M, K], b's over [batch..., K, N]. */
  batchShape: number[];
  m: number;
  n: number;
  k: number;
  /** float32, or float16 (f32 accumulation, cast when stored). */
  outDtype: DType;
  epilogue?: MatmulEpilogue;
}

/**
 * A quantized weight [N, K] (a Linear weight: out_features x in_features) as the kernels read it.
 * docs/quantization.md and src/quant/formats.ts define the layouts exactly.
 */
export interface QuantWeight {
  /**
   * 'int8': symmetric per output channel; 'int4': asymmetric, groups along K; a GGUF block format
   * (q4_0, q4_1, q8_0, q4_k, q6_k): q is the uint32 q plane, scales the scale plane
   * (src/quant/gguf_formats.ts), groupSize the block size.
   */
  format: 'int8' | 'int4' | GgufWeightFormat;
  n: number;
  k: number;
  /** Elements per (scale, zero) group along K (int4); K for int8 (one scale per row). */
  groupSize: number;
  /**
   * int8: int8 [N, rowStride(K)] (rows padded with zeros to a multiple of 32, so each row starts
   * on 16 bytes); int4: uint32 [N, K / 8], 8 nibbles per word (src/quant/pack.ts).
   */
  q: Storage;
  /** [N] (int8) or [N, K / groupSize] (int4), in scaleDtype. */
  scales: Storage;
  scaleDtype: 'float32' | 'float16' | 'uint32';
  /** int4: uint8 [N, K / groupSize], zero points in [0, 15]. */
  zeros?: Storage;
  /**
   * GGUF q4_0 / q4_1 / q8_0 on cpu: multiply as llama.cpp's CPU backend does (activations
   * quantized to int8 per 32-value block, integer dot products; native/compute/qgemm_gguf_q8.cc)
   * instead of exactly in float32. Other kernels ignore it.
   */
  q8Activations?: boolean;
}

/**
 * out[M, N] = a[M, K] @ dequant(w)^T + bias. Weight-only: a is float32/float16. w8a8 dynamic: a
 * is int8 [M, rowStride(K)] quantized per row (symmetric), aScales its float32 [M] scales, and
 * the kernels multiply integers (int32 accumulation) and rescale by aScales[m] * scales[n].
 */
export interface QuantMatmulSpec {
  /** Strides over [m, k]. */
  a: Operand;
  m: number;
  aScales?: Storage;
  w: QuantWeight;
  /** float32 or float16. */
  outDtype: DType;
  /** Strides over [m, n] (zero along m for a [N] bias). */
  bias?: Operand;
  /**
   * GGUF weight formats on cpu only (src/quant/linear.ts decides): act(a @ W^T + bias) + residual
   * in the kernel's store, residual strided over [m, n]. Other kernels never get these.
   */
  activation?: Activation;
  residual?: Operand;
}

export interface Backend {
  readonly kind: 'cpu' | 'webgpu';
  alloc(dtype: DType, numel: number, op: string): Storage;
  upload(dtype: DType, data: HostArray, op: string): Storage;
  /** Reads `numel` elements of a contiguous storage from its start. */
  read(storage: Storage, dtype: DType, numel: number): Promise<HostArray>;
  release(storage: Storage): void;
  map(spec: MapSpec): Storage;
  reduce(spec: ReduceSpec): Storage;
  rows(spec: RowsSpec): Storage;
  matmul(spec: MatmulSpec): Storage;
  /** Quantized GEMM / GEMV (src/quant); see QuantMatmulSpec. */
  qmatmul(spec: QuantMatmulSpec): Storage;
  /**
   * In-place byte copy between storages (ops/copy_into.ts: writing new K/V into a preallocated
   * cache). Ordered after every op recorded before it. Offsets and size are multiples of 4.
   */
  copyBytes(src: Storage, srcByte: number, dst: Storage, dstByte: number, bytes: number): void;
  /** Fused attention (attention_spec.ts): float32 [B, H, L, Ev] out. */
  attention?(spec: AttentionSpec): Storage;
  /**
   * Optional: a KV-cached decode step's rotary + cache write + attention in one call
   * (decode_attention_spec.ts): float32 [B, 1, heads * D] out, or null to have the op compose it.
   */
  decodeAttention?(spec: DecodeAttentionSpec): Storage | null;
  /** Its gradients (attention_spec.ts AttentionBackwardSpec): flash backward, no [L, S] matrix. */
  attentionBackward?(spec: AttentionBackwardSpec): AttentionGrads;
  /** The fused optimizer step of a parameter group, in place (optim_spec.ts; src/optim). */
  optimStep?(spec: OptimStepSpec): void;
  /** The most elements one optimStep may cover (its flat state is bound whole on xpu); none: unlimited. */
  optimChunkElements?(): number;
  /** Inclusive scan along rows: cumsum, cumprod (row_specs.ts). */
  scan(spec: ScanSpec): Storage;
  /** Stable sort of rows: the int32 positions in sorted order (row_specs.ts). */
  sort(spec: SortSpec): Storage;
  /** A copy of the input with values written or added at indices (row_specs.ts). */
  scatter(spec: ScatterSpec): Storage;
  synchronize(): Promise<void>;
}
