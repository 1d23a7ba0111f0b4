import type { MapSpec, MatmulSpec, Storage } from '../backend.js';
import type { DType, HostArray } from '../../tensor/dtype.js';
import type { AdapterInfo } from './adapter.js';
import type { GpuStorage } from './allocator.js';
import type { PipelineCache } from './pipelines.js';
import type { Program } from './program.js';
import type { TexturePool } from './textures.js';

/**
 * What the launchers outside backend.ts (GEMM textures, quantized GEMM, attention) need from
 * WebGPUBackend: the launch layer (run, the pipeline cache, the texture pool, the adapter record)
 * and memory. An interface, so that they do not import the backend that imports them.
 */
export interface GpuHost {
  readonly device: GPUDevice;
  readonly adapter: AdapterInfo;
  readonly pipelines: PipelineCache;
  readonly textures: TexturePool;
  /** Compiles (once per program key), checks and records one launch (WebGPUBackend.run). */
  run(program: Program): void;
  alloc(dtype: DType, n: number, op: string): GpuStorage;
  release(storage: Storage): void;
  /** A new storage holding `data` (the optimizer's segment table). */
  upload(dtype: DType, data: HostArray, op: string): Storage;
  /** An in-order byte copy between storages (the optimizer's gather and scatter). */
  copyBytes(src: Storage, srcByte: number, dst: Storage, dstByte: number, bytes: number): void;
  map(spec: MapSpec): Storage;
  /** The dense GEMM (the quantized GEMM hands a dequantized weight to it: qgemm_gguf.ts). */
  matmul(spec: MatmulSpec): Storage;
}
