import type { Backend, MapSpec, MatmulSpec, Operand, QuantMatmulSpec, ReduceSpec, RowsSpec, Storage } from '../backend.js';
import type { ScanSpec, ScatterSpec, SortSpec } from '../row_specs.js';
import { webgpuScan } from './scan.js';
import { webgpuOptimStep } from './optim.js';
import type { OptimStepSpec } from '../optim_spec.js';
import { webgpuScatter } from './scatter.js';
import { webgpuSort } from './sort.js';
import { dtypeInfo, hostFromBytes, type ComputeKind, type DType, type HostArray } from '../../tensor/dtype.js';
import { coalesce, numel } from '../../tensor/shape.js';
import { XpuShapeError } from '../../errors.js';
import { CachingAllocator, GpuStorage } from './allocator.js';
import { COPY_KERNEL } from '../copy_kernel.js';
import { bindings, checkKernelElements, elementsPerWord, enables, loaderFn, mapElementFn, MAX_RANK, writeWordFn } from './codegen.js';
import { f32Bits, uniformStruct } from './uniforms.js';
import { PipelineCache, kernelSource } from './pipelines.js';
import { CommandQueue } from './queue.js';
import { gemmConfigFor, gemmConfigKey, type GemmConfig } from './gemm_config.js';
import { gemmLayoutKey, gemmSource, gemvRows } from './gemm_codegen.js';
import { webgpuQuantMatmul } from './qgemm.js';
import { gemmLayout, gemmProblem, gemmShapeHints, gemmTiles, gemmUniforms } from './gemm_plan.js';
import { splitKProblem, sumSlices, texturePackable, textureGemm } from './gemm_texture.js';
import { webgpuAttention } from './attention.js';
import { webgpuAttentionBackward } from './attention_backward.js';
import { reduceInLevels } from './reduce_split.js';
import { ASSERT_BYTES } from './asserts.js';
import { isSoftwareAdapter, readAdapterInfo, type AdapterInfo } from './adapter.js';
import { bind, bindWhole, bufferLayout, type Program } from './program.js';
import { vecMapBody, vecModes, type VecMode } from './map_vec.js';
import { rowsDirectives, rowsLayoutKey, rowsPerGroup, rowsPrelude, type RowsLayout } from './rows_codegen.js';
import { TexturePool } from './textures.js';
import type { GpuHost } from './host.js';
import { settings } from '../../settings.js';
import type { AttentionBackwardSpec, AttentionGrads, AttentionSpec } from '../attention_spec.js';

const WG = 64;
const REDUCE_OPS = ['sum', 'prod', 'max', 'min', 'argmax', 'argmin', 'mean', 'var'];
const ROW_OPS = ['softmax', 'logsoftmax', 'layernorm', 'rmsnorm'];

const RANK = { array: 'u32', length: MAX_RANK } as const;
const STRIDES = { array: 'i32', length: MAX_RANK } as const;

/** Map kernels (kernels/map.wgsl) with m = max(1, inputs): strides and offsets per input; scalars as raw words (p0: the assert slot). */
const mapParams = (m: number) =>
  uniformStruct('Params', {
    numel: 'u32',
    rank: 'u32',
    p0: 'u32',
    p1: 'u32',
    shape: RANK,
    s: { array: 'u32', length: MAX_RANK },
    st: { array: 'i32', length: MAX_RANK * m, stride: MAX_RANK },
    off: { array: 'i32', length: 4 * m, stride: 4 },
  });
const MAP_PARAMS = new Map<number, ReturnType<typeof mapParams>>();
function mapParamsFor(m: number): ReturnType<typeof mapParams> {
  let p = MAP_PARAMS.get(m);
  if (!p) MAP_PARAMS.set(m, (p = mapParams(m)));
  return p;
}

/** kernels/reduce.wgsl. */
const REDUCE_PARAMS = uniformStruct('Params', {
  rows: 'u32',
  n: 'u32',
  kept: 'u32',
  rank: 'u32',
  shape: RANK,
  st: STRIDES,
  off: 'i32',
  correction: 'f32',
  p0: 'u32',
  p1: 'u32',
});

/** kernels/rows.wgsl. */
const ROWS_PARAMS = uniformStruct('Params', {
  rows: 'u32',
  n: 'u32',
  rank: 'u32',
  rowRank: 'u32',
  shape: RANK,
  ist: STRIDES,
  ost: STRIDES,
  ioff: 'i32',
  eps: 'f32',
  hasWeight: 'u32',
  hasBias: 'u32',
});

/** kernels/matmul_naive.wgsl. */
const NAIVE_PARAMS = uniformStruct('Params', {
  m: 'u32',
  n: 'u32',
  k: 'u32',
  total: 'u32',
  brank: 'u32',
  aoff: 'i32',
  boff: 'i32',
  p0: 'u32',
  sam: 'i32',
  sak: 'i32',
  sbk: 'i32',
  sbn: 'i32',
  bshape: RANK,
  sab: STRIDES,
  sbb: STRIDES,
});

function checkRank(op: string, rank: number): void {
  if (rank > MAX_RANK) {
    throw new XpuShapeError('too many dims for a GPU kernel after merging contiguous dims', {
      op,
      arg: 'input',
      expected: `at most ${MAX_RANK} non-mergeable dims`,
      got: String(rank),
    });
  }
}

/**
 * The WebGPU backend: kernels from kernels/*.wgsl, specialised by generated preludes and
 * override constants, launched through the batching CommandQueue, with memory from the caching
 * allocator.
 */
export class WebGPUBackend implements Backend, GpuHost {
  readonly kind = 'webgpu' as const;
  readonly allocator: CachingAllocator;
  readonly queue: CommandQueue;
  /** The one pipeline cache (program short key, then source). */
  readonly pipelines: PipelineCache;
  /** The one texture pool (the GEMM and attention texture variants). */
  readonly textures: TexturePool;
  /** The adapter record, read once: what config choices and kernels may depend on. */
  readonly adapter: AdapterInfo;
  readonly hasF16: boolean;
  /** Map kernels: invocations per workgroup, and the most workgroups a launch uses (grid-stride). */
  readonly #mapWg = settings.XPU_MAP_WG;
  readonly #mapMaxGroups = settings.XPU_MAP_GROUPS;
  /** Reduce and rows kernels: invocations per workgroup (power of two for the trees). */
  readonly #rowsWg = settings.XPU_ROWS_WG;
  /** A CPU adapter (lavapipe, SwiftShader): reductions give each lane long runs. */
  readonly #software: boolean;
  /** maxStorageBufferBindingSize, read once (a native getter on Dawn's limits object). */
  readonly #maxBinding: number;

  constructor(
    readonly device: GPUDevice,
    features: string[],
  ) {
    const lim = device.limits;
    this.#maxBinding = lim.maxStorageBufferBindingSize;
    this.allocator = new CachingAllocator(device, lim.maxBufferSize, lim.maxStorageBufferBindingSize, (b, data) =>
      this.queue.upload(b, data),
    );
    this.queue = new CommandQueue(device, settings.XPU_BATCH, lim.maxComputeWorkgroupsPerDimension);
    this.pipelines = new PipelineCache(device);
    this.textures = new TexturePool(device, this.queue);
    this.adapter = readAdapterInfo(device);
    this.#software = isSoftwareAdapter(this.adapter);
    this.hasF16 = features.includes('shader-f16');
  }

  /**
   * Runs one program: its pipeline from the cache (compiled on the first use of its key, checked
   * against the adapter's limits, errors at this call: pipelines.ts), then one dispatch recorded
   * by the batching queue (launch limits and bindings checked there: queue.ts).
   */
  run(p: Program): void {
    const k = this.pipelines.program(p);
    this.queue.dispatch(p.name, k.pipeline, k.layout, p.uniforms, p.bindings, p.groups, p.assert);
  }

  alloc(dtype: DType, n: number, op: string): GpuStorage {
    this.queue.checkAlive(op);
    const { itemsize } = dtypeInfo(dtype);
    const st = this.allocator.alloc(n * itemsize, op, dtype, itemsize);
    this.queue.adopt(st); // the queue maps buffers to storages to mark failed outputs
    return st;
  }

  upload(dtype: DType, data: HostArray, op: string): GpuStorage {
    const st = this.alloc(dtype, data.length, op);
    this.queue.upload(st.buffer, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return st;
  }

  async read(storage: Storage, dtype: DType, n: number): Promise<HostArray> {
    const bytes = n * dtypeInfo(dtype).itemsize;
    const buf = await this.queue.read((storage as GpuStorage).buffer, bytes);
    return hostFromBytes(dtype, buf, n);
  }

  release(storage: Storage): void {
    this.allocator.free(storage as GpuStorage);
  }

  synchronize(): Promise<void> {
    return this.queue.synchronize();
  }

  copyBytes(src: Storage, srcByte: number, dst: Storage, dstByte: number, bytes: number): void {
    this.queue.copy((src as GpuStorage).buffer, srcByte, (dst as GpuStorage).buffer, bytes, dstByte);
  }

  /** Destroys cached blocks. Pending commands may still use them, so they are submitted first. */
  emptyCache(): void {
    this.textures.release();
    this.queue.flush();
    this.queue.bindGroups.clear(); // groups naming the blocks about to be destroyed
    this.allocator.emptyCache();
  }

  map(spec: MapSpec): Storage {
    const { kernel, inputs, outDtype, argKind } = spec;
    const n = numel(spec.outShape);
    checkKernelElements(kernel.name, n);
    const out = this.alloc(outDtype, n, kernel.name);
    if (n === 0) return out;
    // Merge dims every operand walks contiguously (not when the body reads coordinates).
    let shape = spec.outShape;
    let strides = inputs.map((x) => x.strides);
    if (!kernel.usesCoords) {
      const c = coalesce(shape, strides);
      shape = c.shape;
      strides = c.strides;
    }
    checkRank(kernel.name, shape.length);
    if (this.#tryCopy(spec, shape, strides, out)) return out;
    const nin = inputs.length;
    const epw = elementsPerWord(outDtype);
    const r = dtypeInfo(outDtype).compute;
    // The rank is part of the key: index math is unrolled per rank (no dynamic indexing, no loop).
    const asserts = kernel.assertsIndex ? 1 : 0;
    const key = `map|${kernel.name}|${inputs.map((x, k) => `${x.dtype}:${spec.loadKinds?.[k] ?? argKind}`).join(',')}|${outDtype}|${argKind}|${kernel.usesCoords ? 1 : 0}|${shape.length}`;
    // An index kernel gets its own device-side assert slot (asserts.ts), passed in p0.
    const chk = spec.indexCheck;
    const slot = asserts ? this.queue.reserveAssert(chk?.op ?? kernel.name, chk?.arg ?? 'index', chk?.size ?? 0) : undefined;
    // Scalars as raw words (the kernel bitcasts each by its kind); one row of strides and one offset per input.
    const sc = spec.scalars ?? [];
    const words32: number[] = [];
    for (const x of sc) words32.push(x.kind === 'f32' ? f32Bits(x.value) : x.value >>> 0);
    const uniforms = mapParamsFor(Math.max(1, nin)).write({
      numel: n,
      rank: shape.length,
      p0: slot?.slot ?? 0,
      p1: 0,
      shape,
      s: words32,
      st: strides,
      off: inputs.map((x) => [x.offset]),
    });
    const words = Math.ceil(n / epw);
    const vec = settings.XPU_MAP_VEC === 'on' ? vecModes(spec, shape, strides, out, this.#maxBinding) : undefined;
    try {
      if (vec) {
        // Four output words per invocation (map_vec.ts); the key adds how each input is read.
        this.run({
          name: kernel.name,
          key: `${key}|v${vec.join('')}`,
          layout: bufferLayout(nin),
          constants: { WG: this.#mapWg },
          source: () => this.#mapSource(spec, r, epw, shape.length, vec),
          uniforms,
          bindings: [bindWhole(out), ...inputs.map((x) => bindWhole(x.storage))],
          groups: Math.min(Math.ceil(Math.ceil(words / 4) / this.#mapWg), this.#mapMaxGroups),
        });
        return out;
      }
      this.run({
        name: kernel.name,
        key,
        layout: bufferLayout(nin, asserts),
        constants: { WG: this.#mapWg },
        source: () => this.#mapSource(spec, r, epw, shape.length),
        uniforms,
        bindings: [bind(out), ...inputs.map((x) => bind(x.storage)), ...(slot ? [{ buffer: slot.buffer, size: ASSERT_BYTES }] : [])],
        groups: Math.min(Math.ceil(words / this.#mapWg), this.#mapMaxGroups),
        assert: slot,
      });
    } catch (e) {
      this.release(out); // the launch was refused with a typed error: no tensor gets this block
      throw e;
    }
    return out;
  }

  /**
   * A same-dtype copy of one contiguous, word-aligned run is a buffer copy (the driver's memcpy,
   * ~30x the map kernel on lavapipe), not a kernel launch.
   */
  #tryCopy(spec: MapSpec, shape: number[], strides: number[][], out: GpuStorage): boolean {
    const x = spec.inputs[0];
    if (spec.kernel !== COPY_KERNEL || spec.inputs.length !== 1 || x.dtype !== spec.outDtype) return false;
    if (shape.length > 1 || (shape.length === 1 && strides[0][0] !== 1)) return false;
    const itemsize = dtypeInfo(x.dtype).itemsize;
    const start = x.offset * itemsize;
    if (start % 4 !== 0) return false;
    this.queue.copy((x.storage as GpuStorage).buffer, start, out.buffer, Math.ceil(out.byteLength / 4) * 4);
    return true;
  }

  #mapSource(spec: MapSpec, r: ComputeKind, epw: number, rank: number, vec?: VecMode[]): string {
    const { kernel, inputs, argKind } = spec;
    const nin = inputs.length;
    const params = mapParamsFor(Math.max(1, nin)).wgsl;
    const prelude = [
      params,
      `alias R = ${r};\nalias A = ${argKind};\nconst EPW: u32 = ${epw}u;`,
      'fn sf(k: u32) -> f32 { return bitcast<f32>(P.s[k / 4u][k % 4u]); }',
      'fn si(k: u32) -> i32 { return bitcast<i32>(P.s[k / 4u][k % 4u]); }',
      'fn su(k: u32) -> u32 { return P.s[k / 4u][k % 4u]; }',
      kernelSource('common/math.wgsl'),
    ];
    if (vec) return [...prelude, vecMapBody(spec, vec, r)].join('\n');
    const loaders = inputs.map((x, k) => loaderFn(k, x.dtype, spec.loadKinds?.[k] ?? argKind)).join('\n');
    // index_error(j): this launch's assert slot (P.p0) records the first bad index (asserts.ts).
    const assert = kernel.assertsIndex
      ? `@group(0) @binding(${nin + 2}) var<storage, read_write> xpu_assert: array<atomic<u32>>;\nfn index_error(j: i32) {\n  let s = P.p0 * 2u;\n  if (atomicOr(&xpu_assert[s], 1u) == 0u) {\n    atomicStore(&xpu_assert[s + 1u], bitcast<u32>(j));\n  }\n}`
      : '';
    const element = mapElementFn(kernel, nin, rank);
    const f16 = false; // storage is u32 words; f16 values are unpacked to f32, no extension needed
    return [
      enables(f16),
      params,
      bindings(nin),
      assert,
      `alias R = ${r};\nalias A = ${argKind};\nconst EPW: u32 = ${epw}u;`,
      'fn sf(k: u32) -> f32 { return bitcast<f32>(P.s[k / 4u][k % 4u]); }',
      'fn si(k: u32) -> i32 { return bitcast<i32>(P.s[k / 4u][k % 4u]); }',
      'fn su(k: u32) -> u32 { return P.s[k / 4u][k % 4u]; }',
      kernelSource('common/math.wgsl'),
      loaders,
      element,
      writeWordFn(spec.outDtype),
      kernelSource('map.wgsl'),
    ].join('\n');
  }

  /** Up to REDUCE_CHUNK elements per output one launch, longer reductions in levels (reduce_split.ts). */
  reduce(spec: ReduceSpec): Storage {
    return reduceInLevels(this, spec, (s) => this.#reduceOnce(s));
  }

  #reduceOnce(spec: ReduceSpec): Storage {
    const { input, shape, keptRank, accKind, outDtype } = spec;
    // Merge kept dims among themselves and reduced dims among themselves.
    const kept = coalesce(shape.slice(0, keptRank), [input.strides.slice(0, keptRank)]);
    const red = coalesce(shape.slice(keptRank), [input.strides.slice(keptRank)]);
    const fullShape = [...kept.shape, ...red.shape];
    const fullStrides = [...kept.strides[0], ...red.strides[0]];
    checkRank(spec.op, fullShape.length);
    const rows = numel(shape.slice(0, keptRank));
    const n = numel(shape.slice(keptRank));
    const out = this.alloc(outDtype, rows, spec.op);
    if (rows === 0) return out;
    const opIndex = REDUCE_OPS.indexOf(spec.op);
    // A team of lanes per output (a power of two up to the workgroup): several outputs per
    // workgroup when the reduction is short (kernels/reduce.wgsl). About 64 elements a lane on a
    // GPU; on a software adapter (lavapipe: a workgroup runs on one CPU thread, lanes are SIMD
    // lanes, a barrier round switches coroutines) 1024, faster than 64 on a [4096, 1024] max / sum
    // (1024-element rows: one lane per row, no tree at all; figures in bench/results/README.md).
    const wg = this.#rowsWg;
    const perLane = this.#software ? 1024 : 64;
    let team = 1;
    while (team < wg && team * perLane < n) team *= 2;
    this.run({
      name: spec.op,
      op: 'kernel',
      key: `reduce|${input.dtype}|${accKind}|${opIndex}|${team}`,
      layout: bufferLayout(1),
      constants: { OP: opIndex, WG: wg, TEAM: team },
      source: () =>
        [
          REDUCE_PARAMS.wgsl,
          bindings(1),
          `alias ACC = ${accKind};\nconst IS_FLOAT = ${accKind === 'f32'};`,
          loaderFn(0, input.dtype, accKind),
          `fn to_word(v: ACC) -> u32 { ${accKind === 'u32' ? 'return v;' : 'return bitcast<u32>(v);'} }`,
          kernelSource('reduce.wgsl'),
        ].join('\n'),
      uniforms: REDUCE_PARAMS.write({
        rows,
        n,
        kept: kept.shape.length,
        rank: fullShape.length,
        shape: fullShape,
        st: fullStrides,
        off: input.offset,
        correction: spec.correction ?? 1,
        p0: 0,
        p1: 0,
      }),
      bindings: [bind(out), bind(input.storage)],
      groups: Math.ceil(rows / (wg / team)),
    });
    return out;
  }

  rows(spec: RowsSpec): Storage {
    // Merge leading dims among themselves and row dims among themselves (row-major order within a
    // row is kept, so weight[j] still lines up): fewer dims to index, and ranks above MAX_RANK fit.
    const split = spec.shape.length - spec.rowRank;
    const lead = coalesce(spec.shape.slice(0, split), [spec.input.strides.slice(0, split), spec.outStrides.slice(0, split)]);
    const row = coalesce(spec.shape.slice(split), [spec.input.strides.slice(split), spec.outStrides.slice(split)]);
    const shape = [...lead.shape, ...row.shape];
    const rowRank = row.shape.length;
    const input = { ...spec.input, strides: [...lead.strides[0], ...row.strides[0]] };
    const outStrides = [...lead.strides[1], ...row.strides[1]];
    checkRank(spec.op, shape.length);
    const total = numel(spec.shape);
    const n = numel(row.shape);
    checkKernelElements(spec.op, total);
    const out = this.alloc('float32', total, spec.op);
    if (total === 0) return out;
    const opIndex = ROW_OPS.indexOf(spec.op);
    // Absent weight/bias bind the input as a placeholder; the kernel never reads it then.
    const weight = spec.weight ?? input.storage;
    const bias = spec.bias ?? input.storage;
    const rows = total / n;
    const wg = this.#rowsWg;
    const layout = this.#rowsLayout(spec, input, outStrides, rowRank, n, rows, out, [weight, bias]);
    const b = layout.vec ? bindWhole : bind;
    this.run({
      name: spec.op,
      op: 'kernel',
      key: `rows|${input.dtype}|${opIndex}|${rowsLayoutKey(layout)}`,
      layout: bufferLayout(3),
      constants: { OP: opIndex, WG: wg },
      source: () => [rowsDirectives(layout), ROWS_PARAMS.wgsl, rowsPrelude(layout, input.dtype, wg), kernelSource('rows.wgsl')].join('\n'),
      uniforms: ROWS_PARAMS.write({
        rows,
        n,
        rank: shape.length,
        rowRank,
        shape,
        ist: input.strides,
        ost: outStrides,
        ioff: input.offset,
        eps: spec.eps,
        hasWeight: spec.weight ? 1 : 0,
        hasBias: spec.bias ? 1 : 0,
      }),
      bindings: [b(out), b(input.storage), b(weight), b(bias)],
      groups: Math.ceil(rows / rowsPerGroup(layout, wg)),
    });
    return out;
  }

  /**
   * The rows kernel's layout (rows_codegen.ts). A long row with few rows beside it takes the whole
   * workgroup (a GPU needs the lanes; lavapipe runs a workgroup per thread either way); otherwise a
   * row per subgroup where the adapter has subgroups, else a team of lanes sized to the row (about
   * 16 elements a lane) reducing through workgroup memory. XPU_ROWS_TEAM forces one.
   */
  #rowsLayout(
    spec: RowsSpec,
    input: Operand,
    outStrides: number[],
    rowRank: number,
    n: number,
    rows: number,
    out: GpuStorage,
    wb: Storage[],
  ): RowsLayout {
    const wg = this.#rowsWg;
    const lead = input.strides.length - rowRank;
    const blocks = [out, input.storage, ...wb] as GpuStorage[];
    const vec =
      settings.XPU_ROWS_VEC === 'on' &&
      input.dtype === 'float32' &&
      rowRank === 1 &&
      n % 4 === 0 &&
      input.strides[lead] === 1 &&
      outStrides[lead] === 1 &&
      input.offset % 4 === 0 &&
      input.strides.slice(0, lead).every((s) => s % 4 === 0) &&
      outStrides.slice(0, lead).every((s) => s % 4 === 0) &&
      blocks.every((g) => g.size % 16 === 0 && g.size <= this.device.limits.maxStorageBufferBindingSize);
    const a = this.adapter;
    const sg = a.features.has('subgroups') && a.subgroupMinSize !== undefined && a.subgroupMinSize <= wg ? a.subgroupMinSize : undefined;
    const forced = settings.XPU_ROWS_TEAM;
    if (forced === 'workgroup' || (forced === undefined && n > 4096 && rows < 256)) return { team: 'shared', teamSize: wg, vec };
    if (sg !== undefined && forced !== 'shared') return { team: 'subgroup', teamSize: sg, vec };
    let team = 1;
    while (team < wg && team * 16 < n) team *= 2;
    return { team: 'shared', teamSize: team, vec };
  }

  /** The fused optimizer step of a parameter group: one launch (optim.ts). */
  optimStep(spec: OptimStepSpec): void {
    webgpuOptimStep(this, spec);
  }

  /** A chunk's flat state, parameters and gradients are each bound whole: the binding and buffer limits. */
  optimChunkElements(): number {
    return Math.floor(Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize) / 4);
  }

  /** cumsum / cumprod (scan.ts), sort (sort.ts), scatter (scatter.ts): one launcher each. */
  scan(spec: ScanSpec): Storage {
    return webgpuScan(this, spec);
  }

  sort(spec: SortSpec): Storage {
    return webgpuSort(this, spec);
  }

  scatter(spec: ScatterSpec): Storage {
    return webgpuScatter(this, spec);
  }

  /** Flash attention (prefill) or split-K flash decoding: attention.ts, kernels/attention/. */
  attention(spec: AttentionSpec): Storage {
    return webgpuAttention(this, spec);
  }

  /** Its gradients: the two-sweep flash backward (attention_backward.ts, kernels/attention/backward_*.wgsl). */
  attentionBackward(spec: AttentionBackwardSpec): AttentionGrads {
    return webgpuAttentionBackward(this, spec);
  }

  /**
   * GEMM: kernels/gemm.wgsl (tiles) or kernels/gemv.wgsl (M <= 8, split-K), specialised by
   * gemm_codegen.ts, with the epilogue fused into the store; the config comes from gemmConfigFor
   * (gemm_config.ts: the one place a GEMM config is chosen).
   */
  matmul(spec: MatmulSpec): Storage {
    const total = numel(spec.batchShape) * spec.m * spec.n;
    if (total === 0) return this.alloc(spec.outDtype, 0, 'matmul');
    const p = gemmProblem(spec);
    const { layout, castTo } = gemmLayout(p, spec);
    const adapter = this.adapter;
    const minSubgroup = adapter.subgroupMinSize ?? 4;
    const gemmKey = (cc: GemmConfig) => `gemm|${gemmLayoutKey(layout)}|${gemmConfigKey(cc)}|${cc.path === 'gemv' ? gemvRows(p.m) : ''}`;
    const c = gemmConfigFor(adapter, {
      m: p.m,
      n: p.n,
      k: p.k,
      dtype: spec.a.dtype,
      hints: gemmShapeHints(p),
      fused: !!(layout.bias || layout.residual || layout.activation || layout.scaled),
      texturePackable: (tc) => {
        const split = splitKProblem(p, spec, tc);
        return (split !== undefined && texturePackable(split.q, adapter, tc)) || texturePackable(p, adapter, tc);
      },
      fits: (cc) => cc.path === 'naive' || this.pipelines.fits(gemmKey(cc), () => gemmSource(layout, cc, p.m, minSubgroup)),
    });
    if (c.path === 'naive')
      return this.#castMatmul(this.#matmulNaive(spec), total, castTo ?? (spec.outDtype === 'float16' ? 'float16' : undefined));
    if (c.path === 'tile' && c.variant === 'texture') {
      // gemm_texture.ts: operands packed into textures; split-K for a small output, long K.
      const split = splitKProblem(p, spec, c);
      if (split && texturePackable(split.q, adapter, c)) {
        const partials = this.alloc('float32', split.slices * p.m * p.n, 'matmul');
        textureGemm(this, split.q, split.qspec, { ...layout, out: 'float32' }, c, partials);
        const out = this.alloc('float32', total, 'matmul');
        sumSlices(this, partials, out, split.slices, total);
        this.release(partials);
        return out;
      }
      const out = this.alloc(layout.out, total, 'matmul');
      textureGemm(this, p, spec, layout, c, out);
      return this.#castMatmul(out, total, castTo);
    }
    const ep = spec.epilogue;
    const inputs = [spec.a.storage, spec.b.storage, ...(ep?.bias ? [ep.bias.storage] : []), ...(ep?.residual ? [ep.residual.storage] : [])];
    const tiles = gemmTiles(c, p.m, p.n);
    const out = this.alloc(layout.out, total, 'matmul');
    this.run({
      name: c.path === 'gemv' ? 'gemv' : 'gemm',
      op: 'matmul',
      key: gemmKey(c),
      layout: bufferLayout(inputs.length),
      source: () => gemmSource(layout, c, p.m, minSubgroup),
      uniforms: gemmUniforms(p, spec, tiles),
      bindings: [bindWhole(out), ...inputs.map(bindWhole)],
      groups: tiles.tilesN * tiles.tilesM * numel(p.batchShape),
    });
    return this.#castMatmul(out, total, castTo);
  }

  /** Quantized GEMM / GEMV (src/quant): launched by qgemm.ts. */
  qmatmul(spec: QuantMatmulSpec): Storage {
    if (spec.m * spec.w.n === 0) return this.alloc(spec.outDtype, 0, 'linear');
    return webgpuQuantMatmul(this, spec);
  }

  /** A float32 GEMM result cast to float16 by one map pass (an odd N cannot be stored packed). */
  #castMatmul(out: Storage, total: number, castTo: 'float16' | undefined): Storage {
    if (!castTo) return out;
    const cast = this.map({
      kernel: COPY_KERNEL,
      inputs: [{ storage: out, dtype: 'float32', strides: [1], offset: 0 }],
      outShape: [total],
      outDtype: castTo,
      argKind: 'f32',
    });
    this.release(out);
    return cast;
  }

  /** The original one-invocation-per-output kernel (XPU_GEMM_VARIANT=naive: the benchmark baseline). */
  #matmulNaive(spec: MatmulSpec): Storage {
    const { a, b, batchShape, m, n, k } = spec;
    checkRank('matmul', batchShape.length);
    const total = numel(batchShape) * m * n;
    const out = this.alloc('float32', total, 'matmul');
    const nb = batchShape.length;
    this.run({
      name: 'matmul',
      op: 'kernel',
      key: `matmul_naive|${a.dtype}|${b.dtype}`,
      layout: bufferLayout(2),
      constants: { WG },
      source: () =>
        [NAIVE_PARAMS.wgsl, bindings(2), loaderFn(0, a.dtype, 'f32'), loaderFn(1, b.dtype, 'f32'), kernelSource('matmul_naive.wgsl')].join(
          '\n',
        ),
      uniforms: NAIVE_PARAMS.write({
        m,
        n,
        k,
        total,
        brank: nb,
        aoff: a.offset,
        boff: b.offset,
        p0: 0,
        sam: a.strides[nb],
        sak: a.strides[nb + 1],
        sbk: b.strides[nb],
        sbn: b.strides[nb + 1],
        bshape: batchShape,
        sab: a.strides.slice(0, nb),
        sbb: b.strides.slice(0, nb),
      }),
      bindings: [bind(out), bind(a.storage), bind(b.storage)],
      groups: Math.ceil(total / WG),
    });
    return out;
  }
}
