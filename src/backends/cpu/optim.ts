import type { OptimStepSpec } from '../optim_spec.js';
import { optimScalars } from '../optim_spec.js';
import { ewPath, missingNative, wantsNative } from './native_ew_path.js';
import { nativeCompute } from './native_jobs.js';
import type { NativeCompute } from './native.js';
import type { CpuStorage } from './storage.js';

/**
 * The fused optimizer step on cpu: one native call per parameter group (native/compute/optim.cc,
 * AVX-512 where built for it) that walks every parameter of the group, or the TypeScript twin
 * (optimStepTwin below) where the addon is absent, the group is small, or
 * XPU_CPU_ELEMENTWISE=ts. Both run on the JS thread after the storages' pending native jobs
 * (CpuStorage.data waits for them), in place.
 */
type OptimCompute = NativeCompute & { optimStepNow?(...a: unknown[]): void };

const RULES = { sgd: 0, adam: 1, adamw: 2 } as const;

function view(st: CpuStorage, offset: number, n: number): Float32Array {
  return (st.data as Float32Array).subarray(offset, offset + n);
}

export function cpuOptimStep(spec: OptimStepSpec): void {
  const { segments, hyper: h, rule } = spec;
  const n = segments.reduce((a, s) => a + s.numel, 0);
  if (n === 0) return;
  const state = spec.state as CpuStorage[];
  const path = ewPath();
  if (wantsNative(path, n)) {
    const c = nativeCompute() as OptimCompute | null;
    if (c?.optimStepNow) {
      const c32 = optimScalars(h);
      const flags = new Int32Array([RULES[rule], h.amsgrad ? 1 : 0, h.nesterov ? 1 : 0, h.maximize ? 1 : 0]);
      const scalars = new Float64Array([c32.lr, c32.wd, c32.mom, c32.damp1, c32.b1, c32.omb1, c32.b2, c32.omb2, c32.eps, c32.decay]);
      const segScalars = new Float64Array(segments.length * 3);
      const params: Float32Array[] = [];
      const grads: Float32Array[] = [];
      const st: Float32Array[][] = state.map(() => []);
      segments.forEach((s, i) => {
        segScalars.set([Math.fround(s.stepSize), Math.fround(s.bc2Sqrt), s.first ? 1 : 0], i * 3);
        params.push(view(s.param as CpuStorage, s.paramOffset, s.numel));
        grads.push(view(s.grad as CpuStorage, s.gradOffset, s.numel));
        state.forEach((buf, k) => st[k].push(view(buf, s.start, s.numel)));
      });
      c.optimStepNow(flags, scalars, segScalars, params, grads, st[0] ?? null, st[1] ?? null, st[2] ?? null);
      return;
    }
    missingNative(path, `optim.${rule}`, 'the native addon has no optimizer kernel');
  }
  optimStepTwin(spec);
}

/**
 * The TypeScript twin and the reference of the three backends: torch 1.13's arithmetic, each
 * Math.fround one float32 op of its sequence; the rule's branches are taken once per segment.
 */
export function optimStepTwin(spec: OptimStepSpec): void {
  const c = optimScalars(spec.hyper);
  const h = spec.hyper;
  const f = Math.fround;
  const [s0, s1, s2] = spec.state.map((st) => (st as CpuStorage).data as Float32Array);
  for (const seg of spec.segments) {
    const p = (seg.param as CpuStorage).data as Float32Array;
    const g = (seg.grad as CpuStorage).data as Float32Array;
    const po = seg.paramOffset - seg.start;
    const go = seg.gradOffset - seg.start;
    const end = seg.start + seg.numel;
    if (spec.rule === 'sgd') {
      for (let e = seg.start; e < end; e++) {
        let d = h.maximize ? -g[go + e] : g[go + e];
        const pv = p[po + e];
        if (c.wd !== 0) d = f(d + f(c.wd * pv));
        if (c.mom !== 0) {
          const buf = seg.first ? d : f(f(s0[e] * c.mom) + f(c.damp1 * d));
          s0[e] = buf;
          d = h.nesterov ? f(d + f(c.mom * buf)) : buf;
        }
        p[po + e] = f(pv + f(-c.lr * d));
      }
      continue;
    }
    const adamw = spec.rule === 'adamw';
    const stepSize = f(-seg.stepSize);
    const bc2 = f(seg.bc2Sqrt);
    for (let e = seg.start; e < end; e++) {
      let d = h.maximize ? -g[go + e] : g[go + e];
      let pv = p[po + e];
      if (adamw) pv = f(pv * c.decay);
      else if (c.wd !== 0) d = f(d + f(c.wd * pv));
      const m = f(f(s0[e] * c.b1) + f(c.omb1 * d));
      const v = f(f(s1[e] * c.b2) + f(c.omb2 * f(d * d)));
      s0[e] = m;
      s1[e] = v;
      let vh = v;
      if (h.amsgrad) {
        const old = s2[e];
        vh = old !== old || v !== v ? NaN : Math.max(old, v);
        s2[e] = vh;
      }
      const denom = f(f(f(Math.sqrt(vh)) / bc2) + c.eps);
      p[po + e] = f(pv + f(stepSize * f(m / denom)));
    }
  }
}
