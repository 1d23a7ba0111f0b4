import type { OptimStepSpec } from '../optim_spec.js';
import { optimScalars, optimStepElement } from '../optim_spec.js';
import { ewPath, missingNative, wantsNative } from './native_ew_path.js';
import { nativeCompute } from './native_jobs.js';
import type { NativeCompute } from './native.js';
import type { CpuStorage } from './storage.js';

/**
 * The fused optimizer step on cpu: one native call per parameter group (native/compute/optim.cc,
 * AVX-512 where built for it) that walks every parameter of the group, or the TypeScript twin
 * (optimStepElement, element by element) where the addon is absent, the group is small, or
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

/** The TypeScript twin: optimStepElement over every element of every segment. */
export function optimStepTwin(spec: OptimStepSpec): void {
  const c = optimScalars(spec.hyper);
  const state = spec.state.map((s) => (s as CpuStorage).data as Float32Array);
  const s: number[] = [0, 0, 0];
  for (const seg of spec.segments) {
    const p = (seg.param as CpuStorage).data as Float32Array;
    const g = (seg.grad as CpuStorage).data as Float32Array;
    for (let i = 0; i < seg.numel; i++) {
      const e = seg.start + i;
      for (let k = 0; k < state.length; k++) s[k] = state[k][e];
      p[seg.paramOffset + i] = optimStepElement(spec.rule, spec.hyper, c, p[seg.paramOffset + i], g[seg.gradOffset + i], s, seg);
      for (let k = 0; k < state.length; k++) state[k][e] = s[k];
    }
  }
}
