import type { ScanSpec } from '../row_specs.js';
import type { Storage } from '../operand.js';
import { numel } from '../../tensor/shape.js';
import { bindings, checkKernelElements, loaderFn } from './codegen.js';
import type { GpuHost } from './host.js';
import { kernelSource } from './pipelines.js';
import { bind, bufferLayout } from './program.js';
import { ROW_PARAMS, rowLayout } from './row_layout.js';

const WG = 64;

/** cumsum / cumprod on xpu: kernels/scan.wgsl, one workgroup per row. */
export function webgpuScan(host: GpuHost, spec: ScanSpec): Storage {
  const { input, accKind } = spec;
  const total = numel(spec.shape);
  checkKernelElements('scan', total);
  const out = host.alloc(spec.outDtype, total, 'scan');
  if (total === 0) return out;
  const l = rowLayout('scan', input, spec.shape, spec.outStrides);
  const op = spec.op === 'sum' ? 0 : 1;
  host.run({
    name: spec.op === 'sum' ? 'cumsum' : 'cumprod',
    key: `scan|${input.dtype}|${accKind}|${op}`,
    layout: bufferLayout(1),
    constants: { OP: op, WG },
    source: () =>
      [
        ROW_PARAMS.wgsl,
        bindings(1),
        `alias ACC = ${accKind};`,
        loaderFn(0, input.dtype, accKind),
        `fn to_word(v: ACC) -> u32 { ${accKind === 'u32' ? 'return v;' : 'return bitcast<u32>(v);'} }`,
        kernelSource('scan.wgsl'),
      ].join('\n'),
    uniforms: ROW_PARAMS.write({
      rows: l.rows,
      n: l.n,
      rank: l.shape.length,
      ioff: input.offset,
      p2: 0,
      desc: 0,
      shape: l.shape,
      ist: l.ist,
      ost: l.ost,
    }),
    bindings: [bind(out), bind(input.storage)],
    groups: l.rows,
  });
  return out;
}
