/**
 * The HTML report: one self-contained file (inline CSS, inline SVG charts, no script, no external
 * resource), readable offline and attachable to an issue as it is.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DeviceName } from '../../suite.js';
import { ceilingRows, checkCell, fmtTime, relativeCell, rooflineCell } from '../console_report.js';
import { ABOVE_ROOFLINE } from '../roofline.js';
import { seriesName, type BenchResults, type Row } from '../records.js';
import { fmt, pct } from '../table.js';
import { chartSeries, latencyChart, renderSvg, rooflineChart, seriesColors, throughputCharts, type Chart } from './charts.js';

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
.meta { color: #555; } .meta code { background: #f4f4f4; padding: 0 0.25em; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure.chart { margin: 0; } figure.chart figcaption { color: #555; font-size: 12px; max-width: 520px; }
table { border-collapse: collapse; font-size: 12px; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
tr.wrong td, tr.above td { background: #fde2e2; } tr.skipped td, tr.failed td { color: #888; }
details pre { font-size: 11px; background: #f8f8f8; padding: 1em; overflow: auto; }
`;

function table(head: string[], rows: string[][], rowClass: (i: number) => string = () => '', left = 2): string {
  const th = head.map((h, i) => `<th${i < left ? ' class="l"' : ''}>${esc(h)}</th>`).join('');
  const trs = rows.map(
    (r, k) => `<tr class="${rowClass(k)}">${r.map((c, i) => `<td${i < left ? ' class="l"' : ''}>${esc(c)}</td>`).join('')}</tr>`,
  );
  return `<table><thead><tr>${th}</tr></thead><tbody>${trs.join('\n')}</tbody></table>`;
}

function rowsTable(rows: Row[]): string {
  return table(
    ['kernel', 'impl', 'dtype', 'size', 'time/op', 'spread', 'GPU/op', 'GFLOP/s', 'GB/s', 'roofline', 'rel. time', 'check', 'note'],
    rows.map((r) => [
      r.variant ? `${r.kernel} [${r.variant}]` : r.kernel,
      seriesName(r),
      r.dtype,
      r.sizeLabel,
      fmtTime(r.wall?.medianMs),
      pct(r.wall?.spread),
      fmtTime(r.gpu?.medianMs),
      fmt(r.gflops),
      fmt(r.gbps),
      rooflineCell(r),
      relativeCell(r),
      checkCell(r),
      r.note ?? '',
    ]),
    (k) => `${rows[k].status}${rows[k].roofline?.flag ? ' above' : ''}`,
  );
}

async function figure(c: Chart): Promise<string> {
  const svg = await renderSvg(c.spec);
  return `<figure class="chart" id="${esc(c.id)}" data-suite="${esc(c.suite)}">${svg}<figcaption>${esc(c.caption)}</figcaption></figure>`;
}

export async function renderHtml(results: BenchResults): Promise<string> {
  const env = results.environment;
  const xpuName = 'unavailable' in env.xpu ? `none (${env.xpu.unavailable})` : env.xpu.description;
  const parts: string[] = [];
  parts.push(`<h1>xpu bench</h1>`);
  parts.push(`<p class="meta">${esc(env.date)} · commit <code>${esc(env.git.commit?.slice(0, 12) ?? 'unknown')}</code>${env.git.dirty ? ' (uncommitted changes)' : ''} · xpu ${esc(env.packages.xpu ?? '?')}, Dawn (npm webgpu) ${esc(env.packages.webgpu ?? '?')}, Node ${esc(env.node)}<br>
xpu device: ${esc(xpuName)}<br>host: ${esc(env.cpu.model)}, ${env.cpu.cores} cores, ${env.cpu.memGiB} GiB, load ${esc(env.loadAverage.join(' / '))}<br>
command: <code>${esc(env.command)}</code>${results.settings.quick ? ' (--quick)' : ''}</p>`);

  const colors = seriesColors(results.rows.filter((r) => !r.variant).map((r) => chartSeries(r, results.rows)));
  parts.push('<h2>Roofline</h2>');
  parts.push(
    `<p>Ceilings measured once per run by probes made for the purpose (never by a benchmarked kernel): the peak FMA rate, read bandwidth and copy bandwidth (read + written), each from its fastest pass over a working set twice the last-level cache. A row's roofline fraction is max(flops / peak, bytes / the bandwidth that fits its traffic) over its achieved time; a row above 100% is ${esc(ABOVE_ROOFLINE)}, and is marked.</p>`,
  );
  parts.push(table(['device', 'ceiling', 'value (* used)', 'method', 'working set', 'spread'], ceilingRows(results.roofline)));
  const roofCharts = (Object.keys(results.roofline) as DeviceName[])
    .map((d) => rooflineChart(d, results.rows, results.roofline))
    .filter((c): c is Chart => c !== null);
  if (roofCharts.length) parts.push(`<div class="charts">${(await Promise.all(roofCharts.map(figure))).join('\n')}</div>`);

  for (const s of results.suites) {
    parts.push(`<h2 id="suite-${esc(s.name)}">${esc(s.name)}</h2>`);
    if (s.status !== 'ran') {
      parts.push(`<p>${esc(s.status)}${s.error ? `: ${esc(s.error)}` : ''}</p>`);
      continue;
    }
    if (s.description) parts.push(`<p>${esc(s.description)}</p>`);
    const charts = throughputCharts(s.name, results.rows, results.roofline, colors);
    const latency = latencyChart(s.name, results.rows, colors);
    if (latency) charts.push(latency);
    if (charts.length) parts.push(`<div class="charts">${(await Promise.all(charts.map(figure))).join('\n')}</div>`);
    parts.push(rowsTable(results.rows.filter((r) => r.suite === s.name)));
    if (s.notes.length) parts.push(`<ul class="notes">${s.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
  }
  parts.push(
    "<p>rel. time: the row's median over its case's first row (ours, first setting); below 1 is faster; [lo-hi] is the interval of the round-by-round ratios (about 95 %, order statistics), and one that holds 1 is parity within the run's noise. Rows in red failed their correctness check.</p>",
  );
  parts.push(
    `<details><summary>Environment and settings (JSON)</summary><pre>${esc(JSON.stringify({ environment: env, settings: results.settings }, null, 2))}</pre></details>`,
  );

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>xpu bench ${esc(env.date)}</title><style>${STYLE}</style></head>
<body>
${parts.join('\n')}
</body></html>
`;
}

export async function writeHtml(file: string, results: BenchResults): Promise<string> {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await renderHtml(results));
  return path;
}
