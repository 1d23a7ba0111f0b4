import type { SortSpec } from '../row_specs.js';
import type { Storage } from '../operand.js';
import { dtypeInfo, type ComputeKind } from '../../tensor/dtype.js';
import { numel } from '../../tensor/shape.js';
import { bindings, checkKernelElements, loaderFn } from './codegen.js';
import type { GpuHost } from './host.js';
import { kernelSource } from './pipelines.js';
import { bind } from './program.js';
import { ROW_PARAMS, rowLayout } from './row_layout.js';

const WG = 64;

/**
 * u32 keys in torch's order: floats by their bits (negatives reversed below the positives), NaN
 * (any sign, any payload) above +inf, -0 as 0; i32 with the sign bit flipped; u32 as they are.
 */
const SORT_KEY: Record<ComputeKind, string> = {
  f32: 'fn sort_key(v: f32) -> u32 {\n  var b = bitcast<u32>(v);\n  if ((b & 0x7fffffffu) > 0x7f800000u) {\n    return 0xffffffffu;\n  }\n  if (b == 0x80000000u) {\n    b = 0u;\n  }\n  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);\n}',
  i32: 'fn sort_key(v: i32) -> u32 {\n  return bitcast<u32>(v) ^ 0x80000000u;\n}',
  u32: 'fn sort_key(v: u32) -> u32 {\n  return v;\n}',
};

/** sort / argsort / topk on xpu: kernels/sort.wgsl, one workgroup per row, int32 positions out. */
export function webgpuSort(host: GpuHost, spec: SortSpec): Storage {
  const { input } = spec;
  const total = numel(spec.shape);
  checkKernelElements('sort', total);
  const out = host.alloc('int32', total, 'sort');
  if (total === 0) return out;
  const l = rowLayout('sort', input, spec.shape, spec.outStrides);
  const p2 = 2 ** Math.ceil(Math.log2(Math.max(1, l.n)));
  const kind = dtypeInfo(input.dtype).compute;
  const scratch = host.alloc('uint32', l.rows * p2 * 2, 'sort');
  try {
    host.run({
      name: 'sort',
      key: `sort|${input.dtype}`,
      layout: ['write', 'read', 'write'],
      constants: { WG },
      source: () =>
        [
          ROW_PARAMS.wgsl,
          bindings(1),
          '@group(0) @binding(3) var<storage, read_write> scratch: array<u32>;',
          loaderFn(0, input.dtype, kind),
          SORT_KEY[kind],
          kernelSource('sort.wgsl'),
        ].join('\n'),
      uniforms: ROW_PARAMS.write({
        rows: l.rows,
        n: l.n,
        rank: l.shape.length,
        ioff: input.offset,
        p2,
        desc: spec.descending ? 1 : 0,
        shape: l.shape,
        ist: l.ist,
        ost: l.ost,
      }),
      bindings: [bind(out), bind(input.storage), bind(scratch)],
      groups: l.rows,
    });
  } finally {
    // Freed blocks go to later commands only, which run after this launch (allocator.ts).
    host.release(scratch);
  }
  return out;
}
