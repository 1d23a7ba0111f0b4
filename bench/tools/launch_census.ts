/**
 * What one xpu call asks of WebGPU, counted rather than timed: every GPUDevice / GPUQueue /
 * encoder call an op makes (buffers and bind groups created, bytes written, pipelines set,
 * dispatches by grid) and the WGSL of every shader module it compiles. On a shared 2-core box a
 * before/after timing of a small kernel moves 2x with the load (issue 14's sdpa-256 "regression"
 * did: either tree came out slower depending on the minute); the census does not move. Run it in
 * two trees (`--root` points at another checkout's built tree) and diff the outputs: equal counts
 * and equal kernel bodies mean equal GPU work, and what is left to compare is JavaScript time.
 *
 *   node dist/bench/tools/launch_census.js [--root DIR] [--op sdpa|matmul|add] [--n 256] [--causal]
 *     [--calls 10] [--wgsl OUTDIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type Xpu = typeof import('../../src/index.js');

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const root = resolve(arg('root', process.cwd())!);
const op = arg('op', 'sdpa')!;
const n = Number(arg('n', '256'));
const calls = Number(arg('calls', '10'));
const causal = process.argv.includes('--causal');
const wgslDir = arg('wgsl');

const xpu = (await import(pathToFileURL(join(root, 'dist/src/index.js')).href)) as Xpu;
if (typeof xpu.ready === 'function') await xpu.ready();

/** The call under study, on inputs made once (their creation is not counted). */
function makeCall(): () => void {
  if (op === 'sdpa') {
    const [q, k, v] = [0, 1, 2].map(() => xpu.randn([1, 2, n, 128], { device: 'xpu' }));
    return () => xpu.scaledDotProductAttention(q, k, v, { isCausal: causal }).dispose();
  }
  if (op === 'matmul') {
    const [a, b] = [0, 1].map(() => xpu.randn([n, n], { device: 'xpu' }));
    return () => xpu.matmul(a, b).dispose();
  }
  if (op === 'add') {
    const [a, b] = [0, 1].map(() => xpu.randn([n], { device: 'xpu' }));
    return () => xpu.add(a, b).dispose();
  }
  throw new Error(`--op: expected sdpa, matmul or add, got ${op}`);
}

const counts = new Map<string, number>();
const bump = (key: string, by = 1) => counts.set(key, (counts.get(key) ?? 0) + by);
let shaders = 0;

/** Wraps each listed method of a WebGPU class's prototype with a counter. */
function count(cls: string, methods: string[], extra?: (method: string, args: unknown[]) => void): void {
  const proto = (globalThis as unknown as Record<string, { prototype: Record<string, unknown> } | undefined>)[cls]?.prototype;
  if (!proto) throw new Error(`${cls} is not a global: did the GPU open?`);
  for (const m of methods) {
    const original = proto[m];
    if (typeof original !== 'function') continue;
    proto[m] = function (this: unknown, ...args: unknown[]) {
      bump(`${cls}.${m}`);
      extra?.(m, args);
      if (m === 'createShaderModule' && wgslDir) {
        mkdirSync(wgslDir, { recursive: true });
        writeFileSync(join(wgslDir, `${shaders++}.wgsl`), (args[0] as GPUShaderModuleDescriptor).code);
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
}

const call = makeCall();
await xpu.accelerator.synchronize('xpu');
count(
  'GPUDevice',
  ['createBuffer', 'createBindGroup', 'createComputePipeline', 'createShaderModule', 'createCommandEncoder', 'createTexture'],
  (m, a) => {
    if (m === 'createBuffer') bump('bytes created', (a[0] as GPUBufferDescriptor).size);
  },
);
count('GPUQueue', ['submit', 'writeBuffer', 'onSubmittedWorkDone'], (m, a) => {
  if (m === 'writeBuffer') bump('bytes written', (a[2] as ArrayBufferView | undefined)?.byteLength ?? 0);
});
count('GPUCommandEncoder', ['beginComputePass', 'copyBufferToBuffer', 'clearBuffer']);
count('GPUComputePassEncoder', ['setPipeline', 'setBindGroup', 'dispatchWorkgroups'], (m, a) => {
  if (m === 'dispatchWorkgroups') bump(`dispatch ${a.join('x')}`);
});

// The first call compiles and fills the caches (its census, with the WGSL, is printed apart).
call();
await xpu.accelerator.synchronize('xpu');
const first = new Map(counts);
counts.clear();
for (let i = 0; i < calls; i++) call();
await xpu.accelerator.synchronize('xpu');

const show = (m: Map<string, number>, per: number) =>
  [...m]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, c]) => `  ${k} = ${+(c / per).toFixed(3)}`)
    .join('\n');
console.log(`${op} n=${n}${causal ? ' causal' : ''} in ${root}`);
console.log(`first call:\n${show(first, 1)}`);
console.log(`per later call (mean of ${calls}):\n${show(counts, calls)}`);
process.exit(0);
