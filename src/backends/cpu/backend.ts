import type { Backend, MapSpec, MatmulSpec, QuantMatmulSpec, ReduceSpec, RowsSpec, Storage } from '../backend.js';
import type { ScanSpec, ScatterSpec, SortSpec } from '../row_specs.js';
import { cpuScan, cpuSort } from './scan_sort.js';
import { cpuScatter } from './scatter.js';
import { castNumber, convertKind, dtypeInfo, readHost, writeHost, type DType, type HostArray } from '../../tensor/dtype.js';
import { coalesce, numel } from '../../tensor/shape.js';
import { CpuStorage } from './storage.js';
import { StridedWalker } from './indexing.js';
import { fastMap } from './map_fast.js';
import { fastRotary } from './rotary_fast.js';
import { fastTake } from './take_fast.js';
import { fastReduce } from './reduce_fast.js';
import { fastRows } from './rows_fast.js';
import { nativeMap } from './native_map.js';
import { nativeReduce, nativeRotary, nativeRows } from './native_rows.js';
import { hostReader, hostWriter } from './host_io.js';
import { giveBackHost, giveBackHostFenced } from './host_pool.js';
import { reduceRow } from './reduce.js';
import { rowOp } from './rows.js';
import { cpuMatmul } from './gemm.js';
import { nativeMatmul } from './native_gemm.js';
import { isJobDone, jobDone, queueDrained, whenSettled } from './native_jobs.js';
import { cpuQuantMatmul } from './qgemm.js';
import { cpuAttention } from './attention.js';
import { cpuDecodeAttention } from './decode_attention.js';
import type { DecodeAttentionSpec } from '../decode_attention_spec.js';
import { cpuAttentionBackward } from './attention_backward.js';
import type { AttentionBackwardSpec, AttentionGrads, AttentionSpec } from '../attention_spec.js';
import type { OptimStepSpec } from '../optim_spec.js';
import { cpuOptimStep } from './optim.js';

/**
 * The CPU backend: TypeScript kernels for every primitive. It is the fallback when no GPU is
 * present, and the twin the xpu kernels are checked against. Hot kernels move to the native addon
 * later; these stay as the always-available path.
 */
export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;

  alloc(dtype: DType, n: number, op: string): Storage {
    return CpuStorage.alloc(dtype, n, op);
  }

  upload(dtype: DType, data: HostArray): Storage {
    return new CpuStorage(data.slice(), dtype);
  }

  /** Awaits a native job still writing the storage (the event loop stays free), then copies. */
  async read(storage: Storage, dtype: DType, n: number): Promise<HostArray> {
    const st = storage as CpuStorage;
    await whenSettled(st);
    return st.data.slice(0, n);
  }

  /**
   * Large arrays go back to the host pool for reuse (see host_pool.ts); one that a native job
   * still reads or writes goes back fenced by that job: to a later native job at once (the queue
   * runs it after), to anything else once that job is done.
   */
  release(storage: Storage): void {
    const st = storage as CpuStorage;
    if (st.lastUse !== 0 && !isJobDone(st.lastUse)) {
      const fence = st.lastUse;
      giveBackHostFenced(
        st.dtype,
        st.rawData,
        () => isJobDone(fence),
        () => jobDone(fence),
      );
      return;
    }
    giveBackHost(st.dtype, st.rawData);
  }

  /** Resolves when every queued native job (the GEMMs on the worker thread) is done. */
  async synchronize(): Promise<void> {
    await queueDrained();
  }

  copyBytes(src: Storage, srcByte: number, dst: Storage, dstByte: number, bytes: number): void {
    const a = (src as CpuStorage).data;
    const b = (dst as CpuStorage).data;
    new Uint8Array(b.buffer, b.byteOffset + dstByte, bytes).set(new Uint8Array(a.buffer, a.byteOffset + srcByte, bytes));
  }

  map(spec: MapSpec): Storage {
    const { kernel, inputs, outDtype, argKind } = spec;
    const n = numel(spec.outShape);
    // Merge dims every operand walks contiguously, as the GPU does; rank <= 1 then needs no walker.
    let shape: readonly number[] = spec.outShape;
    let strides: readonly (readonly number[])[] = inputs.map((op) => op.strides);
    if (!kernel.usesCoords) ({ shape, strides } = coalesce(shape, strides));
    // Large float32 elementwise ops and rotary: the addon's vectorised kernels (native_map.ts, native_rows.ts).
    const native = kernel.pure ? nativeMap(spec, n, shape, strides) : nativeRotary(spec);
    if (native) return native;
    const out = CpuStorage.alloc(outDtype, n, kernel.name);
    // Pure kernels (elementwise, casts, copies, fills) run as generated typed-array loops.
    if (kernel.pure && fastMap(spec, out.data, n, shape, strides)) return out;
    if (n > 0 && fastRotary(spec, out.data)) return out;
    if (fastTake(spec, out.data, n, shape, strides)) return out;
    const readers = inputs.map((op, k) => hostReader((op.storage as CpuStorage).data, op.dtype, spec.loadKinds?.[k] ?? argKind));
    const write = hostWriter(out.data, outDtype);
    const walker = new StridedWalker(
      shape,
      strides,
      inputs.map((op) => op.offset),
    );
    const load = (k: number, e: number): number => readers[k](e);
    const ctx = { i: 0, coords: walker.coords, e: walker.e, load, scalars: (spec.scalars ?? []).map((s) => s.value) };
    const x = new Array<number>(inputs.length);
    const lazy = kernel.lazy === true;
    const js = kernel.js;
    if (shape.length <= 1 && !kernel.usesCoords) {
      const e = walker.e;
      const steps = strides.map((st) => st[0] ?? 0);
      const base = inputs.map((op) => op.offset);
      for (let i = 0; i < n; i++) {
        ctx.i = i;
        for (let k = 0; k < e.length; k++) e[k] = base[k] + i * steps[k];
        if (!lazy) for (let k = 0; k < x.length; k++) x[k] = readers[k](e[k]);
        write(i, js(x, ctx));
      }
      return out;
    }
    for (let i = 0; i < n; i++) {
      ctx.i = i;
      if (!lazy) for (let k = 0; k < x.length; k++) x[k] = readers[k](walker.e[k]);
      write(i, js(x, ctx));
      walker.next();
    }
    return out;
  }

  reduce(spec: ReduceSpec): Storage {
    const { input, shape, keptRank, outDtype } = spec;
    const rows = numel(shape.slice(0, keptRank));
    const r = numel(shape.slice(keptRank));
    const native = nativeReduce(spec);
    if (native) return native;
    const out = CpuStorage.alloc(outDtype, rows);
    if (fastReduce(spec, out)) return out;
    const src = (input.storage as CpuStorage).data;
    const kind = dtypeInfo(input.dtype).compute;
    const walker = new StridedWalker(shape, [input.strides], [input.offset]);
    const row = new Float64Array(r);
    for (let o = 0; o < rows; o++) {
      for (let j = 0; j < r; j++) {
        row[j] = convertKind(readHost(src, input.dtype, walker.e[0]), kind, spec.accKind);
        walker.next();
      }
      writeHost(out.data, outDtype, o, castNumber(reduceRow(spec, row), outDtype));
    }
    return out;
  }

  rows(spec: RowsSpec): Storage {
    const { input, shape, rowRank, outStrides } = spec;
    const total = numel(shape);
    const n = numel(shape.slice(shape.length - rowRank));
    const native = nativeRows(spec);
    if (native) return native;
    const out = CpuStorage.alloc('float32', total);
    if (fastRows(spec, out)) return out;
    const src = (input.storage as CpuStorage).data;
    const weight = spec.weight ? ((spec.weight as CpuStorage).data as Float32Array) : undefined;
    const bias = spec.bias ? ((spec.bias as CpuStorage).data as Float32Array) : undefined;
    const walker = new StridedWalker(shape, [input.strides, outStrides], [input.offset, 0]);
    const x = new Float64Array(n);
    const dst = new Int32Array(n);
    for (let done = 0; done < total; done += n) {
      for (let j = 0; j < n; j++) {
        x[j] = readHost(src, input.dtype, walker.e[0]);
        dst[j] = walker.e[1];
        walker.next();
      }
      const y = rowOp(spec.op, x, spec.eps, weight, bias);
      for (let j = 0; j < n; j++) out.data[dst[j]] = y[j];
    }
    return out;
  }

  /** Scans, sorts and scatters: the TypeScript twins in scan_sort.ts and scatter.ts. */
  scan(spec: ScanSpec): Storage {
    return cpuScan(spec);
  }

  sort(spec: SortSpec): Storage {
    return cpuSort(spec);
  }

  scatter(spec: ScatterSpec): Storage {
    return cpuScatter(spec);
  }

  /** Blocked flash attention in TypeScript (attention.ts; a native kernel may replace it there). */
  optimStep(spec: OptimStepSpec): void {
    cpuOptimStep(spec);
  }

  attention(spec: AttentionSpec): Storage {
    return cpuAttention(spec);
  }

  /** A KV-cached decode step in one call (decode_attention.ts); null: the op composes it. */
  decodeAttention(spec: DecodeAttentionSpec): Storage | null {
    return cpuDecodeAttention(spec);
  }

  /** Its gradients: native (attention_backward.cc) for dense problems, else the TypeScript twin. */
  attentionBackward(spec: AttentionBackwardSpec): AttentionGrads {
    return cpuAttentionBackward(spec);
  }

  /** The native oneDNN GEMM on the compute thread when the addon has it; the TypeScript GEMM otherwise. */
  matmul(spec: MatmulSpec): Storage {
    return nativeMatmul(spec) ?? cpuMatmul(spec);
  }

  /** Quantized linear (src/quant): the TypeScript kernel in qgemm.ts. */
  qmatmul(spec: QuantMatmulSpec): Storage {
    return cpuQuantMatmul(spec);
  }
}
