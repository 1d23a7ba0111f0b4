import { XpuDTypeError, XpuShapeError, XpuValueError } from '../errors.js';
import { dtypeInfo } from '../tensor/dtype.js';
import { fmtShape, shapeEq } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkSameDevice, copyAs } from './common.js';
import { isGradEnabled } from '../autograd/grad_mode.js';

/**
 * dst.copy_(src) for the views a preallocated cache needs: writes src's elements into dst's
 * storage in place, so every view of that storage sees them. dst must be laid out as runs of
 * contiguous elements (a narrow()ed slice of a contiguous tensor is); each run is one byte copy
 * on the device, ordered after the ops recorded before it. Same shape, dtype and device; no
 * broadcasting. Runs must start and end on 4-byte boundaries (GPU copies move whole words).
 */
export function copyInto(dst: Tensor, src: Tensor): Tensor {
  const op = 'copyInto';
  const device = checkSameDevice(op, [dst, src], ['dst', 'src']);
  // torch refuses in-place writes to a leaf that requires grad outside no_grad; writes into a
  // graph's intermediate tensors would need its version tracking, which we do not keep.
  if (dst.requiresGrad && isGradEnabled()) {
    throw new XpuValueError(
      dst.gradFn
        ? 'an in-place write into a tensor recorded in the autograd graph is not supported'
        : 'a leaf tensor that requires grad is being used in an in-place operation',
      {
        op,
        arg: 'dst',
        expected: 'a tensor without requiresGrad, or the write inside xpu.noGrad(() => ...)',
        got: dst.gradFn ? `the output of ${dst.gradFn.name}` : 'a leaf with requiresGrad',
      },
    );
  }
  if (dst.dtype !== src.dtype) throw new XpuDTypeError('dtypes differ', { op, arg: 'src', expected: dst.dtype, got: src.dtype });
  if (!shapeEq(dst.shape, src.shape))
    throw new XpuShapeError('shapes differ', { op, arg: 'src', expected: fmtShape(dst.shape), got: fmtShape(src.shape) });
  const n = dst.numel;
  if (n === 0) return dst;
  // The trailing dims dst walks contiguously form one run; the leading dims enumerate runs.
  let run = 1;
  let lead = dst.ndim;
  while (lead > 0 && (dst.shape[lead - 1] === 1 || dst.strides[lead - 1] === run)) run *= dst.shape[--lead];
  for (let d = 0; d < lead; d++) {
    if (dst.strides[d] === 0 && dst.shape[d] > 1)
      throw new XpuValueError('dst has broadcast (zero-stride) dims; writes would overlap', {
        op,
        arg: 'dst',
        expected: 'a view with distinct elements',
        got: `strides [${dst.strides.join(', ')}]`,
      });
  }
  const size = dtypeInfo(dst.dtype).itemsize;
  const runBytes = run * size;
  const from = src.isContiguous() ? src : copyAs(op, src);
  try {
    const starts = runStarts(dst.shape.slice(0, lead), dst.strides.slice(0, lead), dst.offset);
    const srcBase = from.offset * size;
    if (runBytes % 4 !== 0 || srcBase % 4 !== 0 || starts.some((s) => (s * size) % 4 !== 0)) {
      throw new XpuValueError('each contiguous run must start and end on a 4-byte boundary', {
        op,
        arg: 'dst',
        expected: 'runs of a multiple of 4 bytes at 4-byte offsets',
        got: `runs of ${runBytes} bytes at element offsets ${starts.slice(0, 4).join(', ')}`,
      });
    }
    starts.forEach((s, i) => device.backend.copyBytes(from.ref.storage, srcBase + i * runBytes, dst.ref.storage, s * size, runBytes));
  } finally {
    if (from !== src) from.dispose();
  }
  return dst;
}

/** Element offsets of each run, in row-major order of the leading dims. */
function runStarts(shape: readonly number[], strides: readonly number[], offset: number): number[] {
  let starts = [offset];
  for (let d = 0; d < shape.length; d++) {
    const next: number[] = [];
    for (const s of starts) for (let i = 0; i < shape[d]; i++) next.push(s + i * strides[d]);
    starts = next;
  }
  return starts;
}
