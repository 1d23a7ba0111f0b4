import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectClose, testDevices, xpu } from './helpers.js';
import type { Tensor } from '../src/index.js';
import { setOptimChunkForTests } from '../src/optim/optimizer.js';

/**
 * Optimizer steps against torch 1.13 (tests/fixtures/optim/make.py): the same parameters,
 * gradients and hyper-parameters give the same parameters after several steps, within float32
 * rounding, on both devices. The "large" cases have > 4096 elements per group, so the cpu runs the
 * native kernel there and the TypeScript twin on the others.
 */
interface Case {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, unknown>;
  shapes: number[][];
  steps: number;
  groups: { params: number[]; options: Record<string, unknown> }[] | null;
  skip: [number, number][] | null;
  final: number[][];
}
const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/optim/optim.json', import.meta.url), 'utf8')) as {
  cases: Case[];
  cosine: number[];
  clip: { normType: number | 'inf'; total: number; grads: number[][] }[];
};

const camel = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()), v]));

/** The fixture's formula: sin(0.37 i + 1.3 salt) * scale, rounded to float32. */
function values(shape: number[], salt: number, scale: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + 1.3 * salt) * scale);
}

function makeOptimizer(c: Case, params: Tensor[]) {
  const opts = camel(c.options);
  const groups = c.groups ? c.groups.map((g) => ({ params: g.params.map((i) => params[i]), ...camel(g.options) })) : params;
  return new xpu.optim[c.optimizer](groups as Tensor[], opts);
}

function setGrads(c: Case, params: Tensor[], step: number, device: string): void {
  params.forEach((p, k) => {
    p.grad?.dispose();
    p.grad = c.skip?.some(([s, i]) => s === step && i === k)
      ? null
      : xpu.tensor(values([...p.shape], 10 * (step + 1) + k, 0.5), { shape: [...p.shape], device });
  });
}

const read = async (t: Tensor): Promise<number[]> => Array.from((await t.data()) as Float32Array);

describe.each(testDevices())('optim on %s', (device) => {
  it.each(FIXTURE.cases.map((c) => [c.name, c] as const))('%s matches torch 1.13', async (_name, c) => {
    const params = c.shapes.map((s, k) => xpu.tensor(values(s, k + 1, 1), { shape: s, device }));
    const storages = params.map((p) => p.ref.storage);
    const opt = makeOptimizer(c, params);
    for (let step = 0; step < c.steps; step++) {
      setGrads(c, params, step, device);
      opt.step();
    }
    for (let k = 0; k < params.length; k++) {
      expect(params[k].ref.storage, 'updated in place').toBe(storages[k]);
      expectClose(await read(params[k]), c.final[k], 2e-6, `${c.name} param ${k}`);
    }
    opt.zeroGrad();
    expect(params.every((p) => p.grad === null)).toBe(true);
    opt.dispose();
    params.forEach((p) => p.dispose());
  });

  it('a group split into chunks (past the binding limit) steps as one: torch 1.13 values, state dicts resume', async () => {
    setOptimChunkForTests(16);
    try {
      for (const name of ['sgd_groups_skip', 'adamw_groups_skip', 'adam_wd_amsgrad']) {
        const c = FIXTURE.cases.find((x) => x.name === name) as Case;
        const params = c.shapes.map((s, k) => xpu.tensor(values(s, k + 1, 1), { shape: s, device }));
        let opt = makeOptimizer(c, params);
        for (let step = 0; step < c.steps; step++) {
          setGrads(c, params, step, device);
          opt.step();
          if (step === 1) {
            const sd = opt.stateDict();
            const next = makeOptimizer(c, params);
            next.loadStateDict(sd);
            opt.dispose();
            opt = next;
          }
        }
        for (let k = 0; k < params.length; k++) expectClose(await read(params[k]), c.final[k], 2e-6, `${name} param ${k}`);
        opt.dispose();
      }
    } finally {
      setOptimChunkForTests(null);
    }
  });

  it('a strided (transposed) gradient steps as its contiguous copy', async () => {
    const c = FIXTURE.cases.find((x) => x.name === 'sgd_momentum') as Case;
    const params = c.shapes.map((s, k) => xpu.tensor(values(s, k + 1, 1), { shape: s, device }));
    const opt = makeOptimizer(c, params);
    for (let step = 0; step < c.steps; step++) {
      setGrads(c, params, step, device);
      // The [5, 7] gradient as the transpose of a [7, 5] tensor holding the same values.
      const g = params[0].grad as Tensor;
      const t = xpu.contiguous(xpu.transpose(g, 0, 1));
      params[0].grad = xpu.transpose(t, 0, 1);
      g.dispose();
      expect(params[0].grad.isContiguous()).toBe(false);
      opt.step();
    }
    for (let k = 0; k < params.length; k++) expectClose(await read(params[k]), c.final[k], 2e-6, `param ${k}`);
    opt.dispose();
  });

  it('stateDict / loadStateDict resume the same trajectory', async () => {
    const c = FIXTURE.cases.find((x) => x.name === 'adamw_groups_skip') as Case;
    const params = c.shapes.map((s, k) => xpu.tensor(values(s, k + 1, 1), { shape: s, device }));
    const first = makeOptimizer(c, params);
    for (let step = 0; step < 2; step++) {
      setGrads(c, params, step, device);
      first.step();
    }
    const sd = first.stateDict();
    expect(Object.keys(sd.state).length).toBe(3);
    expect(sd.paramGroups.map((g) => g.params)).toEqual([[0, 1], [2]]);
    const second = makeOptimizer(c, params);
    second.loadStateDict(sd);
    first.dispose();
    for (let step = 2; step < c.steps; step++) {
      setGrads(c, params, step, device);
      second.step();
    }
    for (let k = 0; k < params.length; k++) expectClose(await read(params[k]), c.final[k], 2e-6, `param ${k}`);
    // zeroGrad(false) zeroes in place.
    const g = params[0].grad as Tensor;
    second.zeroGrad(false);
    expect(params[0].grad).toBe(g);
    expect(Math.max(...(await read(g)).map(Math.abs))).toBe(0);
    second.dispose();
  });

  it.runIf(device === 'xpu')('one kernel launch per parameter group', async () => {
    const params = [[3, 5], [5], [7, 2], [4], [9]].map((s, k) => xpu.tensor(values(s, k + 1, 1), { shape: s, device }));
    const opt = new xpu.optim.AdamW([{ params: params.slice(0, 3) }, { params: params.slice(3), lr: 0.1 }]);
    params.forEach((p, k) => (p.grad = xpu.tensor(values([...p.shape], 20 + k, 0.5), { shape: [...p.shape], device })));
    opt.step(); // compiles the pipeline
    xpu.profiler.start();
    opt.step();
    await params[0].data();
    const prof = await xpu.profiler.stop();
    expect(prof.events.filter((e) => e.name.startsWith('optim.')).map((e) => e.name)).toEqual(['optim.adamw', 'optim.adamw']);
    opt.dispose();
  });

  it('clipGradNorm matches torch.nn.utils.clip_grad_norm_', async () => {
    for (const ref of FIXTURE.clip) {
      const shapes = FIXTURE.cases[0].shapes;
      const params = shapes.map((s, k) => xpu.tensor(values(s, k + 1, 1), { shape: s, device }));
      params.forEach((p, k) => (p.grad = xpu.tensor(values(shapes[k], 10 + k, 0.5), { shape: shapes[k], device })));
      const normType = ref.normType === 'inf' ? Infinity : ref.normType;
      const total = xpu.optim.clipGradNorm(params, 1.5, normType);
      expect(total.shape).toEqual([]);
      expectClose(await read(total), [ref.total], 2e-6, `total norm ${ref.normType}`);
      for (let k = 0; k < params.length; k++) expectClose(await read(params[k].grad as Tensor), ref.grads[k], 2e-6, `grad ${k}`);
      params.forEach((p) => p.dispose());
    }
  });
});

describe('lrScheduler', () => {
  const { LambdaLR, CosineAnnealingLR, linearWarmup, warmupCosine } = xpu.optim.lrScheduler;
  const fakeOpt = (lr: number) => ({ paramGroups: [{ lr }, { lr: lr * 2 }] });

  it('CosineAnnealingLR follows torch', () => {
    const opt = fakeOpt(0.1);
    const s = new CosineAnnealingLR(opt, 10, 0.001);
    const lrs = [opt.paramGroups[0].lr];
    for (let i = 0; i < 15; i++) {
      s.step();
      lrs.push(s.getLastLr()[0]);
    }
    expectClose(lrs, FIXTURE.cosine, 1e-12, 'cosine');
  });

  it('linear warm-up, warm-up + cosine and LambdaLR', () => {
    const opt = fakeOpt(1);
    const w = linearWarmup(opt, 4);
    const got = [opt.paramGroups[1].lr];
    for (let i = 0; i < 6; i++) {
      w.step();
      got.push(opt.paramGroups[1].lr);
    }
    expect(got).toEqual([0, 0.5, 1, 1.5, 2, 2, 2]);
    const opt2 = fakeOpt(1);
    const wc = warmupCosine(opt2, { warmupSteps: 2, totalSteps: 6, minLrRatio: 0.1 });
    const lrs = [opt2.paramGroups[0].lr];
    for (let i = 0; i < 7; i++) {
      wc.step();
      lrs.push(opt2.paramGroups[0].lr);
    }
    const cos = (p: number) => 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * p));
    expectClose(lrs, [0, 0.5, 1, cos(0.25), cos(0.5), cos(0.75), 0.1, 0.1], 1e-12, 'warmupCosine');
    const l = new LambdaLR(fakeOpt(2), (e) => 0.5 ** e);
    l.step();
    expect(l.getLastLr()).toEqual([1, 2]);
    expect(() => new CosineAnnealingLR(fakeOpt(1), 0)).toThrow(xpu.XpuValueError);
  });
});

describe('optim errors', () => {
  it('rejects bad parameters and options with typed errors', () => {
    const p = xpu.zeros([3]);
    expect(() => new xpu.optim.SGD([])).toThrow(xpu.XpuValueError);
    expect(() => new xpu.optim.SGD([p], { lr: -1 })).toThrow(xpu.XpuValueError);
    expect(() => new xpu.optim.SGD([p], { nesterov: true })).toThrow(xpu.XpuValueError);
    expect(() => new xpu.optim.Adam([p], { betas: [1, 0.9] })).toThrow(xpu.XpuValueError);
    expect(() => new xpu.optim.AdamW([xpu.zeros([3], { dtype: 'int32' })])).toThrow(xpu.XpuDTypeError);
    expect(() => new xpu.optim.AdamW([xpu.zeros([3, 2]).transpose(0, 1)])).toThrow(xpu.XpuValueError);
    expect(() => new xpu.optim.AdamW([p, p])).toThrow(xpu.XpuValueError);
    expect(() => new xpu.optim.AdamW([p, xpu.view(p, [3])])).toThrow(/share one storage/);
    const opt = new xpu.optim.AdamW([p]);
    p.grad = xpu.zeros([4]);
    expect(() => opt.step()).toThrow(xpu.XpuShapeError);
    expect(() => xpu.optim.clipGradNorm([p], -1)).toThrow(xpu.XpuValueError);
  });
});
