import Table from 'cli-table3';
import { tableStyle, useColor } from '../color.js';

export interface KernelEvent {
  name: string;
  device: string;
  params: string;
  shapes: string;
  /** performance.now() when the op entered the backend. */
  cpuStartMs: number;
  /** Time to record the launch (argument packing, pipeline lookup, encoding) on the CPU. */
  cpuDurMs: number;
  /** Bytes of the output allocated by the launch. */
  bytes: number;
  /** GPU timestamps (ns, device clock) where the adapter has timestamp queries. */
  gpuStartNs?: number;
  gpuDurNs?: number;
}

export interface KernelSummary {
  name: string;
  device: string;
  count: number;
  gpuMs: number;
  cpuMs: number;
  bytes: number;
}

/** A finished recording: per-launch events, a per-kernel summary and a Chrome trace. */
export class Profile {
  constructor(
    readonly events: KernelEvent[],
    readonly wallMs: number,
  ) {}

  /** Kernels grouped by (device, name), sorted by total time (GPU time where known). */
  summary(): KernelSummary[] {
    const groups = new Map<string, KernelSummary>();
    for (const e of this.events) {
      const key = `${e.device}|${e.name}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { name: e.name, device: e.device, count: 0, gpuMs: 0, cpuMs: 0, bytes: 0 }));
      g.count++;
      g.gpuMs += (e.gpuDurNs ?? 0) / 1e6;
      g.cpuMs += e.cpuDurMs;
      g.bytes += e.bytes;
    }
    const total = (g: KernelSummary) => (g.gpuMs > 0 ? g.gpuMs : g.cpuMs);
    return [...groups.values()].sort((a, b) => total(b) - total(a));
  }

  /** Total GPU time of all recorded launches, in ms. */
  get gpuMs(): number {
    return this.events.reduce((s, e) => s + (e.gpuDurNs ?? 0) / 1e6, 0);
  }

  /**
   * The summary as a printable table (top kernels by total time). Coloured only when stdout is a
   * terminal (src/color.ts: NO_COLOR, FORCE_COLOR), or as `color` says.
   */
  table(top = 20, color = useColor(process.stdout)): string {
    const t = new Table({
      head: ['kernel', 'device', 'calls', 'GPU ms', 'CPU enqueue ms', 'MB allocated'],
      style: tableStyle(process.stdout, color),
    });
    for (const g of this.summary().slice(0, top)) {
      t.push([g.name, g.device, g.count, g.gpuMs.toFixed(3), g.cpuMs.toFixed(3), (g.bytes / 1e6).toFixed(2)]);
    }
    return `${t.toString()}\nwall ${this.wallMs.toFixed(1)} ms, GPU ${this.gpuMs.toFixed(1)} ms, ${this.events.length} launches`;
  }

  /**
   * Chrome trace-event JSON (opens in Perfetto or chrome://tracing): one track for CPU-side
   * launches, one per GPU device with kernel execution, aligned at the first GPU timestamp.
   */
  chromeTrace(): { traceEvents: Record<string, unknown>[]; displayTimeUnit: string } {
    const traceEvents: Record<string, unknown>[] = [
      { name: 'process_name', ph: 'M', pid: 1, args: { name: 'xpu' } },
      { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'CPU enqueue' } },
    ];
    const t0 = this.events.length ? this.events[0].cpuStartMs : 0;
    const tids = new Map<string, number>();
    const anchors = new Map<string, { gpuNs: number; cpuMs: number }>();
    for (const e of this.events) {
      const args = { device: e.device, params: e.params, shapes: e.shapes, bytes: e.bytes };
      traceEvents.push({ name: e.name, cat: 'cpu', ph: 'X', pid: 1, tid: 1, ts: (e.cpuStartMs - t0) * 1000, dur: e.cpuDurMs * 1000, args });
      if (e.gpuStartNs === undefined || e.gpuDurNs === undefined) continue;
      let tid = tids.get(e.device);
      if (tid === undefined) {
        tid = 2 + tids.size;
        tids.set(e.device, tid);
        traceEvents.push({ name: 'thread_name', ph: 'M', pid: 1, tid, args: { name: `GPU ${e.device}` } });
        anchors.set(e.device, { gpuNs: e.gpuStartNs, cpuMs: e.cpuStartMs });
      }
      const a = anchors.get(e.device)!;
      const ts = (a.cpuMs - t0) * 1000 + (e.gpuStartNs - a.gpuNs) / 1000;
      traceEvents.push({ name: e.name, cat: 'gpu', ph: 'X', pid: 1, tid, ts, dur: e.gpuDurNs / 1000, args });
    }
    return { traceEvents, displayTimeUnit: 'ms' };
  }
}
