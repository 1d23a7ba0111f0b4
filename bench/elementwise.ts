/**
 * Elementwise benchmark (the foundation issue's): add, softmax and layerNorm throughput at 1M to
 * 64M f32 elements as GB/s and as a fraction of the device's measured copy bandwidth; per-op
 * overhead of a 1,000-op chain beside tfjs-backend-webgpu on the same Dawn adapter; and the poll
 * strategy's effect. Speed lives here, never in tests.
 *
 *   node dist/bench/elementwise.js [--quick] [--device xpu|cpu|all] [--json FILE]
 *   npm run bench -- elementwise ...   (the CLI imports this file and calls run())
 */
import * as xpu from '../src/index.js';
import { getPollStrategy } from '../src/backends/webgpu/poll.js';
import { cpuCopyBandwidth, xpuBufferCopyBandwidth, xpuCloneBandwidth, type CopyBandwidth } from './lib/bandwidth.js';
import { isEntryModule, parseSuiteArgs, type SuiteOptions } from './lib/args.js';
import type { BenchSuite } from './suite.js';
import { runEnvironment } from './lib/env.js';
import { writeJson } from './lib/json.js';
import type { OverheadRow, PollRow, ThroughputRow } from './lib/records.js';
import { sizeLabel } from './lib/table.js';
import { loadTfjsPeer, type TfjsPeer } from './lib/tfjs_peer.js';
import { OPS, ROW } from './elementwise/ops.js';
import { measureChains, tfjsChainWorkload, xpuChainWorkload, type ChainEntry } from './elementwise/overhead.js';
import { pollSweep } from './elementwise/polling.js';
import { printCopy, printOverhead, printPolling, printThroughput } from './elementwise/report.js';
import { measureOp, measureTfjsAdd, type MeasureContext } from './elementwise/throughput.js';

const M = 2 ** 20;
const FULL_SIZES = [1 * M, 4 * M, 16 * M, 64 * M];
const QUICK_SIZES = [1 * M, 4 * M];
/** The cpu kernels are plain TypeScript (~tens of M elements/s): larger sizes only cost minutes. */
const CPU_MAX_ELEMENTS = 4 * M;
/** The add size the poll strategies are compared at (the largest quick size under --quick). */
const POLL_ADD_FULL = 16 * M;

export async function run(opts: SuiteOptions): Promise<void> {
  const quick = opts.quick;
  const sizes = quick ? QUICK_SIZES : FULL_SIZES;
  const repeat = quick ? { warmup: 1, reps: 3 } : { warmup: 1, reps: 7 };
  const pollRepeat = quick ? { warmup: 1, reps: 3 } : { warmup: 1, reps: 5 };
  // A chain run takes tens of ms and varies more than a big op: more runs.
  const chainRepeat = quick ? { warmup: 1, reps: 5 } : { warmup: 2, reps: 15 };
  const targetBytes = (quick ? 128 : 256) * M;
  const notes: string[] = [];
  const say = (line: string) => process.stdout.write(`${line}\n`);

  const wantXpu = opts.device !== 'cpu';
  const wantCpu = opts.device !== 'xpu';
  const hasXpu = wantXpu && xpu.accelerator.isAvailable();
  if (wantXpu && !hasXpu) notes.push(`xpu rows skipped: ${xpu.accelerator.unavailable()}`);
  const poll = getPollStrategy();
  const environment = runEnvironment();
  say(`elementwise benchmark${quick ? ' (--quick)' : ''}: device=${opts.device}, poll=${poll}, ${new Date().toISOString()}`);
  if (hasXpu) say(`xpu: ${xpu.accelerator.getDeviceName()}`);

  const copy: CopyBandwidth[] = [];
  if (hasXpu) copy.push(await xpuCloneBandwidth(repeat), await xpuBufferCopyBandwidth(repeat));
  if (wantCpu) copy.push(await cpuCopyBandwidth(repeat));
  printCopy(copy);
  // The ceiling is the best copy the device showed, whichever path reached it.
  const copyOf = (d: 'xpu' | 'cpu') => Math.max(0, ...copy.filter((c) => c.device === d).map((c) => c.gbps)) || undefined;

  let peer: TfjsPeer | null = null;
  let peerStatus = 'not run (xpu not selected or unavailable)';
  if (hasXpu) {
    const p = await loadTfjsPeer();
    if (typeof p === 'string') {
      peerStatus = `tfjs-webgpu rows skipped: ${p}`;
      notes.push(peerStatus);
      say(peerStatus);
    } else {
      peer = p;
      peerStatus = `tfjs-backend-webgpu ${p.version} on ${p.adapter}`;
      say(`peer: ${peerStatus}`);
    }
  }

  const throughput: ThroughputRow[] = [];
  const progress = (r: ThroughputRow) => {
    throughput.push(r);
    say(`  ${r.impl} ${r.op} ${sizeLabel(r.elements)}: ${r.gbps ? `${r.gbps.toFixed(2)} GB/s` : r.note}`);
  };
  if (hasXpu) {
    const ctx: MeasureContext = { opts: repeat, targetBytes, copyGbps: copyOf('xpu'), poll };
    for (const n of sizes) {
      for (const c of OPS) progress(await measureOp(c, 'xpu', n, ctx));
      if (peer) progress(await measureTfjsAdd(peer, n, ctx));
    }
  }
  if (wantCpu) {
    const ctx: MeasureContext = { opts: repeat, targetBytes, copyGbps: copyOf('cpu'), poll: 'n/a' };
    for (const n of sizes) {
      for (const c of OPS) {
        if (n > CPU_MAX_ELEMENTS) progress({ impl: 'cpu', op: c.name, elements: n, shape: c.shape(n), bytes: c.bytes(n), poll: 'n/a', note: `skipped: cpu sizes are capped at ${sizeLabel(CPU_MAX_ELEMENTS)} (pure TypeScript kernels)` });
        else progress(await measureOp(c, 'cpu', n, ctx));
      }
    }
    if (sizes.some((n) => n > CPU_MAX_ELEMENTS)) notes.push(`cpu sizes capped at ${sizeLabel(CPU_MAX_ELEMENTS)} elements: the cpu kernels are pure TypeScript`);
  }
  printThroughput(throughput);

  const chains: ChainEntry[] = [];
  for (const variant of ['tensor', 'scalar'] as const) {
    if (hasXpu) chains.push({ impl: 'xpu', variant, make: () => xpuChainWorkload('xpu', variant) });
    if (peer) chains.push({ impl: 'tfjs-webgpu', variant, make: () => tfjsChainWorkload(peer as TfjsPeer, variant) });
    if (wantCpu) chains.push({ impl: 'cpu', variant, make: () => xpuChainWorkload('cpu', variant) });
  }
  say('\nper-op overhead (chains timed round-robin)...');
  const overhead: OverheadRow[] = await measureChains(chains, poll, chainRepeat);
  printOverhead(overhead);

  let polling: PollRow[] = [];
  if (hasXpu) {
    say('\npoll strategies (interleaved)...');
    polling = await pollSweep(quick ? QUICK_SIZES[QUICK_SIZES.length - 1] : POLL_ADD_FULL, peer, pollRepeat, chainRepeat, targetBytes);
    printPolling(polling);
  }

  const wrong = [...throughput, ...overhead].filter((r) => r.check && !r.check.ok);
  if (wrong.length) say(`\n${wrong.length} row(s) failed the correctness check (marked WRONG above)`);
  for (const n of notes) say(`note: ${n}`);

  if (opts.json) {
    const path = writeJson(opts.json, {
      suite: 'elementwise',
      environment,
      settings: {
        quick, device: opts.device, sizes, cpuMaxElements: CPU_MAX_ELEMENTS, rowLength: ROW, repeat, pollRepeat,
        chainRepeat, targetBytesPerGpuRun: targetBytes, defaultPoll: poll,
        timing: 'median of reps; GPU: N ops recorded then one accelerator.synchronize() (tfjs: end pass + submitQueue + onSubmittedWorkDone), inputs rotated among sets; chains and poll strategies timed round-robin',
      },
      peer: peer ? { status: peerStatus, version: peer.version, adapter: peer.adapter, flags: peer.flags, maxBindingBytes: peer.maxBindingBytes } : { status: peerStatus },
      copyBandwidth: copy,
      throughput,
      overhead,
      polling,
      notes,
    });
    say(`\nwrote ${path}`);
  }
}

// The CLI's contract (bench/suite.ts), checked by the compiler.
run satisfies BenchSuite['run'];

if (isEntryModule(import.meta.url)) {
  let opts: SuiteOptions;
  try {
    opts = parseSuiteArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  run(opts).then(
    // Dawn's device keeps the event loop alive; leave once the report is out.
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
