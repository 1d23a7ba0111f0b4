import { XpuShapeError } from '../../errors.js';
import { coalesce } from '../../tensor/shape.js';
import type { Operand } from '../operand.js';
import { MAX_RANK } from './codegen.js';
import { uniformStruct } from './uniforms.js';

/**
 * What the scan and sort kernels (kernels/scan.wgsl, kernels/sort.wgsl) share: one workgroup per
 * row of a strided view whose last dim is the row, the leading dims merged among themselves
 * (fewer dims to decompose, ranks above MAX_RANK fit) and each element stored where the output
 * strides put it.
 */
export const ROW_PARAMS = uniformStruct('Params', {
  rows: 'u32',
  n: 'u32',
  rank: 'u32',
  ioff: 'i32',
  p2: 'u32',
  desc: 'u32',
  pad0: 'u32',
  pad1: 'u32',
  shape: { array: 'u32', length: MAX_RANK },
  ist: { array: 'i32', length: MAX_RANK },
  ost: { array: 'i32', length: MAX_RANK },
});

export interface RowLayout {
  rows: number;
  n: number;
  shape: number[];
  ist: number[];
  ost: number[];
}

export function rowLayout(op: string, input: Operand, shape: readonly number[], outStrides: readonly number[]): RowLayout {
  const lead = shape.length - 1;
  const c = coalesce(shape.slice(0, lead), [input.strides.slice(0, lead), outStrides.slice(0, lead)]);
  const full = [...c.shape, shape[lead]];
  if (full.length > MAX_RANK) {
    throw new XpuShapeError('too many dims for a GPU kernel after merging contiguous dims', {
      op,
      arg: 'input',
      expected: `at most ${MAX_RANK} non-mergeable dims`,
      got: String(full.length),
    });
  }
  return {
    rows: c.shape.reduce((a, b) => a * b, 1),
    n: shape[lead],
    shape: full,
    ist: [...c.strides[0], input.strides[lead]],
    ost: [...c.strides[1], outStrides[lead]],
  };
}
