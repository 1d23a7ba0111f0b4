import type { MatmulSpec, Operand } from '../backend.js';
import { ACTIVATIONS } from '../activation.js';
import { castNumber, readHost, writeHost } from '../../tensor/dtype.js';
import { numel } from '../../tensor/shape.js';
import { StridedWalker } from './indexing.js';
import { CpuStorage } from './storage.js';

/**
 * The CPU twin of the GEMM primitive: batched, strided operands read in place, accumulation in
 * float64, and the same epilogue as the GPU store hook (alpha, bias * beta, activation,
 * residual), then one cast to the output dtype. B is unpacked once per batch entry into a dense
 * float64 panel so the inner loop is a plain i-k-j sweep (the strided, per-element decode of the
 * old loop cost more than the arithmetic).
 */
export function cpuMatmul(spec: MatmulSpec): CpuStorage {
  const { a, b, batchShape, m, n, k, outDtype } = spec;
  const batch = numel(batchShape);
  const out = CpuStorage.alloc(outDtype, batch * m * n, 'matmul');
  const ep = spec.epilogue ?? {};
  const alpha = ep.alpha ?? 1;
  const beta = ep.beta ?? 1;
  const act = ep.activation ? ACTIVATIONS[ep.activation].js : undefined;
  const nb = batchShape.length;
  const bias = ep.bias;
  const res = ep.residual;
  const absent: Operand = { storage: a.storage, dtype: a.dtype, strides: new Array<number>(nb + 2).fill(0), offset: 0 };
  const ops = [a, b, bias ?? absent, res ?? absent];
  const walker = new StridedWalker(
    batchShape,
    ops.map((o) => o.strides.slice(0, nb)),
    ops.map((o) => o.offset),
  );
  const data = ops.map((o) => (o.storage as CpuStorage).data);
  const [sam, sak] = a.strides.slice(nb);
  const [sbk, sbn] = b.strides.slice(nb);
  const [sbiasm, sbiasn] = (bias ?? absent).strides.slice(nb);
  const [sresm, sresn] = (res ?? absent).strides.slice(nb);
  const panel = new Float64Array(k * n);
  let panelOffset = NaN;
  const arow = new Float64Array(k);
  const acc = new Float64Array(n);
  for (let bi = 0; bi < batch; bi++) {
    const [ao, bo, biaso, reso] = walker.e;
    if (bo !== panelOffset) {
      for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) panel[p * n + j] = readHost(data[1], b.dtype, bo + p * sbk + j * sbn);
      panelOffset = bo;
    }
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) arow[p] = readHost(data[0], a.dtype, ao + i * sam + p * sak);
      acc.fill(0);
      for (let p = 0; p < k; p++) {
        const av = arow[p];
        const base = p * n;
        for (let j = 0; j < n; j++) acc[j] += av * panel[base + j];
      }
      const rowBase = (bi * m + i) * n;
      for (let j = 0; j < n; j++) {
        let v = alpha * acc[j];
        if (bias) v += beta * readHost(data[2], bias.dtype, biaso + i * sbiasm + j * sbiasn);
        if (act) v = act(v);
        if (res) v += readHost(data[3], res.dtype, reso + i * sresm + j * sresn);
        writeHost(out.data, outDtype, rowBase + j, castNumber(v, outDtype));
      }
    }
    walker.next();
  }
  return out;
}
