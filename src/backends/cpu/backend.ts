import type { Backend, MapSpec, MatmulSpec, ReduceSpec, RowsSpec, Storage } from '../backend.js';
import { castNumber, convertKind, dtypeInfo, readHost, writeHost, type DType, type HostArray } from '../../tensor/dtype.js';
import { numel } from '../../tensor/shape.js';
import { CpuStorage } from './storage.js';
import { StridedWalker } from './indexing.js';
import { reduceRow } from './reduce.js';
import { rowOp } from './rows.js';

/**
 * The CPU backend: TypeScript kernels for every primitive. It is the fallback when no GPU is
 * present, and the twin the xpu kernels are checked against. Hot kernels move to the native addon
 * later; these stay as the always-available path.
 */
export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;

  alloc(dtype: DType, n: number, op: string): Storage {
    return CpuStorage.alloc(dtype, n, op);
  }

  upload(dtype: DType, data: HostArray): Storage {
    return new CpuStorage(data.slice(), dtype);
  }

  async read(storage: Storage, dtype: DType, n: number): Promise<HostArray> {
    return (storage as CpuStorage).data.slice(0, n);
  }

  release(): void {
    // Typed arrays are garbage-collected.
  }

  async synchronize(): Promise<void> {}

  map(spec: MapSpec): Storage {
    const { kernel, inputs, outShape, outDtype, argKind } = spec;
    const n = numel(outShape);
    const out = CpuStorage.alloc(outDtype, n, kernel.name);
    const datas = inputs.map((op) => (op.storage as CpuStorage).data);
    const kinds = inputs.map((op) => dtypeInfo(op.dtype).compute);
    const walker = new StridedWalker(outShape, inputs.map((op) => op.strides), inputs.map((op) => op.offset));
    const targets = inputs.map((_, k) => spec.loadKinds?.[k] ?? argKind);
    const load = (k: number, e: number): number => convertKind(readHost(datas[k], inputs[k].dtype, e), kinds[k], targets[k]);
    const ctx = { i: 0, coords: walker.coords, e: walker.e, load, scalars: (spec.scalars ?? []).map((s) => s.value) };
    const x = new Array<number>(inputs.length);
    const lazy = kernel.lazy === true;
    for (let i = 0; i < n; i++) {
      ctx.i = i;
      if (!lazy) for (let k = 0; k < x.length; k++) x[k] = load(k, walker.e[k]);
      writeHost(out.data, outDtype, i, castNumber(kernel.js(x, ctx), outDtype));
      walker.next();
    }
    return out;
  }

  reduce(spec: ReduceSpec): Storage {
    const { input, shape, keptRank, outDtype } = spec;
    const rows = numel(shape.slice(0, keptRank));
    const r = numel(shape.slice(keptRank));
    const out = CpuStorage.alloc(outDtype, rows);
    const src = (input.storage as CpuStorage).data;
    const kind = dtypeInfo(input.dtype).compute;
    const walker = new StridedWalker(shape, [input.strides], [input.offset]);
    const row = new Float64Array(r);
    for (let o = 0; o < rows; o++) {
      for (let j = 0; j < r; j++) {
        row[j] = convertKind(readHost(src, input.dtype, walker.e[0]), kind, spec.accKind);
        walker.next();
      }
      writeHost(out.data, outDtype, o, castNumber(reduceRow(spec, row), outDtype));
    }
    return out;
  }

  rows(spec: RowsSpec): Storage {
    const { input, shape, rowRank, outStrides } = spec;
    const total = numel(shape);
    const n = numel(shape.slice(shape.length - rowRank));
    const out = CpuStorage.alloc('float32', total);
    const src = (input.storage as CpuStorage).data;
    const weight = spec.weight ? (spec.weight as CpuStorage).data as Float32Array : undefined;
    const bias = spec.bias ? (spec.bias as CpuStorage).data as Float32Array : undefined;
    const walker = new StridedWalker(shape, [input.strides, outStrides], [input.offset, 0]);
    const x = new Float64Array(n);
    const dst = new Int32Array(n);
    for (let done = 0; done < total; done += n) {
      for (let j = 0; j < n; j++) {
        x[j] = readHost(src, input.dtype, walker.e[0]);
        dst[j] = walker.e[1];
        walker.next();
      }
      const y = rowOp(spec.op, x, spec.eps, weight, bias);
      for (let j = 0; j < n; j++) out.data[dst[j]] = y[j];
    }
    return out;
  }

  matmul(spec: MatmulSpec): Storage {
    const { a, b, batchShape, m, n, k, outDtype } = spec;
    const batch = numel(batchShape);
    const out = CpuStorage.alloc(outDtype, batch * m * n);
    const ad = (a.storage as CpuStorage).data;
    const bd = (b.storage as CpuStorage).data;
    const nb = batchShape.length;
    // Walk the batch dims with a, b offsets; inner loops use the last two strides directly.
    const walker = new StridedWalker(batchShape, [a.strides.slice(0, nb), b.strides.slice(0, nb)], [a.offset, b.offset]);
    const [sam, sak] = a.strides.slice(nb);
    const [sbk, sbn] = b.strides.slice(nb);
    const acc = new Float64Array(n);
    const arow = new Float64Array(k);
    for (let bi = 0; bi < batch; bi++) {
      const [ao, bo] = walker.e;
      for (let i = 0; i < m; i++) {
        acc.fill(0);
        for (let p = 0; p < k; p++) arow[p] = readHost(ad, a.dtype, ao + i * sam + p * sak);
        for (let p = 0; p < k; p++) {
          const av = arow[p];
          if (av === 0) continue;
          const base = bo + p * sbk;
          for (let j = 0; j < n; j++) acc[j] += av * readHost(bd, b.dtype, base + j * sbn);
        }
        const rowBase = (bi * m + i) * n;
        for (let j = 0; j < n; j++) writeHost(out.data, outDtype, rowBase + j, castNumber(acc[j], outDtype));
      }
      walker.next();
    }
    return out;
  }
}
