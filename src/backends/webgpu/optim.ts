import type { OptimStepSpec } from '../optim_spec.js';
import { optimScalars } from '../optim_spec.js';
import type { Storage } from '../operand.js';
import { checkKernelElements } from './codegen.js';
import type { GpuHost } from './host.js';
import { kernelSource } from './pipelines.js';
import { bind, bufferLayout } from './program.js';
import { f32Bits, uniformStruct } from './uniforms.js';

const WG = 256;
const RULES = { sgd: 0, adam: 1, adamw: 2 } as const;

const OPTIM_PARAMS = uniformStruct('Params', {
  n: 'u32',
  nseg: 'u32',
  pad0: 'u32',
  pad1: 'u32',
  lr: 'f32',
  wd: 'f32',
  mom: 'f32',
  damp1: 'f32',
  b1: 'f32',
  omb1: 'f32',
  b2: 'f32',
  omb2: 'f32',
  eps: 'f32',
  decay: 'f32',
  pad2: 'u32',
  pad3: 'u32',
});

const BINDINGS = [
  '@group(0) @binding(0) var<uniform> P: Params;',
  '@group(0) @binding(1) var<storage, read_write> pf: array<u32>;',
  '@group(0) @binding(2) var<storage, read> gf: array<u32>;',
  '@group(0) @binding(3) var<storage, read> seg: array<u32>;',
  '@group(0) @binding(4) var<storage, read_write> s0: array<u32>;',
  '@group(0) @binding(5) var<storage, read_write> s1: array<u32>;',
  '@group(0) @binding(6) var<storage, read_write> s2: array<u32>;',
].join('\n');

/**
 * The fused optimizer step of one parameter group on xpu: ONE kernel launch (kernels/optim.wgsl)
 * for the whole group, whatever its number of parameters. WebGPU binds whole buffers, a handful
 * per stage, and every parameter has its own; so the launch works on flat buffers laid out as the
 * group's flat optimizer state: each parameter and gradient is first copied into them (buffer
 * copies in the same command stream, not kernel launches), and the updated parameters are copied
 * back into their own storages afterwards (in place: every tensor keeps its storage). The copies
 * cost 3 extra reads-and-writes of the parameter bytes next to the kernel's 7 (p, g, m, v).
 */
export function webgpuOptimStep(host: GpuHost, spec: OptimStepSpec): void {
  const { segments, total, rule, hyper: h } = spec;
  if (segments.length === 0) return;
  checkKernelElements(`optim.${rule}`, total);
  const pf = host.alloc('float32', total, 'optim');
  const gf = host.alloc('float32', total, 'optim');
  // The table: (start, end, stepSize bits | first-step flag, bc2Sqrt bits) per segment, by start;
  // then per workgroup the first segment ending past its first element (kernels/optim.wgsl).
  const sorted = [...segments].sort((a, b) => a.start - b.start);
  const groups = Math.ceil(total / WG);
  const table = new Uint32Array(sorted.length * 4 + groups);
  sorted.forEach((s, i) =>
    table.set([s.start, s.start + s.numel, rule === 'sgd' ? (s.first ? 1 : 0) : f32Bits(s.stepSize), f32Bits(s.bc2Sqrt)], i * 4),
  );
  for (let w = 0, k = 0; w < groups; w++) {
    while (k < sorted.length && sorted[k].start + sorted[k].numel <= w * WG) k++;
    table[sorted.length * 4 + w] = k;
  }
  const seg = host.upload('uint32', table, 'optim');
  const dummy: Storage[] = [];
  const state = [0, 1, 2].map((k) => spec.state[k] ?? (dummy[dummy.length] = host.alloc('float32', 1, 'optim')));
  try {
    for (const s of sorted) {
      host.copyBytes(s.param, s.paramOffset * 4, pf, s.start * 4, s.numel * 4);
      host.copyBytes(s.grad, s.gradOffset * 4, gf, s.start * 4, s.numel * 4);
    }
    const c = optimScalars(h);
    const flags = { RULE: RULES[rule], AMSGRAD: h.amsgrad ? 1 : 0, NESTEROV: h.nesterov ? 1 : 0, MAXIMIZE: h.maximize ? 1 : 0 };
    host.run({
      name: `optim.${rule}`,
      key: `optim|${flags.RULE}|${flags.AMSGRAD}|${flags.NESTEROV}|${flags.MAXIMIZE}`,
      layout: [...bufferLayout(2), 'write', 'write', 'write'],
      constants: { ...flags, WG },
      source: () => [OPTIM_PARAMS.wgsl, BINDINGS, kernelSource('common/math.wgsl'), kernelSource('optim.wgsl')].join('\n'),
      uniforms: OPTIM_PARAMS.write({ n: total, nseg: sorted.length, ...c }),
      bindings: [bind(pf), bind(gf), bind(seg), ...state.map(bind)],
      groups,
    });
    for (const s of sorted) host.copyBytes(pf, s.start * 4, s.param, s.paramOffset * 4, s.numel * 4);
  } finally {
    for (const st of [pf, gf, seg, ...dummy]) host.release(st);
  }
}
