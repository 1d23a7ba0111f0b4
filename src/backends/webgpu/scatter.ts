import type { ScatterSpec } from '../row_specs.js';
import type { Storage } from '../operand.js';
import { XpuShapeError } from '../../errors.js';
import { COPY_KERNEL } from '../copy_kernel.js';
import { dtypeInfo, type DType } from '../../tensor/dtype.js';
import { numel } from '../../tensor/shape.js';
import { ASSERT_BYTES, type AssertSlot } from './asserts.js';
import { checkKernelElements, loaderFn, MAX_RANK } from './codegen.js';
import type { GpuHost } from './host.js';
import { kernelSource } from './pipelines.js';
import { bind } from './program.js';
import { f32Bits, uniformStruct } from './uniforms.js';

const WG = 64;
const MAX_GROUPS = 4096;

const PARAMS = uniformStruct('Params', {
  n: 'u32',
  rank: 'u32',
  size: 'u32',
  p0: 'u32',
  ioff: 'i32',
  soff: 'i32',
  dstride: 'i32',
  value: 'u32',
  has_src: 'u32',
  pad0: 'u32',
  pad1: 'u32',
  pad2: 'u32',
  shape: { array: 'u32', length: MAX_RANK },
  ist: { array: 'i32', length: MAX_RANK },
  sst: { array: 'i32', length: MAX_RANK },
  ost: { array: 'i32', length: MAX_RANK },
});

/** What a scatter launch needs beyond GpuHost: a device-side assert slot (WebGPUBackend.queue). */
export interface ScatterHost extends GpuHost {
  readonly queue: { reserveAssert(op: string, arg: string, size: number): AssertSlot };
}

/**
 * fn put(e, v): element e of the output (32-bit words of atomics) set to, or incremented by, v.
 * Whole words: atomicStore / atomicAdd; a float32 sum and every element narrower than a word: a
 * compare-exchange loop on the word (the other elements in it are left exactly as they are).
 */
function putFn(dtype: DType, add: boolean): string {
  const cas = (word: string, update: string): string =>
    `  let w = ${word};\n  var old = atomicLoad(&out[w]);\n  loop {\n    let r = atomicCompareExchangeWeak(&out[w], old, ${update});\n    if (r.exchanged) {\n      break;\n    }\n    old = r.old_value;\n  }`;
  let body: string;
  switch (dtype) {
    case 'float32':
      body = add ? cas('e', 'bitcast<u32>(bitcast<f32>(old) + v)') : '  atomicStore(&out[e], bitcast<u32>(v));';
      break;
    case 'int32':
      body = add ? '  atomicAdd(&out[e], bitcast<u32>(v));' : '  atomicStore(&out[e], bitcast<u32>(v));';
      break;
    case 'uint32':
      body = add ? '  atomicAdd(&out[e], v);' : '  atomicStore(&out[e], v);';
      break;
    case 'float16': {
      const h = `pack2x16float(vec2<f32>(${add ? 'unpack2x16float(old)[e & 1u] + v' : 'v'}, 0.0)) & 0xffffu`;
      body = cas('e >> 1u', `insertBits(old, ${h}, (e & 1u) * 16u, 16u)`);
      break;
    }
    default: {
      const cur = dtype === 'int8' ? 'extractBits(bitcast<i32>(old), (e & 3u) * 8u, 8u)' : 'extractBits(old, (e & 3u) * 8u, 8u)';
      const b = add ? `(${cur} + v)` : 'v';
      body = cas('e >> 2u', `insertBits(old, ${dtype === 'int8' ? `bitcast<u32>(${b})` : b} & 0xffu, (e & 3u) * 8u, 8u)`);
    }
  }
  return `fn put(e: u32, v: A) {\n${body}\n}`;
}

/** scatter / scatterAdd on xpu: a copy of the input, then kernels/scatter.wgsl over the index. */
export function webgpuScatter(host: ScatterHost, spec: ScatterSpec): Storage {
  const { dtype, index, indexShape, src, check } = spec;
  const op = check.op;
  const total = numel(spec.outShape);
  checkKernelElements(op, total);
  const kind = dtypeInfo(dtype).compute;
  const out = host.map({ kernel: COPY_KERNEL, inputs: [spec.input], outShape: spec.outShape, outDtype: dtype, argKind: kind });
  const n = numel(indexShape);
  if (n === 0) return out;
  checkKernelElements(op, n);
  if (indexShape.length > MAX_RANK) {
    host.release(out);
    throw new XpuShapeError('too many dims for a GPU kernel', {
      op,
      arg: 'index',
      expected: `at most ${MAX_RANK} dims`,
      got: String(indexShape.length),
    });
  }
  const ost: number[] = [];
  let acc = 1;
  for (let d = spec.outShape.length - 1; d >= 0; d--) {
    ost[d] = acc;
    acc *= spec.outShape[d];
  }
  const size = spec.outShape[spec.dim] ?? 1;
  const add = spec.reduce === 'add';
  const slot = host.queue.reserveAssert(op, check.arg, size);
  const value = spec.value ?? 0;
  try {
    host.run({
      name: op,
      key: `scatter|${dtype}|${index.dtype}|${add ? 1 : 0}`,
      layout: ['write', 'read', 'read', 'write'],
      constants: { WG },
      source: () =>
        [
          PARAMS.wgsl,
          '@group(0) @binding(0) var<uniform> P: Params;',
          '@group(0) @binding(1) var<storage, read_write> out: array<atomic<u32>>;',
          '@group(0) @binding(2) var<storage, read> in0: array<u32>;',
          '@group(0) @binding(3) var<storage, read> in1: array<u32>;',
          '@group(0) @binding(4) var<storage, read_write> xpu_assert: array<atomic<u32>>;',
          `alias A = ${kind};`,
          'fn index_error(j: i32) {\n  let s = P.p0 * 2u;\n  if (atomicOr(&xpu_assert[s], 1u) == 0u) {\n    atomicStore(&xpu_assert[s + 1u], bitcast<u32>(j));\n  }\n}',
          'fn value() -> A {\n  return bitcast<A>(P.value);\n}',
          loaderFn(0, index.dtype, 'i32'),
          loaderFn(1, dtype, kind),
          putFn(dtype, add),
          kernelSource('scatter.wgsl'),
        ].join('\n'),
      uniforms: PARAMS.write({
        n,
        rank: indexShape.length,
        size,
        p0: slot.slot,
        ioff: index.offset,
        soff: src?.offset ?? 0,
        dstride: ost[spec.dim] ?? 0,
        value: kind === 'f32' ? f32Bits(value) : value >>> 0,
        has_src: src ? 1 : 0,
        shape: indexShape,
        ist: index.strides,
        sst: src?.strides ?? [],
        ost: ost.map((s, d) => (d === spec.dim ? 0 : s)),
      }),
      bindings: [bind(out), bind(index.storage), bind((src ?? index).storage), { buffer: slot.buffer, size: ASSERT_BYTES }],
      groups: Math.min(Math.ceil(n / WG), MAX_GROUPS),
      assert: slot,
    });
  } catch (e) {
    host.release(out);
    throw e;
  }
  return out;
}
