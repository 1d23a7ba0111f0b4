import { XpuValueError } from './errors.js';

/**
 * Every XPU_* environment variable, in one registry (tfjs's flags are the model): its parser, its
 * default and a one-line doc. Values are read lazily, from process.env at each access
 * (`settings.XPU_BATCH`), so a variable set before first use counts, and a benchmark may change one
 * between runs where the code reads it per call. `xpu info` lists them (listSettings), and
 * tests/settings.test.ts checks that every XPU_ variable the sources read is registered here and
 * documented in the README's table.
 *
 * `where` says who reads a variable: the runtime (src/), the native addon at run time (native/),
 * the addon's build (native/configure.mjs), the benchmarks (bench/) or the test suite.
 */

export type SettingScope = 'runtime' | 'native' | 'build' | 'bench' | 'test';

export interface Setting<T> {
  /** The value when the variable is unset, as shown to a person ('unset' where there is none). */
  default: string;
  doc: string;
  where: SettingScope;
  /** The value for the raw string (undefined when unset); may throw XpuValueError. */
  parse: (raw: string | undefined) => T;
}

const str = (): ((raw: string | undefined) => string | undefined) => (raw) => raw;
/** A number, `fallback` only when unset (as `Number(process.env.X ?? fallback)`). */
const num =
  (fallback: number): ((raw: string | undefined) => number) =>
  (raw) =>
    Number(raw ?? fallback);
/** A number when set and non-empty, else undefined. */
const optNum = (): ((raw: string | undefined) => number | undefined) => (raw) => (raw ? Number(raw) : undefined);
/** Set to exactly '1'. */
const flag1 = (): ((raw: string | undefined) => boolean) => (raw) => raw === '1';
/** Set to anything non-empty. */
const nonEmpty = (): ((raw: string | undefined) => boolean) => (raw) => !!raw;

function oneOf<T extends string>(name: string, values: readonly T[], op: string, what: string): (raw: string | undefined) => T | undefined {
  return (raw) => {
    if (raw === undefined || raw === '') return undefined;
    if (!(values as readonly string[]).includes(raw)) {
      throw new XpuValueError(`unknown ${what} in the environment`, { op, arg: name, expected: values.join(', '), got: raw });
    }
    return raw as T;
  };
}

export type AutotuneMode = 'off' | 'on' | 'force';
export type GemmVariantSetting = 'register' | 'shared' | 'texture' | 'naive';

function autotune(raw: string | undefined): AutotuneMode {
  const v = (raw ?? '').toLowerCase();
  if (v === '' || v === 'off' || v === '0') return 'off';
  if (v === 'on' || v === '1') return 'on';
  if (v === 'force') return 'force';
  throw new XpuValueError('unknown autotune mode in the environment', {
    op: 'matmul',
    arg: 'XPU_AUTOTUNE',
    expected: 'off, on, force',
    got: v,
  });
}

const def = <T>(s: Setting<T>): Setting<T> => s;

export const SETTINGS = {
  // Devices and the GPU runtime.
  XPU_DEVICE: def({
    where: 'runtime',
    default: 'unset',
    parse: str(),
    doc: "the default device: 'cpu' (the GPU is never opened), 'xpu' or 'xpu:N'; unset: a hardware xpu once ready() found one, else cpu",
  }),
  XPU_BACKEND: def({ where: 'runtime', default: 'unset', parse: str(), doc: 'passed to Dawn as backend=... (vulkan, metal, d3d12, ...)' }),
  XPU_ADAPTER: def({
    where: 'runtime',
    default: 'unset',
    parse: str(),
    doc: "passed to Dawn as adapter=...: a substring of the adapter's name",
  }),
  XPU_POLL: def({
    where: 'runtime',
    default: 'adaptive',
    parse: str(),
    doc: 'how the JS thread waits for the GPU: spin (Dawn busy-polls), throttle (a 1 ms timer) or adaptive (a few fast polls, then the timer)',
  }),
  XPU_QUIET: def({ where: 'runtime', default: 'unset', parse: nonEmpty(), doc: 'no stderr line when no GPU is found' }),
  XPU_BATCH: def({ where: 'runtime', default: '128', parse: num(128), doc: 'GPU dispatches recorded before a submit' }),
  XPU_MAP_WG: def({ where: 'runtime', default: '64', parse: num(64), doc: 'invocations per workgroup of the map (elementwise) kernels' }),
  XPU_MAP_GROUPS: def({
    where: 'runtime',
    default: '4096',
    parse: num(4096),
    doc: 'most workgroups one map launch uses (a grid-stride loop covers the rest)',
  }),
  XPU_MAP_VEC: def({
    where: 'runtime',
    default: 'on',
    parse: (raw) => oneOf<'on' | 'off'>('XPU_MAP_VEC', ['on', 'off'], 'map', 'vectorised map setting')(raw) ?? 'on',
    doc: 'on: map kernels whose operands are all contiguous write 4 words per invocation from vec4 loads; off: always the strided kernel',
  }),
  XPU_ROWS_TEAM: def({
    where: 'runtime',
    default: 'unset',
    parse: oneOf<'subgroup' | 'shared' | 'workgroup'>('XPU_ROWS_TEAM', ['subgroup', 'shared', 'workgroup'], 'softmax', 'rows team'),
    doc: 'rows kernels (softmax, norms): subgroup (a row per subgroup, where the adapter has them), shared (a row per team of lanes sized to the row, workgroup-memory reductions) or workgroup (a row per workgroup); unset: chosen per launch',
  }),
  XPU_ROWS_VEC: def({
    where: 'runtime',
    default: 'on',
    parse: (raw) => oneOf<'on' | 'off'>('XPU_ROWS_VEC', ['on', 'off'], 'softmax', 'vectorised rows setting')(raw) ?? 'on',
    doc: 'on: rows kernels read and write contiguous, 4-aligned float32 rows as vec4 words; off: per element',
  }),
  XPU_ROWS_WG: def({
    where: 'runtime',
    default: '64',
    parse: num(64),
    doc: 'invocations per workgroup (a power of two) of the reduce and rows (softmax, norms) kernels: several rows per workgroup, a team of lanes (or a subgroup) per row',
  }),
  XPU_AUTOTUNE: def({
    where: 'runtime',
    default: 'off',
    parse: autotune,
    doc: 'GEMM and attention configs: off = shipped table + heuristics; on = also the per-adapter disk cache filled by accelerator.tuneGemm / tuneAttention; force = tuning re-measures cached buckets',
  }),
  XPU_GEMM_VARIANT: def({
    where: 'runtime',
    default: 'unset',
    parse: oneOf<GemmVariantSetting>('XPU_GEMM_VARIANT', ['register', 'shared', 'texture', 'naive'], 'matmul', 'GEMM strategy'),
    doc: 'forces the xpu GEMM tile strategy (register, shared, texture, naive) over the tuned tables and heuristics',
  }),
  XPU_QGEMM_PATH: def({
    where: 'runtime',
    default: 'unset',
    parse: str(),
    doc: 'forces the xpu quantized GEMM path: gemv (split-K GEMV at any M) or tile (tiles even for M <= 8)',
  }),
  XPU_QGEMV_WG: def({
    where: 'runtime',
    default: 'unset',
    parse: optNum(),
    doc: 'invocations per workgroup of the xpu quantized GEMV (an experiment; default from the adapter)',
  }),
  XPU_QGEMV_COLS: def({
    where: 'runtime',
    default: 'unset',
    parse: optNum(),
    doc: 'output columns per workgroup of the xpu quantized GEMV (an experiment; default 16 on lavapipe, 8 elsewhere)',
  }),
  XPU_QUANT_DOT4: def({
    where: 'runtime',
    default: 'on',
    parse: str(),
    doc: 'off: the w8a8 kernels unpack int8 by hand instead of dot4I8Packed / unpack4xI8',
  }),
  XPU_ATTENTION: def({
    where: 'runtime',
    default: 'unset',
    parse: str(),
    doc: "composed: the Llama model's attention as matmul-softmax-matmul instead of the fused kernel (to compare)",
  }),
  XPU_POISON: def({
    where: 'runtime',
    default: 'unset',
    parse: flag1(),
    doc: '1: a test mode filling every new GPU block and cpu host array with NaN patterns, so a kernel reading memory it never wrote fails',
  }),
  // The cpu device and the native addon.
  XPU_NATIVE: def({ where: 'runtime', default: 'on', parse: str(), doc: 'off: do not load the native addon' }),
  XPU_NATIVE_ISA: def({
    where: 'runtime',
    default: 'best',
    parse: str(),
    doc: 'the prebuilt addon to load: x86-64-v2, x86-64-v3 or x86-64-v4 (default: the best this CPU runs; a source build ignores it)',
  }),
  XPU_CPU_GEMM: def({
    where: 'runtime',
    default: 'auto',
    parse: str(),
    doc: 'the cpu matmul: auto (oneDNN when the addon has it), ts (always TypeScript) or native (native or an error)',
  }),
  XPU_CPU_GEMM_INLINE: def({
    where: 'runtime',
    default: '2097152',
    parse: str(),
    doc: 'native GEMMs and quantized linears of at most this many multiply-adds run on the JS thread when none is queued (beyond it, those the inline team splits); 0: always queue',
  }),
  XPU_CPU_INLINE_THREADS: def({
    where: 'native',
    default: 'OpenMP threads',
    parse: str(),
    doc: 'threads of the inline team that splits GEMMs and GGUF linears running on the JS thread across the cores (1: the JS thread alone); read once by the addon',
  }),
  XPU_CPU_QGEMM: def({ where: 'runtime', default: 'auto', parse: str(), doc: 'the cpu quantized linear: auto, ts or native' }),
  XPU_GGUF_CPU_ACTIVATIONS: def({
    where: 'runtime',
    default: 'q8',
    parse: oneOf('XPU_GGUF_CPU_ACTIVATIONS', ['q8', 'float'] as const, 'llm.load', 'GGUF cpu activation mode'),
    doc: "a GGUF model's quantized linears on cpu: q8 (llama.cpp's int8 activations) or float (exact float32)",
  }),
  XPU_CPU_ATTENTION: def({ where: 'runtime', default: 'auto', parse: str(), doc: 'the cpu attention: auto, ts or native' }),
  XPU_CPU_ELEMENTWISE: def({
    where: 'runtime',
    default: 'auto',
    parse: str(),
    doc: 'the cpu elementwise ops: auto (native from a size on), ts or native',
  }),
  XPU_CPU_F16_GEMM: def({
    where: 'native',
    default: 'stream',
    parse: str(),
    doc: 'cpu matmuls with a float16 weight read along K: stream, gemv or convert',
  }),
  XPU_CPU_F16_TILE_KB: def({
    where: 'native',
    default: '2048',
    parse: str(),
    doc: 'KiB of float16 weight converted to f32 per dnnl_sgemm call (XPU_CPU_F16_GEMM=stream)',
  }),
  XPU_DNNL_SGEMM_MAX_M: def({
    where: 'native',
    default: '4',
    parse: str(),
    doc: "up to this many rows the native GEMM is dnnl_sgemm plus an epilogue pass, above it oneDNN's matmul primitive",
  }),
  XPU_CPU_MKL: def({
    where: 'native',
    default: 'on',
    parse: str(),
    doc: 'off: an addon built with oneMKL runs every GEMM on oneDNN and its own GEMV, as one built without it',
  }),
  XPU_CPU_F32_GEMV_MAX_M: def({
    where: 'native',
    default: '4',
    parse: str(),
    doc: "up to this many rows an f32 Linear weight goes to the addon's streaming GEMV; 0: never",
  }),
  // Collectives (xpu.dist).
  XPU_DIST_BACKEND: def({ where: 'runtime', default: 'mpi', parse: str(), doc: "xpu.dist's engine: mpi (OpenMPI) or ccl (oneCCL)" }),
  XPU_DIST_TIMEOUT_MS: def({
    where: 'runtime',
    default: '300000',
    parse: str(),
    doc: 'longest wait of the rendezvous and, by default, of each collective call',
  }),
  XPU_DIST_SECRET: def({
    where: 'runtime',
    default: 'unset',
    parse: str(),
    doc: "the per-job secret of xpu.dist's rendezvous store (xpu run sets a fresh one; at least 16 characters)",
  }),
  // The native addon's build (native/configure.mjs).
  XPU_MPI: def({ where: 'build', default: 'on', parse: str(), doc: 'off: build the addon without MPI' }),
  XPU_DNNL: def({ where: 'build', default: 'on', parse: str(), doc: 'off: build the addon without oneDNN' }),
  XPU_CCL_ROOT: def({ where: 'build', default: 'unset', parse: str(), doc: 'a oneCCL install to build against, or off' }),
  XPU_MKL_ROOT: def({
    where: 'build',
    default: 'unset',
    parse: str(),
    doc: 'a oneMKL install to build the CPU GEMM against (default .cache/mkl from scripts/fetch-mkl.sh), or off',
  }),
  XPU_MARCH: def({ where: 'build', default: 'native', parse: str(), doc: "the compiler's -march for the addon" }),
  XPU_PREBUILD: def({
    where: 'build',
    default: 'unset',
    parse: str(),
    doc: '1: build the binaries the npm package ships (scripts/prebuild.mjs sets it)',
  }),
  // Benchmarks and tests.
  XPU_BENCH_RANKS: def({ where: 'bench', default: '4', parse: str(), doc: 'ranks of the collectives benchmark' }),
  XPU_BENCH_BACKEND: def({ where: 'bench', default: 'mpi', parse: str(), doc: 'the engine of the collectives benchmark: mpi or ccl' }),
  XPU_BENCH_MODEL: def({
    where: 'bench',
    default: '125m',
    parse: str(),
    doc: "the model benchmark's model (mini with --quick; 'compiled': only llama-125M decode through model.compile() against eager)",
  }),
  XPU_BENCH_GGUF_REPS: def({
    where: 'bench',
    default: '5',
    parse: str(),
    doc: "timed repetitions of the model suite's SmolLM2 GGUF part against llama.cpp (2 with --quick)",
  }),
  XPU_BENCH_OPS: def({
    where: 'bench',
    default: 'unset',
    parse: str(),
    doc: "the elementwise benchmark's rows, comma-separated op names (add,mul,softmax,...; 'chain' for the per-op chains); unset: all",
  }),
  XPU_BENCH_PYTHON: def({ where: 'bench', default: 'python3', parse: str(), doc: 'the Python that runs the numpy peer' }),
  XPU_BENCH_TORCH_PYTHON: def({
    where: 'bench',
    default: '/usr/bin/python3',
    parse: str(),
    doc: "the Python with torch that runs bench train's peer and float64 oracle (Debian's python3-torch)",
  }),
  XPU_BENCH_TORCH_THREADS: def({
    where: 'bench',
    default: 'all cores',
    parse: str(),
    doc: "threads of bench train's torch peer (torch would take one per physical core)",
  }),
  XPU_CHROMIUM: def({ where: 'bench', default: '/usr/bin/chromium', parse: str(), doc: 'the Chromium that runs the browser peers' }),
  XPU_REQUIRE_GPU: def({
    where: 'test',
    default: 'unset',
    parse: flag1(),
    doc: '1: tests and xpu demo fail when there is no xpu device (set by .ci/run)',
  }),
  XPU_REQUIRE_MPI: def({
    where: 'test',
    default: 'unset',
    parse: flag1(),
    doc: '1: native and collectives tests fail, rather than skip, without the addon or its MPI engine (set by .ci/run)',
  }),
  XPU_SMOLLM2_GGUF: def({ where: 'test', default: '.cache/models/', parse: str(), doc: 'where tests find the SmolLM2 GGUF model' }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type SettingValues = { readonly [K in SettingName]: ReturnType<(typeof SETTINGS)[K]['parse']> };

/** The parsed value of each setting, read from process.env at each access. */
export const settings: SettingValues = Object.defineProperties(
  {},
  Object.fromEntries(
    Object.entries(SETTINGS).map(([name, s]) => [name, { enumerable: true, get: () => (s as Setting<unknown>).parse(process.env[name]) }]),
  ),
) as SettingValues;

export function isSettingName(name: string): name is SettingName {
  return Object.prototype.hasOwnProperty.call(SETTINGS, name);
}

export interface SettingRow {
  name: SettingName;
  where: SettingScope;
  /** The raw value in the environment, if set. */
  value: string | undefined;
  default: string;
  doc: string;
}

/** Every setting with its raw value (xpu info). */
export function listSettings(env: NodeJS.ProcessEnv = process.env): SettingRow[] {
  return (Object.keys(SETTINGS) as SettingName[]).map((name) => {
    const s = SETTINGS[name] as Setting<unknown>;
    return { name, where: s.where, value: env[name], default: s.default, doc: s.doc };
  });
}
