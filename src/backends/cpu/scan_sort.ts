import type { ScanSpec, SortSpec } from '../row_specs.js';
import type { Storage } from '../operand.js';
import { dtypeInfo, type ComputeKind } from '../../tensor/dtype.js';
import { numel } from '../../tensor/shape.js';
import { hostReader, hostWriter } from './host_io.js';
import { StridedWalker } from './indexing.js';
import { CpuStorage } from './storage.js';

/**
 * The cpu twins of the scan and sort primitives (row_specs.ts): one row at a time, the rows
 * walked by an odometer over the leading dims. Float scans accumulate in float64 and round each
 * output once (torch's CPU cumsum accumulates float32 in double too); integer scans wrap in 32
 * bits like the kernels.
 */

type Combine = (a: number, b: number) => number;

function combiner(op: ScanSpec['op'], kind: ComputeKind): Combine {
  if (op === 'sum') return kind === 'f32' ? (a, b) => a + b : kind === 'i32' ? (a, b) => (a + b) | 0 : (a, b) => (a + b) >>> 0;
  return kind === 'f32' ? (a, b) => a * b : kind === 'i32' ? (a, b) => Math.imul(a, b) : (a, b) => Math.imul(a, b) >>> 0;
}

/** Visits each row: its first input and output storage offsets. */
function eachRow(
  shape: readonly number[],
  inStrides: readonly number[],
  inOffset: number,
  outStrides: readonly number[],
  fn: (ib: number, ob: number) => void,
): void {
  const lead = shape.length - 1;
  const rows = numel(shape.slice(0, lead));
  const walker = new StridedWalker(shape.slice(0, lead), [inStrides.slice(0, lead), outStrides.slice(0, lead)], [inOffset, 0]);
  for (let r = 0; r < rows; r++, walker.next()) fn(walker.e[0], walker.e[1]);
}

export function cpuScan(spec: ScanSpec): Storage {
  const { input, shape, outStrides } = spec;
  const out = CpuStorage.alloc(spec.outDtype, numel(shape), 'scan');
  const n = shape[shape.length - 1];
  if (numel(shape) === 0) return out;
  const read = hostReader((input.storage as CpuStorage).data, input.dtype, spec.accKind);
  const write = hostWriter(out.data, spec.outDtype);
  const combine = combiner(spec.op, spec.accKind);
  const ist = input.strides[shape.length - 1];
  const ost = outStrides[shape.length - 1];
  eachRow(shape, input.strides, input.offset, outStrides, (ib, ob) => {
    let acc = spec.op === 'sum' ? 0 : 1;
    for (let j = 0; j < n; j++) {
      acc = combine(acc, read(ib + j * ist));
      write(ob + j * ost, acc);
    }
  });
  return out;
}

/** a before b in torch's order (NaN largest, -0 == 0), ties by position: a total order, so the sort is stable. */
function comparator(v: Float64Array, descending: boolean): (a: number, b: number) => number {
  return (a, b) => {
    const x = v[a];
    const y = v[b];
    const nx = Number.isNaN(x);
    const ny = Number.isNaN(y);
    if (nx || ny) {
      if (nx && ny) return a - b;
      return (nx ? 1 : -1) * (descending ? -1 : 1);
    }
    if (x === y) return a - b;
    return (x < y ? -1 : 1) * (descending ? -1 : 1);
  };
}

export function cpuSort(spec: SortSpec): Storage {
  const { input, shape, outStrides } = spec;
  const out = CpuStorage.alloc('int32', numel(shape), 'sort');
  const n = shape[shape.length - 1];
  if (numel(shape) === 0) return out;
  const read = hostReader((input.storage as CpuStorage).data, input.dtype, dtypeInfo(input.dtype).compute);
  const ist = input.strides[shape.length - 1];
  const ost = outStrides[shape.length - 1];
  const values = new Float64Array(n);
  const order = new Int32Array(n);
  const cmp = comparator(values, spec.descending);
  eachRow(shape, input.strides, input.offset, outStrides, (ib, ob) => {
    for (let j = 0; j < n; j++) {
      values[j] = read(ib + j * ist);
      order[j] = j;
    }
    order.sort(cmp);
    for (let j = 0; j < n; j++) out.data[ob + j * ost] = order[j];
  });
  return out;
}
