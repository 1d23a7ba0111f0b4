import { f16BitsToNumber, type DType, type HostArray } from './dtype.js';
import type { Tensor } from './tensor.js';

/**
 * What `console.log(tensor)` and the REPL print (util.inspect.custom): torch's repr, values
 * first, then shape, dtype and device:
 *
 *   tensor([[ 0.1000, -1.2000],
 *           [ 3.0000,  4.5000]], shape=[2, 2], dtype=float32, device=cpu)
 *
 * Past 1000 elements only the first and last 3 of each long dim are shown, with `...` between
 * (torch's printoptions: threshold 1000, edgeitems 3). An xpu tensor's values can only be read by
 * awaiting the GPU, which inspect cannot, so it prints a placeholder that says how to read them.
 */

const THRESHOLD = 1000;
const EDGE = 3;

/** The subset of util.InspectOptionsStylized this uses (no node:util import in the tensor core). */
export interface InspectOptions {
  colors?: boolean;
  stylize?: (text: string, style: string) => string;
}

/** The indices shown along a dim of size n: all, or the first and last EDGE with -1 for `...`. */
function shownIndices(n: number, summarize: boolean): number[] {
  if (!summarize || n <= 2 * EDGE) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: EDGE }, (_, i) => i), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)];
}

/** One number as torch prints it in a tensor whose shown values decide the style. */
type Style = 'int' | 'bool' | 'whole' | 'fixed' | 'sci';

function styleFor(dtype: DType, values: number[]): Style {
  if (dtype === 'bool') return 'bool';
  if (dtype !== 'float32' && dtype !== 'float16') return 'int';
  const finite = values.filter(Number.isFinite).map(Math.abs);
  if (!finite.length) return 'fixed';
  const max = Math.max(...finite);
  const nonzero = finite.filter((v) => v > 0);
  const min = nonzero.length ? Math.min(...nonzero) : 0;
  if (finite.every((v) => Number.isInteger(v))) return max >= 1e8 ? 'sci' : 'whole';
  if (max >= 1e8 || (min > 0 && (min < 1e-4 || max / min > 1000))) return 'sci';
  return 'fixed';
}

function formatValue(v: number, style: Style): string {
  if (style === 'bool') return v !== 0 ? 'true' : 'false';
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  switch (style) {
    case 'int':
      return String(v);
    case 'whole':
      return `${Object.is(v, -0) ? '-0' : v.toFixed(0)}.`;
    case 'fixed':
      return v.toFixed(4);
    case 'sci':
      return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
  }
}

/** The host values of a cpu tensor, waiting for a native job still writing them (as data() does). */
function cpuValues(t: Tensor): HostArray {
  return (t.ref.storage as unknown as { data: HostArray }).data;
}

export function formatTensor(t: Tensor, options: InspectOptions = {}): string {
  const shape = `shape=[${t.shape.join(', ')}]`;
  const tail = `${shape}, dtype=${t.dtype}, device=${t.device}`;
  const stylize = options.colors && options.stylize ? options.stylize : (s: string) => s;
  if (t.isDisposed) return `tensor(<disposed>, ${tail})`;
  if (t.device.type !== 'cpu') return `tensor(<on ${t.device}: await t.cpu() or t.data() to read the values>, ${tail})`;
  let host: HostArray;
  try {
    host = cpuValues(t);
  } catch (e) {
    return `tensor(<unreadable: ${(e as Error).message}>, ${tail})`;
  }
  const summarize = t.numel > THRESHOLD;
  const read = (flat: number): number => (t.dtype === 'float16' ? f16BitsToNumber(host[flat]) : host[flat]);

  // The shown elements, as a nested array of flat offsets (-1 marks an elided run).
  type Node = number | Node[] | null;
  const collect = (dim: number, base: number): Node => {
    if (dim === t.ndim) return base;
    return shownIndices(t.shape[dim], summarize).map((i) => (i < 0 ? null : collect(dim + 1, base + i * t.strides[dim])));
  };
  const tree = collect(0, t.offset);
  const values: number[] = [];
  const gather = (n: Node): void => {
    if (typeof n === 'number') values.push(read(n));
    else if (n) n.forEach(gather);
  };
  gather(tree);
  const style = styleFor(t.dtype, values);
  const texts = values.map((v) => formatValue(v, style));
  const width = Math.max(0, ...texts.map((s) => s.length));
  let next = 0;
  const cell = (): string => stylize(texts[next++].padStart(width), style === 'bool' ? 'boolean' : 'number');

  const indent = 'tensor('.length;
  const render = (n: Node, dim: number): string => {
    if (typeof n === 'number') return cell();
    // torch pads the innermost `...` by one more space than a separator gives it.
    if (n === null) return dim === t.ndim ? ' ...' : '...';
    const inner = n.map((c) => render(c, dim + 1));
    // Innermost dim on one line; a line per row above it, and a blank line per dim above that.
    const sep = dim === t.ndim - 1 ? ', ' : `,${'\n'.repeat(t.ndim - dim - 1)}${' '.repeat(indent + dim + 1)}`;
    return `[${inner.join(sep)}]`;
  };
  return `tensor(${render(tree, 0)}, ${tail})`;
}
