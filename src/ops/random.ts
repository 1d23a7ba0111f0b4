import type { MapKernel, Scalar } from '../backends/backend.js';
import { resolveDevice } from '../device/registry.js';
import { XpuValueError } from '../errors.js';
import { checkDType, dtypeInfo } from '../tensor/dtype.js';
import { checkShape, intArg, numberArg, numel } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { runMap } from './common.js';
import { leafOption, type CreateOptions } from './creation.js';

/**
 * Random numbers from Philox4x32-10, a counter-based generator: element i of a call uses counter
 * (offset + i), so the values depend only on (seed, offset, i) and both devices produce the same
 * numbers (rand bit for bit, randn to float32 rounding of log/cos). Each call advances the offset
 * by its element count, like PyTorch's philox offset.
 */
const state = { seedLo: 0x853c49e6, seedHi: 0x6b5f3c1e, offset: 0 };

export function manualSeed(seed: number): void {
  intArg('manualSeed', 'seed', seed, { min: 0, expected: 'an integer in [0, 2^53)' });
  state.seedLo = seed >>> 0;
  state.seedHi = Math.floor(seed / 2 ** 32) >>> 0;
  state.offset = 0;
}

export function getRngState(): { seed: number; offset: number } {
  return { seed: state.seedHi * 2 ** 32 + state.seedLo, offset: state.offset };
}

function mulhilo(a: number, b: number): [number, number] {
  const aLo = a & 0xffff,
    aHi = a >>> 16,
    bLo = b & 0xffff,
    bHi = b >>> 16;
  const ll = aLo * bLo,
    lh = aLo * bHi,
    hl = aHi * bLo,
    hh = aHi * bHi;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
  return [hi, Math.imul(a, b) >>> 0];
}

/** Philox4x32-10 of counter (c0, c1, 0, 0) and key (k0, k1); the same rounds as kernels/common/math.wgsl. */
export function philox(c0: number, c1: number, k0: number, k1: number): [number, number, number, number] {
  let x = c0 >>> 0,
    y = c1 >>> 0,
    z = 0,
    w = 0;
  for (let r = 0; r < 10; r++) {
    const [h0, l0] = mulhilo(0xd2511f53, x);
    const [h1, l1] = mulhilo(0xcd9e8d57, z);
    [x, y, z, w] = [(h1 ^ y ^ k0) >>> 0, l1, (h0 ^ w ^ k1) >>> 0, l0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [x, y, z, w];
}

const u01 = (x: number): number => ((x >>> 8) + 1) * 5.9604644775390625e-8;

/**
 * For other random ops (random_ops.ts): the key and counter base of `count` draws as map
 * scalars 0-3 (key lo, hi; counter lo, hi), advancing the offset as rand does.
 */
export function philoxScalars(count: number): Scalar[] {
  const off = state.offset;
  state.offset += count;
  return [
    { kind: 'u32', value: state.seedLo },
    { kind: 'u32', value: state.seedHi },
    { kind: 'u32', value: off >>> 0 },
    { kind: 'u32', value: Math.floor(off / 2 ** 32) >>> 0 },
  ];
}

/** The JS side of draw i from scalars 0-3 (philoxScalars): the counter carries into its high word as the WGSL does. */
export function philoxAt(s: readonly number[], i: number): [number, number, number, number] {
  const ctr = (s[2] + i) >>> 0;
  return philox(ctr, (s[3] + (ctr < i ? 1 : 0)) >>> 0, s[0], s[1]);
}

function randomKernel(kind: 'uniform' | 'normal'): MapKernel {
  // Scalars: 0/1 = key, 2/3 = counter base (lo, hi), 4/5 = the distribution's parameters,
  // 6/7 = how uniform draws keep their top bits: shift, 2^-bits.
  const draw =
    'let ctr = su(2u) + i;\n  let r = philox(vec4<u32>(ctr, su(3u) + select(0u, 1u, ctr < i), 0u, 0u), vec2<u32>(su(0u), su(1u)));';
  if (kind === 'uniform') {
    return {
      name: 'rand',
      wgsl: `${draw}\n  return A(sf(4u) + f32(r.x >> su(6u)) * sf(7u) * (sf(5u) - sf(4u)));`,
      js: (_x, c) => {
        const [k0, k1, lo, hi, a, b, shift, scale] = c.scalars;
        const ctr = (lo + c.i) >>> 0;
        const r = philox(ctr, (hi + (ctr < c.i ? 1 : 0)) >>> 0, k0, k1);
        return a + (r[0] >>> shift) * scale * (b - a);
      },
    };
  }
  return {
    name: 'randn',
    wgsl: `${draw}\n  return A(sf(4u) + sf(5u) * sqrt(-2.0 * log(u01(r.x))) * cos(6.283185307179586 * u01(r.y)));`,
    js: (_x, c) => {
      const [k0, k1, lo, hi, mean, std] = c.scalars;
      const ctr = (lo + c.i) >>> 0;
      const r = philox(ctr, (hi + (ctr < c.i ? 1 : 0)) >>> 0, k0, k1);
      return mean + std * Math.sqrt(-2 * Math.log(u01(r[0]))) * Math.cos(2 * Math.PI * u01(r[1]));
    },
  };
}

const UNIFORM = randomKernel('uniform');
const NORMAL = randomKernel('normal');

function drawFloats(op: string, shape: number[], options: CreateOptions, kernel: MapKernel, p0: number, p1: number): Tensor {
  const s = checkShape(op, 'shape', shape);
  // A NaN or infinite bound would fill the tensor with NaN silently.
  numberArg(op, op === 'rand' ? 'low' : 'mean', p0, true);
  numberArg(op, op === 'rand' ? 'high' : 'std', p1, true);
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16') {
    throw new XpuValueError('random floats need a float dtype', { op, arg: 'dtype', expected: 'float32 or float16', got: dtype });
  }
  const off = state.offset;
  state.offset += numel(s);
  // Uniform draws keep as many bits as the dtype's significand holds (24, or 11 for float16), so
  // every draw is exact in the output and rand stays below 1 (24 bits would round up to 1 in f16).
  const bits = dtype === 'float16' ? 11 : 24;
  return generateWithScalars(op, s, { ...options, dtype }, kernel, [
    { kind: 'u32', value: state.seedLo },
    { kind: 'u32', value: state.seedHi },
    { kind: 'u32', value: off >>> 0 },
    { kind: 'u32', value: Math.floor(off / 2 ** 32) >>> 0 },
    { kind: 'f32', value: p0 },
    { kind: 'f32', value: p1 },
    { kind: 'u32', value: 32 - bits },
    { kind: 'f32', value: 2 ** -bits },
  ]);
}

function generateWithScalars(op: string, shape: number[], options: CreateOptions, kernel: MapKernel, scalars: Scalar[]): Tensor {
  const device = resolveDevice(op, options.device);
  const dtype = checkDType(op, 'dtype', options.dtype ?? 'float32');
  return leafOption(
    op,
    runMap({ device, kernel, inputs: [], outShape: shape, outDtype: dtype, argKind: dtypeInfo(dtype).compute, scalars }),
    options,
  );
}

/** Uniform samples in [low, high) (torch.rand is low = 0, high = 1). */
export function rand(shape: number[], options: CreateOptions & { low?: number; high?: number } = {}): Tensor {
  return drawFloats('rand', shape, options, UNIFORM, options.low ?? 0, options.high ?? 1);
}

/** Normal samples (Box-Muller), mean 0 and std 1 unless given. */
export function randn(shape: number[], options: CreateOptions & { mean?: number; std?: number } = {}): Tensor {
  return drawFloats('randn', shape, options, NORMAL, options.mean ?? 0, options.std ?? 1);
}
