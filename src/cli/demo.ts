import { settings } from '../settings.js';
import Table from 'cli-table3';
import * as xpu from '../index.js';
import type { Tensor } from '../index.js';
import { collectInfo } from './info.js';

/**
 * `xpu demo`: the README's first run. It lists the devices, runs the same small program on xpu and
 * on cpu, and shows how far apart the results are. The inputs are drawn once on cpu and copied to
 * xpu, so a difference in an op row is that op's kernels; the first row compares the two devices'
 * random generators (the same Philox stream, but log/cos round differently on a GPU).
 */

interface Case {
  name: string;
  /** Max |xpu - cpu| allowed, relative to max(1, max |cpu|): f32 rounding after a few ops, f16 storage. */
  tol: number;
  build: (inputs: Inputs) => Tensor;
}

interface Inputs {
  device: xpu.DeviceString;
  a: Tensor;
  b: Tensor;
  w: Tensor;
}

const CASES: Case[] = [
  { name: 'randn([512, 256]), seed 0', tol: 1e-4, build: ({ device }) => (xpu.manualSeed(0), xpu.randn([512, 256], { device })) },
  // The example from the README: float16 tensor cast up, broadcast add, softmax over rows.
  { name: 'softmax(a + b.to(float32), -1)', tol: 1e-5, build: ({ a, b }) => xpu.softmax(xpu.add(a, b.to('float32')), -1) },
  { name: 'matmul(a, w) [512x256 @ 256x128]', tol: 1e-5, build: ({ a, w }) => xpu.matmul(a, w) },
  { name: 'gelu(a)', tol: 1e-5, build: ({ a }) => xpu.gelu(a) },
  { name: 'where(a > 0, a, 0.1 * a)', tol: 1e-6, build: ({ a }) => xpu.where(xpu.gt(a, 0), a, xpu.mul(a, 0.1)) },
  { name: 'a.to(float16) * 0.5 + b', tol: 2e-3, build: ({ a, b }) => xpu.add(xpu.mul(a.to('float16'), 0.5), b) },
  { name: 'mean(a, -1)', tol: 1e-5, build: ({ a }) => xpu.mean(a, -1) },
  { name: 'rmsNorm(a, [256])', tol: 1e-5, build: ({ a }) => xpu.rmsNorm(a, [256]) },
];

/** The demo's inputs, drawn on cpu from seed 0 (the issue's example: a = randn, b = ones float16). */
function cpuInputs(): Inputs {
  xpu.manualSeed(0);
  const a = xpu.randn([512, 256], { device: 'cpu' });
  const b = xpu.ones([256], { dtype: 'float16', device: 'cpu' });
  const w = xpu.randn([256, 128], { device: 'cpu', std: 1 / 16 });
  return { device: 'cpu', a, b, w };
}

/**
 * Runs every case on one device and reads the results back as float arrays. A case that throws
 * is reported (and fails the demo) rather than hiding the others.
 */
async function runOn(inputs: Inputs): Promise<(Float32Array | Error)[]> {
  const out: (Float32Array | Error)[] = [];
  for (const c of CASES) {
    try {
      out.push(Float32Array.from(await xpu.data(c.build(inputs))));
    } catch (e) {
      out.push(e instanceof Error ? e : new Error(String(e)));
    }
  }
  return out;
}

/** The first line of an error, short enough for a table cell. */
const brief = (e: Error): string => (e.message.split('\n')[0] ?? '').slice(0, 200);

function compare(x: Float32Array, ref: Float32Array): { maxAbs: number; scale: number } {
  let maxAbs = 0;
  let scale = 1;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(x[i] - ref[i]);
    // NaN on one side only counts as an infinite difference.
    maxAbs = Math.max(maxAbs, Number.isNaN(d) && !(Number.isNaN(x[i]) && Number.isNaN(ref[i])) ? Infinity : d || 0);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { maxAbs, scale };
}

/** Returns the process exit code: 0 when every case agrees (or there is no xpu and it is not required). */
export async function runDemo(): Promise<number> {
  const info = await collectInfo();
  const devs = new Table({ head: ['device', 'default', 'description'], style: { head: [], border: [] } });
  for (const d of info.devices) devs.push([d.name, d.isDefault ? 'yes' : '', d.description]);
  console.log(`Devices\n${devs.toString()}`);

  const host = cpuInputs();
  const cpu = await runOn(host);
  if (!xpu.accelerator.isAvailable()) {
    const errors = cpu.filter((r) => r instanceof Error).length;
    console.log(`\nxpu is unavailable (${info.xpuUnavailable}); ran on cpu only${errors ? `, ${errors} ops failed` : ''}.`);
    if (errors) {
      console.log(`FAIL: ${errors} of ${CASES.length} ops failed on cpu`);
      return 1;
    }
    if (settings.XPU_REQUIRE_GPU) {
      console.log('FAIL: XPU_REQUIRE_GPU=1 and there is no xpu device');
      return 1;
    }
    console.log('SKIP: nothing to compare without an xpu device');
    return 0;
  }
  const t0 = performance.now();
  const gpu = await runOn({ device: 'xpu', a: host.a.to('xpu'), b: host.b.to('xpu'), w: host.w.to('xpu') });
  const ms = performance.now() - t0;

  const table = new Table({
    head: ['op', 'elements', 'max |xpu - cpu|', 'tolerance', ''],
    style: { head: [], border: [] },
    colAligns: ['left', 'right', 'right', 'right', 'left'],
  });
  let failures = 0;
  const errors: string[] = [];
  CASES.forEach((c, i) => {
    const x = gpu[i];
    const ref = cpu[i];
    if (x instanceof Error || ref instanceof Error) {
      failures++;
      const side = x instanceof Error ? 'xpu' : 'cpu';
      errors.push(`${c.name} on ${side}: ${brief((x instanceof Error ? x : ref) as Error)}`);
      table.push([c.name, '', `threw on ${side}`, '', 'ERROR']);
      return;
    }
    const { maxAbs, scale } = compare(x, ref);
    const ok = maxAbs <= c.tol * scale;
    if (!ok) failures++;
    table.push([c.name, String(ref.length), maxAbs.toExponential(2), (c.tol * scale).toExponential(1), ok ? 'ok' : 'MISMATCH']);
  });
  console.log(`\nxpu (${info.devices.find((d) => d.type === 'xpu')?.description}) vs cpu, same inputs\n${table.toString()}`);
  for (const e of errors) console.log(`error: ${e}`);
  console.log(`xpu run: ${ms.toFixed(0)} ms (includes first-use pipeline compilation)`);
  console.log(
    failures
      ? `FAIL: ${failures} of ${CASES.length} ops differ beyond tolerance`
      : `PASS: all ${CASES.length} ops agree between xpu and cpu`,
  );
  return failures ? 1 : 0;
}
