/**
 * The report's charts: vega-lite specs built from result rows, rendered to SVG in Node (vega's
 * headless 'none' renderer), so the HTML needs no script and no network to show them.
 *
 * - throughput: one chart per kernel, GB/s or GFLOP/s (whichever bound applies to most of its
 *   rows) against size, one line per implementation and device, peers beside ours, and each
 *   device's roofline as a dashed line;
 * - latency: one grouped bar chart per suite, µs per op by kernel and implementation;
 * - roofline: one per device, every row of the run as a point (arithmetic intensity against
 *   GFLOP/s, log-log) under the device's measured ceilings (FMA peak; read and copy bandwidth).
 */
import type { TopLevelSpec } from 'vega-lite';
import { loadCharting } from '../optional.js';
import type { DeviceName } from '../../suite.js';
import { isOurs, seriesName, type Row } from '../records.js';
import type { Roofline } from '../roofline.js';

export interface Chart {
  id: string;
  suite: string;
  title: string;
  caption: string;
  spec: TopLevelSpec;
}

type Metric = 'GB/s' | 'GFLOP/s';

/**
 * The x axis labels: each size as its rows label it (the suite's own: '1M', '1024', 'M=8'), as a
 * vega expression over the tick value.
 */
function sizeLabelExpr(points: { size: number; sizeLabel: string }[]): string {
  const labels = new Map(points.map((p) => [p.size, p.sizeLabel]));
  const quote = (t: string) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return [...labels].reduceRight(
    (rest, [size, label]) => `datum.value == ${size} ? ${quote(label)} : ${rest}`,
    "format(datum.value, '~r')",
  );
}
const WIDTH = 440;
const HEIGHT = 260;

/** Vega's default categorical palette (tableau10), handed out in a fixed order. */
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

/**
 * One colour per series for the whole report, so 'xpu' has the same colour in every chart:
 * this runtime's series first (xpu, then cpu), then the peers.
 */
export function seriesColors(names: string[]): Map<string, string> {
  const rank = (s: string) => (s.startsWith('xpu') ? 0 : s.startsWith('cpu') ? 1 : 2);
  const sorted = [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return new Map(sorted.map((s, i) => [s, PALETTE[i % PALETTE.length]]));
}

/** Colours from `colors` where it has the series; the others take the palette in order. */
function colorEncoding(series: string[], colors: Map<string, string>) {
  const order = [...colors.keys()];
  const rank = (s: string) => (colors.has(s) ? order.indexOf(s) : order.length);
  const domain = [...new Set(series)].sort((a, b) => rank(a) - rank(b));
  let next = 0;
  const range = domain.map((s) => colors.get(s) ?? PALETTE[next++ % PALETTE.length]);
  return {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain, range },
    legend: { orient: 'bottom', columns: 3, labelLimit: 260 },
  } as const;
}

const chartId = (...parts: string[]): string => `chart-${parts.join('-').replace(/[^A-Za-z0-9_-]+/g, '_')}`;

/** GFLOP/s when most measured rows are compute-bound against the roofline, else GB/s. */
function metricOf(rows: Row[]): Metric {
  const compute = rows.filter((r) => r.roofline?.bound === 'compute').length;
  const memory = rows.filter((r) => r.roofline?.bound === 'memory').length;
  if (compute || memory) return compute > memory ? 'GFLOP/s' : 'GB/s';
  return rows.some((r) => r.bytes > 0) ? 'GB/s' : 'GFLOP/s';
}

/**
 * The name a row has in its chart: the implementation (and device), with the dtype when the
 * kernel was measured at several, and the setting for rows of a setting chart.
 */
export function chartSeries(r: Row, rows: Row[]): string {
  const manyDtypes = new Set(rows.filter((x) => x.suite === r.suite && x.kernel === r.kernel).map((x) => x.dtype)).size > 1;
  const name = manyDtypes ? `${seriesName(r)} ${r.dtype}` : seriesName(r);
  return r.variant ? `${name} ${r.variant}` : name;
}

/**
 * One chart per kernel, and one more per kernel measured under several settings (variants), so
 * that the settings' series do not crowd the kernel's own chart.
 */
export function throughputCharts(suite: string, rows: Row[], roofline: Roofline, colors: Map<string, string>): Chart[] {
  const charted = rows.filter((r) => r.suite === suite && r.metric === 'throughput' && r.wall);
  const kernels = [...new Set(charted.map((r) => r.kernel))];
  const plain = kernels.filter((k) => charted.some((r) => r.kernel === k && !r.variant));
  const withSettings = kernels.filter((k) => charted.some((r) => r.kernel === k && r.variant));
  // Setting series are many and local to their chart: they take the palette in order instead.
  return [
    ...plain.map((k) =>
      throughputChart(
        suite,
        k,
        charted.filter((r) => r.kernel === k && !r.variant),
        roofline,
        colors,
        false,
      ),
    ),
    ...withSettings.map((k) =>
      throughputChart(
        suite,
        k,
        charted.filter((r) => r.kernel === k && r.variant),
        roofline,
        new Map(),
        true,
      ),
    ),
  ];
}

function throughputChart(
  suite: string,
  kernel: string,
  rows: Row[],
  roofline: Roofline,
  colors: Map<string, string>,
  settings: boolean,
): Chart {
  const metric = metricOf(rows);
  const points = rows
    .map((r) => ({
      series: chartSeries(r, rows),
      size: r.size,
      sizeLabel: r.sizeLabel,
      value: metric === 'GB/s' ? r.gbps : r.gflops,
      check: r.status === 'wrong' ? 'WRONG' : 'ok',
      roofline: r.roofline ? Math.round(r.roofline.fraction * 1000) / 10 : null,
    }))
    .filter((p) => p.value !== undefined && p.value > 0);
  // One dashed line per device the kernel ran on, in the colour of that device's own series.
  const devices = [...new Set(rows.map((r) => r.device))];
  const rules = devices.flatMap((d) => {
    const r = roofline[d];
    // The ceiling this kernel's rows were held to (read, copy or a mix; f32 or f16 peak), else the device's.
    const held = rows
      .filter((x) => x.device === d)
      .map((x) => (metric === 'GB/s' ? x.roofline?.bandwidthGBps : x.roofline?.peakGflops) ?? 0);
    const value = Math.max(0, ...held) || (r ? (metric === 'GB/s' ? r.bandwidthGBps : r.peakGflops) : 0);
    if (!(value > 0)) return [];
    // In the colour of the device's own series; in a setting chart, where every series is ours, grey.
    const ours = rows.find((x) => x.device === d && isOurs(x));
    const series = settings ? `${d} roofline` : ours ? chartSeries(ours, rows) : d;
    return [
      {
        series,
        value,
        label: `${d} ${metric === 'GB/s' ? 'bandwidth' : 'FMA peak'} ${value >= 100 ? Math.round(value) : value.toPrecision(3)} ${metric}`,
      },
    ];
  });
  const sizes = [...new Set(points.map((p) => p.size))].sort((a, b) => a - b);
  const ruleColors = settings ? new Map(rules.map((r) => [r.series, '#777'])) : new Map<string, string>();
  const color = colorEncoding([...points.map((p) => p.series), ...rules.map((r) => r.series)], new Map([...colors, ...ruleColors]));
  const y = { field: 'value', type: 'quantitative', title: metric, scale: { type: 'log' } } as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: WIDTH,
    height: HEIGHT,
    title: { text: `${suite}: ${kernel}${settings ? ' by setting' : ''}`, subtitle: `${metric} by size; dashed: the device's roofline` },
    layer: [
      {
        data: { values: points },
        mark: { type: 'line', point: { filled: true, size: 60 }, strokeWidth: 2 },
        encoding: {
          x: {
            field: 'size',
            type: 'quantitative',
            title: 'size',
            scale: { type: 'log', base: 2 },
            axis: { values: sizes, labelExpr: sizeLabelExpr(points), grid: false },
          },
          y,
          color,
          tooltip: [
            { field: 'series' },
            { field: 'sizeLabel', title: 'size' },
            { field: 'value', format: '.3~r', title: metric },
            { field: 'roofline', title: '% of roofline' },
            { field: 'check' },
          ],
        },
      },
      {
        // Rows that failed their check: a red ring around the point.
        data: { values: points.filter((p) => p.check === 'WRONG') },
        mark: { type: 'point', shape: 'circle', size: 220, stroke: '#d62728', strokeWidth: 2.5, filled: false },
        encoding: { x: { field: 'size', type: 'quantitative' }, y: { field: 'value', type: 'quantitative' } },
      },
      {
        data: { values: rules },
        mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5 },
        encoding: { y, color },
      },
      // Each roofline's label: the highest line's above it, the next one's below it (then the
      // same at the left end), so that two devices with similar bounds do not print over lines.
      ...[...rules]
        .sort((a, b) => b.value - a.value)
        .map((rule, i) => ({
          data: { values: [rule] },
          mark: {
            type: 'text' as const,
            fontSize: 10,
            align: i < 2 ? ('right' as const) : ('left' as const),
            x: i < 2 ? WIDTH - 4 : 4,
            baseline: i % 2 ? ('top' as const) : ('bottom' as const),
            dy: i % 2 ? 3 : -3,
          },
          encoding: { y: { field: 'value', type: 'quantitative' as const }, text: { field: 'label' }, color },
        })),
    ],
    resolve: { scale: { y: 'shared', color: 'shared' } },
  };
  const wrong = points.filter((p) => p.check === 'WRONG').length;
  return {
    id: settings ? chartId(suite, kernel, 'settings') : chartId(suite, kernel),
    suite,
    title: `${suite}: ${kernel}${settings ? ' by setting' : ''}`,
    caption: `${kernel}${settings ? ', each setting timed round-robin on the same inputs' : ''}: ${metric} against size (log scales), ${new Set(points.map((p) => p.series)).size} series${wrong ? `; ${wrong} point(s) ringed in red failed the correctness check` : ''}.`,
    spec,
  };
}

/** µs per op, grouped by kernel, one bar per implementation; null when the suite has no latency rows. */
export function latencyChart(suite: string, rows: Row[], colors: Map<string, string>): Chart | null {
  const bars = rows
    .filter((r) => r.suite === suite && r.metric === 'latency' && !r.variant && r.wall)
    .map((r) => ({
      kernel: r.kernel,
      series: chartSeries(r, rows),
      us: (r.wall?.medianMs ?? 0) * 1000,
      check: r.status === 'wrong' ? 'WRONG' : 'ok',
    }));
  if (!bars.length) return null;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: WIDTH,
    height: HEIGHT,
    title: { text: `${suite}: per-op latency`, subtitle: 'median µs per op (lower is better)' },
    data: { values: bars },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'kernel', type: 'nominal', title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'series', type: 'nominal' },
      y: { field: 'us', type: 'quantitative', title: 'µs per op' },
      color: colorEncoding(
        bars.map((b) => b.series),
        colors,
      ),
      tooltip: [{ field: 'kernel' }, { field: 'series' }, { field: 'us', format: '.3~r', title: 'µs/op' }, { field: 'check' }],
    },
  };
  return {
    id: chartId(suite, 'latency'),
    suite,
    title: `${suite}: per-op latency`,
    caption: 'Median microseconds per op, by kernel and implementation.',
    spec,
  };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vl } = await loadCharting('xpu bench --html (its charts)');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const fmtValue = (v: number): string => (v >= 100 ? String(Math.round(v)) : v.toPrecision(3));

/**
 * The device's roofline: each measured row (flops and bytes both known) at its arithmetic intensity
 * (flops / bytes) and achieved GFLOP/s, under min(peak, intensity x bandwidth) for the read and the
 * copy bandwidth (and the f16 peak where there is one). Rows above the lines that bound them are
 * measurement errors, ringed in red. null when the device has no ceilings or no such rows.
 */
export function rooflineChart(device: DeviceName, rows: Row[], roofline: Roofline): Chart | null {
  const r = roofline[device];
  if (!r || !(r.peakGflops > 0) || !(r.bandwidthGBps > 0)) return null;
  const points = rows
    .filter((x) => x.device === device && x.wall && x.flops > 0 && x.bytes > 0 && (x.gflops ?? 0) > 0)
    .map((x) => ({
      series: seriesName(x),
      suite: x.suite,
      row: `${x.kernel}${x.variant ? ` [${x.variant}]` : ''} ${x.dtype} ${x.sizeLabel}`,
      intensity: x.flops / x.bytes,
      gflops: x.gflops as number,
      roofline: x.roofline ? `${Math.round(x.roofline.fraction * 1000) / 10}%` : '-',
      flagged: x.roofline?.flag ? 'ABOVE ROOFLINE (error)' : '',
    }));
  if (!points.length) return null;
  const read = Math.max(r.readGBps ?? 0, r.bandwidthGBps);
  // One line per distinct ceiling pair: read and copy often measure alike on a CPU, and an f16 peak
  // below the f32 one bounds no row (f16 rows are held to the higher).
  const sameBw = r.bandwidthGBps >= 0.99 * read;
  const roofs = [
    {
      name: sameBw ? `read = copy ${fmtValue(read)} GB/s` : `read ${fmtValue(read)} GB/s`,
      bw: read,
      peak: r.peakGflops,
      peakName: `f32 peak ${fmtValue(r.peakGflops)} GFLOP/s`,
    },
    ...(sameBw
      ? []
      : [{ name: `copy ${fmtValue(r.bandwidthGBps)} GB/s (read + written)`, bw: r.bandwidthGBps, peak: r.peakGflops, peakName: '' }]),
    ...((r.peakGflopsF16 ?? 0) > r.peakGflops
      ? [
          {
            name: `read, f16`,
            bw: read,
            peak: r.peakGflopsF16 as number,
            peakName: `f16 peak ${fmtValue(r.peakGflopsF16 as number)} GFLOP/s`,
          },
        ]
      : []),
  ];
  // The lines over the points' intensities and the ridges, with room on both sides.
  const ai = points.map((p) => p.intensity);
  const lo = Math.min(...ai, ...roofs.map((f) => f.peak / f.bw)) / 4;
  const hi = Math.max(...ai, ...roofs.map((f) => f.peak / f.bw)) * 4;
  const grid = Array.from({ length: 49 }, (_, i) => lo * (hi / lo) ** (i / 48));
  const lines = roofs.flatMap((f) =>
    [...grid, f.peak / f.bw].sort((a, b) => a - b).map((x) => ({ ceiling: f.name, intensity: x, gflops: Math.min(f.peak, x * f.bw) })),
  );
  // Each bandwidth named on its slope near the left edge, each peak above its flat part at the right.
  const slopeLabels = roofs
    .filter((f) => f.name !== 'read, f16')
    .map((f) => ({ text: f.name, intensity: lo * 1.3, gflops: lo * 1.3 * f.bw }));
  const peakLabels = roofs.filter((f) => f.peakName).map((f) => ({ text: f.peakName, intensity: hi, gflops: f.peak }));
  const x = { field: 'intensity', type: 'quantitative', title: 'arithmetic intensity (flop / byte)', scale: { type: 'log' } } as const;
  const y = { field: 'gflops', type: 'quantitative', title: 'GFLOP/s', scale: { type: 'log' } } as const;
  const flagged = points.filter((p) => p.flagged).length;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: WIDTH,
    height: HEIGHT,
    title: { text: `roofline: ${device}`, subtitle: 'every row of this run; lines: min(peak, intensity x bandwidth) from the probes' },
    layer: [
      {
        data: { values: lines },
        mark: { type: 'line', strokeWidth: 1.5, color: '#666' },
        encoding: {
          x,
          y,
          strokeDash: { field: 'ceiling', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 400 } },
        },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 55, opacity: 0.85 },
        encoding: {
          x,
          y,
          // Series by implementation only (no dtype suffix, unlike the per-kernel charts): colours of their own, xpu and cpu first.
          color: colorEncoding(
            points.map((p) => p.series),
            seriesColors(points.map((p) => p.series)),
          ),
          shape: { field: 'suite', type: 'nominal', legend: { orient: 'bottom', title: null } },
          tooltip: [
            { field: 'series' },
            { field: 'suite' },
            { field: 'row' },
            { field: 'intensity', format: '.3~r', title: 'flop/byte' },
            { field: 'gflops', format: '.3~r', title: 'GFLOP/s' },
            { field: 'roofline', title: '% of roofline' },
            { field: 'flagged' },
          ],
        },
      },
      {
        data: { values: points.filter((p) => p.flagged) },
        mark: { type: 'point', shape: 'circle', size: 220, stroke: '#d62728', strokeWidth: 2.5, filled: false },
        encoding: { x, y },
      },
      {
        data: { values: peakLabels },
        mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -3, fontSize: 10, color: '#444' },
        encoding: { x, y, text: { field: 'text' } },
      },
      {
        data: { values: slopeLabels },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 6, dy: 2, fontSize: 10, color: '#444' },
        encoding: { x, y, text: { field: 'text' } },
      },
    ],
    resolve: { scale: { color: 'independent', shape: 'independent' } },
  };
  return {
    id: chartId('roofline', device),
    suite: 'roofline',
    title: `roofline: ${device}`,
    caption: `${device}: ${points.length} rows at their arithmetic intensity and achieved GFLOP/s (log-log) under the measured ceilings${flagged ? `; ${flagged} row(s) ringed in red are above their roofline: measurement errors` : ''}.`,
    spec,
  };
}
