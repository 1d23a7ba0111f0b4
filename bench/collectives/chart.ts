import { writeFileSync } from 'node:fs';
import type { TopLevelSpec } from 'vega-lite';
import { loadCharting } from '../lib/optional.js';
import type { Row } from './plan.js';
import { statsOf } from './stats.js';

/** busbw against size, one line per collective / device / placement / implementation, as SVG. */
export async function writeChart(file: string, rows: Row[], n: number, title: string): Promise<void> {
  const values = rows.map((r) => ({
    bytes: r.bytes,
    busbw: statsOf(r, n).busbw,
    series: `${r.impl === 'c++ baseline' ? 'C++ baseline ' : ''}${r.coll} ${r.device}${r.inPlace ? ' in-place' : ''}`,
  }));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 640,
    height: 360,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'bytes', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'size (bytes)' },
      y: { field: 'busbw', type: 'quantitative', title: 'busbw (GB/s)' },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
  const { vega, vl } = await loadCharting('the collectives chart (SVG)');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  writeFileSync(file, await view.toSVG());
  view.finalize();
}
