import { readFileSync } from 'node:fs';
import Table from 'cli-table3';
import * as xpu from '../index.js';
import { getPollStrategy } from '../backends/webgpu/poll.js';
import { defaultReason } from '../device/registry.js';
import { dawnVersion, mesaVersion, xpuVersion, type MesaVersion } from './versions.js';
import { listSettings, type SettingRow } from '../settings.js';

/** `xpu info`: devices, adapter details, native components and versions, as text or JSON. */

/** Limits worth a line in the text output (the JSON has all of them). */
const KEY_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];

export interface DeviceReport {
  name: string;
  type: 'cpu' | 'xpu';
  isDefault: boolean;
  description: string;
  adapter?: ReturnType<typeof xpu.accelerator.getDeviceInfo>;
}

export interface InfoReport {
  devices: DeviceReport[];
  /** The device new tensors go to, and why (a software adapter is never the default). */
  defaultDevice: string;
  defaultReason: string;
  /** Why there is no xpu device (null when there is one). */
  xpuUnavailable: string | null;
  pollStrategy: string;
  native: ReturnType<typeof xpu.nativeInfo>;
  versions: { xpu: string; dawn: string; node: string; v8: string; mesa: MesaVersion | null };
  /** The XPU_* variables that were set. */
  env: Record<string, string>;
  /** Every XPU_* variable xpu knows (src/settings.ts): its value if set, its default and what it does. */
  settings: SettingRow[];
}

/** Opens the GPU (xpu.ready()) and reports what it found. */
export async function collectInfo(): Promise<InfoReport> {
  const def = (await xpu.ready()).toString();
  const devices: DeviceReport[] = [
    {
      name: 'cpu',
      type: 'cpu',
      isDefault: def === 'cpu',
      description: `Node.js ${process.version} on ${process.arch}, TypeScript kernels`,
    },
  ];
  for (let i = 0; i < xpu.accelerator.deviceCount(); i++) {
    const adapter = xpu.accelerator.getDeviceInfo(i);
    devices.push({ name: `xpu:${i}`, type: 'xpu', isDefault: def === `xpu:${i}`, description: adapter.description, adapter });
  }
  const first = devices.find((d) => d.adapter)?.adapter;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('XPU_') && v !== undefined) env[k] = v;
  return {
    devices,
    defaultDevice: def,
    defaultReason: defaultReason(),
    xpuUnavailable: xpu.accelerator.unavailable(),
    pollStrategy: getPollStrategy(),
    native: xpu.nativeInfo(),
    versions: {
      xpu: xpuVersion(),
      dawn: dawnVersion(),
      node: process.versions.node,
      v8: process.versions.v8,
      mesa: mesaVersion(first ? `${first.description} ${first.driver}` : undefined),
    },
    env,
    settings: listSettings(),
  };
}

const twoCols = (): Table.Table => new Table({ style: { head: [], border: [] }, wordWrap: true, colWidths: [36, 70] });

function bytes(n: number): string {
  if (n >= 2 ** 30) return `${n} (${(n / 2 ** 30).toFixed(1)} GiB)`;
  if (n >= 2 ** 20) return `${n} (${(n / 2 ** 20).toFixed(1)} MiB)`;
  if (n >= 2 ** 10) return `${n} (${(n / 2 ** 10).toFixed(1)} KiB)`;
  return String(n);
}

/** The path a shared library was loaded from (Linux /proc/self/maps), or null. */
function libraryFile(name: string): string | null {
  try {
    const line = readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .find((l) => l.includes(`/${name}`));
    return line ? line.slice(line.indexOf('/')) : null;
  } catch {
    return null;
  }
}

export function printInfo(r: InfoReport): void {
  const out: string[] = [];
  const devs = new Table({ head: ['device', 'default', 'description'], style: { head: [], border: [] } });
  for (const d of r.devices) devs.push([d.name, d.isDefault ? 'yes' : '', d.description]);
  out.push('Devices', devs.toString(), `default device: ${r.defaultDevice} (${r.defaultReason})`);
  if (r.xpuUnavailable) out.push(`xpu unavailable: ${r.xpuUnavailable}`);

  for (const d of r.devices) {
    const a = d.adapter;
    if (!a) continue;
    const t = twoCols();
    t.push(
      ['vendor', a.vendor || '-'],
      ['architecture', a.architecture || '-'],
      ['device', a.device || '-'],
      ['description', a.description || '-'],
      ['backend', a.backend],
      ['driver', a.driver || '-'],
      ['software renderer', a.isSoftware ? `yes${a.isFallbackAdapter ? ' (fallback adapter)' : ''}` : 'no'],
      ['subgroup size', a.subgroupMinSize ? `${a.subgroupMinSize}..${a.subgroupMaxSize}` : '-'],
      ['features', a.features.join(', ')],
    );
    for (const k of KEY_LIMITS)
      if (k in a.limits)
        t.push([
          k,
          k.includes('Size') && !k.includes('WorkgroupSize') && !k.includes('Invocations') ? bytes(a.limits[k]) : String(a.limits[k]),
        ]);
    out.push('', `Adapter ${d.name}`, t.toString());
  }

  const n = r.native;
  const t = twoCols();
  if (n.build) {
    const b = n.build;
    const blas = n.compute?.blas;
    const mkl = !!blas?.enabled;
    t.push(
      ['addon', `loaded (${n.path}; ${n.variant === 'source' ? 'a source build' : `prebuilt for ${n.variant}`})`],
      ['compiler', `${b.compiler}, SIMD ${b.simd}`],
      ['Node-API', `${b.napiVersion} (node-addon-api ${b.nodeAddonApi})`],
      // Each engine is a plugin the addon loads if its library is here (native/collectives/plugins.cc).
      ['MPI', b.mpi.built ? `built: ${b.mpi.version}${b.mpi.library ? `, loaded ${b.mpi.library}` : ''}` : (b.mpi.error ?? 'not built')],
      [
        'oneCCL',
        b.ccl.built ? `built: ${b.ccl.version ?? 'version unknown'}${b.ccl.root ? ` (${b.ccl.root})` : ''}` : (b.ccl.error ?? 'not built'),
      ],
      ['CPU kernels', b.cpuKernels.length ? b.cpuKernels.join(', ') : 'none (TypeScript kernels)'],
      // The CPU GEMM's library (native/compute/gemm.cc), run on the addon's compute thread, and
      // the file it was loaded from: Debian's libdnnl and a pip/oneAPI one differ in version and speed.
      [
        'CPU GEMM',
        n.compute?.library
          ? `${n.compute.library} ${n.compute.version} (ISA ${n.compute.isa}, ${n.compute.runtime}, ${n.compute.threads} threads) on a compute thread${libraryFile('libdnnl') ? `, ${libraryFile('libdnnl')}` : ''}${mkl ? '; Linear weights of 5 to 383 rows and GEMMs with a fused activation' : ''}`
          : 'TypeScript (addon built without oneDNN)',
      ],
      // oneMKL beside oneDNN (scripts/fetch-mkl.sh): the shapes it measured faster at (gemm.cc).
      [
        'CPU GEMM, oneMKL',
        blas
          ? `${blas.library} ${blas.version} (ISA ${blas.isa}, ${blas.runtime})${libraryFile('libmkl_core') ? `, ${libraryFile('libmkl_core')}` : ''}: ${blas.enabled ? 'row-major B, Linear weights from 384 rows, one-row GEMV, small and inline GEMMs' : 'built in, off (XPU_CPU_MKL=off)'}`
          : 'not built in (scripts/fetch-mkl.sh, then npm run build:native)',
      ],
      // Kernels run on the JS thread split across the inline team (native/compute/inline_team.h).
      [
        'CPU inline team',
        n.inlineTeamThreads === null
          ? '-'
          : n.inlineTeamThreads > 1
            ? `the JS thread and ${n.inlineTeamThreads - 1} helper${n.inlineTeamThreads > 2 ? 's' : ''}: one-row products and GGUF linears of <= 8 rows at any size, float32 GEMMs up to 2^25 multiply-adds, when the compute queue is idle`
            : 'the JS thread alone (one core, OMP_NUM_THREADS=1 or XPU_CPU_INLINE_THREADS=1)',
      ],
      // Few-row f32/f16 Linear layers (decode) skip oneDNN: our own GEMV (native/compute/gemv.cc).
      [
        mkl ? 'CPU GEMV (Linear, 2-4 rows; f16 <= 8)' : 'CPU GEMV (Linear, <= 4 rows)',
        n.compute?.library ? `xpu's streaming GEMV (native/compute/gemv.cc), ${b.simd} as compiled, OpenMP` : '-',
      ],
    );
  } else {
    t.push(
      ['addon', `not loaded: ${n.error}`],
      ['MPI', 'not available'],
      ['oneCCL', 'not available'],
      ['CPU kernels', 'TypeScript kernels only'],
    );
  }
  out.push('', 'Native components', t.toString());

  const v = twoCols();
  v.push(
    ['xpu', r.versions.xpu],
    ['Dawn (npm webgpu)', r.versions.dawn],
    ['Node', `${r.versions.node} (V8 ${r.versions.v8})`],
    ['Mesa', r.versions.mesa ? `${r.versions.mesa.version} (from ${r.versions.mesa.source})` : 'not found'],
    ['GPU poll strategy', r.pollStrategy],
  );
  for (const [k, val] of Object.entries(r.env)) v.push([k, val]);
  out.push('', 'Versions and settings', v.toString());

  const st = new Table({
    head: ['variable', 'value', 'read by', 'what it does'],
    style: { head: [], border: [] },
    wordWrap: true,
    colWidths: [24, 18, 10, 64],
  });
  for (const x of r.settings) st.push([x.name, x.value !== undefined ? x.value : `(${x.default})`, x.where, x.doc]);
  out.push('', 'Environment variables (src/settings.ts; unset ones show their default in parentheses)', st.toString());
  console.log(out.join('\n'));
}
