import { describe, it } from 'vitest';
import { expectClose, expectEqual, randomData, testDevices, xpu } from './helpers.js';

// Several rows per workgroup (kernels/rows.wgsl: a row per subgroup or per team of lanes;
// kernels/reduce.wgsl: a team per output), the online softmax and the Welford/Chan norms, and the
// vec4 rows, against float64: row lengths around the team and vec4 sizes, row counts that leave a
// workgroup part-full, rows with NaN and infinities, rows starting at offsets that are not a
// multiple of 4 (the per-element path) beside aligned ones (vec4). Every team layout the launcher
// can choose is forced in turn through XPU_ROWS_TEAM (settings are read at each launch).
const LENGTHS = [1, 3, 63, 64, 65, 4097];
const ROWS = 37;

const softmax64 = (r: number[]): number[] => {
  const m = Math.max(...r);
  const e = r.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const logSoftmax64 = (r: number[]): number[] => {
  const m = Math.max(...r);
  const ls = Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0));
  return r.map((v) => v - m - ls);
};
const norm64 =
  (center: boolean, eps: number, w: ArrayLike<number>, b?: ArrayLike<number>) =>
  (r: number[]): number[] => {
    const n = r.length;
    const mean = center ? r.reduce((a, v) => a + v, 0) / n : 0;
    const inv = 1 / Math.sqrt(r.reduce((a, v) => a + (v - mean) ** 2, 0) / n + eps);
    return r.map((v, j) => (v - mean) * inv * w[j] + (b ? b[j] : 0));
  };
/** A row with a NaN is all NaN (PyTorch); the reference computes that through the arithmetic anyway. */
const rowwise = (data: ArrayLike<number>, n: number, f: (r: number[]) => number[]): number[] => {
  const out: number[] = [];
  for (let r = 0; r < data.length / n; r++) {
    const row = Array.from({ length: n }, (_, j) => data[r * n + j]);
    out.push(...(row.some(Number.isNaN) ? row.map(() => NaN) : f(row)));
  }
  return out;
};

/** rows x n float32 data with a NaN in row 1 and +-inf entries in row 2 (when there are such rows). */
function rowsData(rows: number, n: number, seed: number, scale = 3): Float32Array {
  const h = Float32Array.from(randomData(rows * n, seed, scale));
  if (rows > 1) h[n + (n >> 1)] = NaN;
  if (rows > 2 && n > 1) h[2 * n] = -Infinity;
  return h;
}

function withTeam<T>(team: string | undefined, f: () => Promise<T>): Promise<T> {
  const before = process.env.XPU_ROWS_TEAM;
  if (team === undefined) delete process.env.XPU_ROWS_TEAM;
  else process.env.XPU_ROWS_TEAM = team;
  return f().finally(() => {
    if (before === undefined) delete process.env.XPU_ROWS_TEAM;
    else process.env.XPU_ROWS_TEAM = before;
  });
}

describe.each(testDevices())('row ops with several rows per workgroup on %s', (device) => {
  const teams = device === 'xpu' ? [undefined, 'shared', 'workgroup'] : [undefined];
  it.each(teams.map((t) => [t ?? 'auto']))(
    'softmax, logSoftmax, layerNorm, rmsNorm; rows of 1, 3, 63, 64, 65, 4097 (team %s)',
    async (team) => {
      await withTeam(team === 'auto' ? undefined : team, async () => {
        for (const n of LENGTHS) {
          const rows = n > 1000 ? 3 : ROWS;
          const h = rowsData(rows, n, n * 13 + 1);
          const w = Float32Array.from(randomData(n, n + 5));
          const b = Float32Array.from(randomData(n, n + 6));
          const x = xpu.tensor(h, { device, shape: [rows, n] });
          const wt = xpu.tensor(w, { device });
          const bt = xpu.tensor(b, { device });
          // The -inf entry makes row 2's norms NaN-free only for softmax; the norms see it as a value.
          expectClose(await xpu.softmax(x, -1).data(), rowwise(h, n, softmax64), 1e-5, `softmax n=${n}`);
          expectClose(await xpu.logSoftmax(x, -1).data(), rowwise(h, n, logSoftmax64), 1e-5, `logSoftmax n=${n}`);
          const finite = Float32Array.from(h, (v) => (Number.isFinite(v) || Number.isNaN(v) ? v : 0.5));
          const xf = xpu.tensor(finite, { device, shape: [rows, n] });
          expectClose(
            await xpu.layerNorm(xf, [n], { weight: wt, bias: bt, eps: 1e-5 }).data(),
            rowwise(finite, n, norm64(true, 1e-5, w, b)),
            1e-4,
            `layerNorm n=${n}`,
          );
          expectClose(
            await xpu.rmsNorm(xf, [n], { weight: wt, eps: 1e-6 }).data(),
            rowwise(finite, n, norm64(false, 1e-6, w)),
            1e-4,
            `rmsNorm n=${n}`,
          );
          // Rows starting one element in (not 16-byte aligned): the per-element path.
          if (n > 1) {
            const v = x.narrow(1, 1, n - 1);
            const hv = Array.from({ length: rows * (n - 1) }, (_, i) => h[Math.floor(i / (n - 1)) * n + 1 + (i % (n - 1))]);
            expectClose(await xpu.softmax(v, -1).data(), rowwise(hv, n - 1, softmax64), 1e-5, `softmax offset view n=${n}`);
          }
        }
      });
    },
  );

  it('a layerNorm row far from zero (mean 1e4, spread 1) keeps its variance (Welford, not sum of squares)', async () => {
    const n = 1024;
    const h = Float32Array.from(randomData(4 * n, 77), (v) => 1e4 + v);
    const w = Float32Array.from({ length: n }, () => 1);
    const out = await xpu.layerNorm(xpu.tensor(h, { device, shape: [4, n] }), [n], { eps: 1e-5 }).data();
    expectClose(out, rowwise(h, n, norm64(true, 1e-5, w)), 1e-3, 'layerNorm offset mean');
  });

  it('sum, mean, max, argmax, var over many short rows (several outputs per workgroup), NaN rows included', async () => {
    for (const n of [1, 3, 63, 64, 65, 4097]) {
      const rows = n > 1000 ? 3 : ROWS;
      const h = rowsData(rows, n, n * 7 + 2, 1);
      const x = xpu.tensor(h, { device, shape: [rows, n] });
      const rowsOf = Array.from({ length: rows }, (_, r) => Array.from(h.subarray(r * n, (r + 1) * n)));
      const sum = rowsOf.map((r) => r.reduce((a, v) => a + v, 0));
      expectClose(await x.sum(-1).data(), sum, 1e-5, `sum n=${n}`);
      expectClose(
        await x.mean(-1).data(),
        sum.map((s) => s / n),
        1e-5,
        `mean n=${n}`,
      );
      const argmax = rowsOf.map((r) => {
        let best = 0;
        for (let j = 1; j < r.length; j++) if (Number.isNaN(r[j]) ? !Number.isNaN(r[best]) : r[j] > r[best]) best = j;
        return best;
      });
      expectEqual(await x.argmax(-1).data(), argmax, `argmax n=${n}`);
      expectEqual(
        await xpu.max(x, -1).data(),
        argmax.map((j, r) => rowsOf[r][j]),
        `max n=${n}`,
      );
      if (n > 1) {
        const v = rowsOf.map((r, k) => r.reduce((a, x2) => a + (x2 - sum[k] / n) ** 2, 0) / (n - 1));
        expectClose(await x.var(-1).data(), v, 1e-4, `var n=${n}`);
      }
    }
  });
});
