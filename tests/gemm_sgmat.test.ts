import { describe, expect, it } from 'vitest';
import type { GemmAdapterInfo } from '../src/backends/webgpu/gemm_config.js';
import {
  defaultSgmatTile,
  gemmSubgroupMatrixSource,
  pickSubgroupMatrixConfig,
  readSubgroupMatrixConfigs,
  sgmatAligned,
  sgmatTileShape,
  sgmatUniforms,
  SUBGROUP_MATRIX_FEATURE,
} from '../src/backends/webgpu/gemm_sgmat.js';

/**
 * The subgroup-matrix GEMM (Dawn's chromium-experimental-subgroup-matrix). No adapter here has
 * the feature, so these tests check the capability logic and the generated WGSL as text: the
 * kernel itself is unverified until it runs on hardware with matrix units.
 */

const intelXe2: GemmAdapterInfo = {
  vendor: 'intel',
  architecture: 'xe-2lpg',
  features: new Set(['subgroups', 'shader-f16', SUBGROUP_MATRIX_FEATURE]),
  subgroupMinSize: 16,
  subgroupMaxSize: 32,
  maxWorkgroupStorageBytes: 32768,
  maxInvocationsPerWorkgroup: 1024,
  subgroupMatrixConfigs: [
    { componentType: 'f16', resultComponentType: 'f16', M: 8, N: 16, K: 16 },
    { componentType: 'f16', resultComponentType: 'f32', M: 8, N: 16, K: 16 },
  ],
};
const lavapipe: GemmAdapterInfo = {
  vendor: 'mesa',
  architecture: 'software',
  features: new Set(['subgroups', 'shader-f16']),
  subgroupMinSize: 8,
  subgroupMaxSize: 8,
  maxWorkgroupStorageBytes: 32768,
  maxInvocationsPerWorkgroup: 1024,
  subgroupMatrixConfigs: [],
};

/** Brace and parenthesis balance, and every statement line of a function body ends in ; { or }. */
function structurallySound(src: string): void {
  let depth = 0;
  let parens = 0;
  for (const ch of src) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === '(') parens++;
    if (ch === ')') parens--;
    expect(depth).toBeGreaterThanOrEqual(0);
  }
  expect(depth).toBe(0);
  expect(parens).toBe(0);
  for (const line of src.split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('//') || line.startsWith('@compute') || line.startsWith('fn ') || /^[a-z]+: u32/.test(line)) continue;
    expect(/[;{}]$|,$/.test(line), line).toBe(true);
  }
}

describe('subgroup-matrix GEMM (unverified on hardware: text and capability checks only)', () => {
  it('reads adapter configs by field name and picks one only where the feature is there', () => {
    // WebIDL-like objects: fields readable by name, not enumerable.
    const webidl = Object.create(
      {},
      {
        componentType: { get: () => 'f16' },
        resultComponentType: { get: () => 'f32' },
        M: { get: () => 8 },
        N: { get: () => 16 },
        K: { get: () => 16 },
      },
    );
    expect(readSubgroupMatrixConfigs({ subgroupMatrixConfigs: [webidl, { componentType: 'f32' }] })).toEqual([
      { componentType: 'f16', resultComponentType: 'f32', M: 8, N: 16, K: 16 },
    ]);
    expect(readSubgroupMatrixConfigs({})).toEqual([]);
    expect(readSubgroupMatrixConfigs(undefined)).toEqual([]);
    // f32 result preferred over f16 accumulation.
    expect(pickSubgroupMatrixConfig(intelXe2, 'float16')).toEqual({ componentType: 'f16', resultComponentType: 'f32', M: 8, N: 16, K: 16 });
    expect(pickSubgroupMatrixConfig(intelXe2, 'float32')).toBeUndefined();
    expect(pickSubgroupMatrixConfig({ ...intelXe2, features: new Set(['subgroups', 'shader-f16']) }, 'float16')).toBeUndefined();
    expect(pickSubgroupMatrixConfig(lavapipe, 'float16')).toBeUndefined();
    expect(pickSubgroupMatrixConfig(lavapipe, 'float32')).toBeUndefined();
  });

  it('generates a structurally sound kernel: enables, column-first matrix types, one MMA per result matrix per K step', () => {
    const cfg = pickSubgroupMatrixConfig(intelXe2, 'float16');
    expect(cfg).toBeDefined();
    for (const bColMajor of [false, true]) {
      const t = defaultSgmatTile(cfg!, 32, bColMajor);
      const src = gemmSubgroupMatrixSource(t);
      structurallySound(src);
      expect(src.startsWith('enable subgroups;\nenable chromium_experimental_subgroup_matrix;\nenable f16;\n')).toBe(true);
      expect(src).toContain('diagnostic(off, chromium.subgroup_matrix_uniformity);');
      // left is M x K, right K x N, result M x N: columns first in the template arguments.
      expect(src).toContain('alias MatL = subgroup_matrix_left<f16, 16, 8>;');
      expect(src).toContain('alias MatR = subgroup_matrix_right<f16, 16, 16>;');
      expect(src).toContain('alias MatC = subgroup_matrix_result<f32, 16, 8>;');
      expect(src).toContain('var<storage, read_write> C: array<f32>;');
      expect(src).toContain('var<storage, read> A: array<f16>;');
      // Workgroup x size: subgroups x the max subgroup size.
      expect(src).toContain('@compute @workgroup_size(128)');
      expect(src.match(/subgroupMatrixMultiplyAccumulate\(/g)).toHaveLength(t.matsM * t.matsN);
      expect(src.match(/subgroupMatrixLoad<MatL>/g)).toHaveLength(t.matsM);
      expect(src.match(/subgroupMatrixLoad<MatR>/g)).toHaveLength(t.matsN);
      expect(src.match(/subgroupMatrixStore\(/g)).toHaveLength(t.matsM * t.matsN);
      // col_major must be a constant: B stored [N, K] is read column-major with stride K.
      expect(src).toContain(bColMajor ? ', true, P.k);' : 'k * P.n + col0');
      expect(src).not.toMatch(/undefined|NaN/);
    }
    const f32 = gemmSubgroupMatrixSource(
      defaultSgmatTile({ componentType: 'f32', resultComponentType: 'f32', M: 8, N: 8, K: 8 }, 8, false),
    );
    structurallySound(f32);
    expect(f32).not.toContain('enable f16;');
    expect(f32).toContain('alias MatL = subgroup_matrix_left<f32, 8, 8>;');
  });

  it('covers only the aligned shape class, with a tile-count uniform', () => {
    const t = defaultSgmatTile({ componentType: 'f16', resultComponentType: 'f32', M: 8, N: 16, K: 16 }, 16, false);
    expect(sgmatTileShape(t)).toEqual({ rows: 32, cols: 64 });
    expect(sgmatAligned(t, 64, 128, 256)).toBe(true);
    expect(sgmatAligned(t, 64, 128, 250)).toBe(false);
    expect(sgmatAligned(t, 40, 128, 256)).toBe(false);
    expect(Array.from(sgmatUniforms(t, 64, 128, 256))).toEqual([64, 128, 256, 2]);
  });
});
