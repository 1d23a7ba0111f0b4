import { readSubgroupMatrixConfigs, type AdapterInfo as GemmAdapterInfo, type SubgroupMatrixConfig } from './adapter.js';

export { readSubgroupMatrixConfigs, type SubgroupMatrixConfig };

/**
 * GEMM on matrix units through Dawn's `chromium-experimental-subgroup-matrix` feature (WGSL
 * `enable chromium_experimental_subgroup_matrix;`: subgroup_matrix_left / right / result types,
 * subgroupMatrixLoad / MultiplyAccumulate / Store), the path ORT and ggml take on Intel Xe2/Xe3
 * (XMX), Apple and NVIDIA.
 *
 * STATUS: UNVERIFIED. No adapter on the development machine reports the feature (lavapipe lists
 * no subgroup matrix configs: webgpu 0.6.2 exposes `adapter.info.subgroupMatrixConfigs`, empty
 * there), so the generated WGSL has been checked as text only (tests/gemm.test.ts), never
 * compiled or run. It is not wired into matmul: a caller must check `pickSubgroupMatrixConfig`
 * and run the source itself until it has been validated on hardware that has the feature.
 *
 * Scope of the kernel: one batch entry, A row-major [M, K] (stride K), B row-major [K, N] (stride
 * N) or stored [N, K] (col_major, the Linear weight), C row-major [M, N] in the result type, no
 * epilogue; M, N, K multiples of the workgroup tile and of the matrix K (the "aligned" shape
 * class). Each subgroup owns matsM x matsN result matrices (independent accumulator chains, as
 * the ILP note in shared/notes/anchors.md advises); the workgroup is subgroupsM x subgroupsN
 * subgroups, laid out by subgroup_id (workgroup x size = subgroups * max subgroup size).
 */

export const SUBGROUP_MATRIX_FEATURE = 'chromium-experimental-subgroup-matrix';

/**
 * The matrix config to use for a dtype, or undefined when the adapter cannot run this path:
 * the feature and `subgroups` enabled on the device, a config whose component type matches the
 * inputs (f16 needs shader-f16 too), preferring an f32 result (f16 accumulation loses precision
 * over long K, ORT's experience), then the largest M x N.
 */
export function pickSubgroupMatrixConfig(adapter: GemmAdapterInfo, dtype: 'float32' | 'float16'): SubgroupMatrixConfig | undefined {
  if (!adapter.features.has(SUBGROUP_MATRIX_FEATURE) || !adapter.features.has('subgroups')) return undefined;
  const want = dtype === 'float16' ? 'f16' : 'f32';
  if (want === 'f16' && !adapter.features.has('shader-f16')) return undefined;
  const fits = (adapter.subgroupMatrixConfigs ?? []).filter(
    (c) => c.componentType === want && (c.resultComponentType === 'f32' || c.resultComponentType === 'f16'),
  );
  fits.sort((a, b) => (a.resultComponentType === 'f32' ? 0 : 1) - (b.resultComponentType === 'f32' ? 0 : 1) || b.M * b.N - a.M * a.N);
  return fits[0];
}

export interface SgmatTile {
  cfg: SubgroupMatrixConfig;
  /** Result matrices per subgroup along M and N. */
  matsM: number;
  matsN: number;
  /** Subgroups per workgroup along M and N. */
  subgroupsM: number;
  subgroupsN: number;
  /** The adapter's largest subgroup size (the workgroup's x size is a multiple of it). */
  subgroupSize: number;
  /** B stored [N, K] (read column-major), else [K, N]. */
  bColMajor: boolean;
}

/** Output rows and columns of one workgroup. */
export function sgmatTileShape(t: SgmatTile): { rows: number; cols: number } {
  return { rows: t.subgroupsM * t.matsM * t.cfg.M, cols: t.subgroupsN * t.matsN * t.cfg.N };
}

/** Whether the kernel covers a problem exactly (it has no edge handling). */
export function sgmatAligned(t: SgmatTile, m: number, n: number, k: number): boolean {
  const { rows, cols } = sgmatTileShape(t);
  return m % rows === 0 && n % cols === 0 && k % t.cfg.K === 0;
}

/** Uniforms of the kernel: m, n, k, tilesN (u32 x 4). */
export function sgmatUniforms(t: SgmatTile, m: number, n: number, k: number): Uint32Array {
  return new Uint32Array([m, n, k, n / sgmatTileShape(t).cols]);
}

/** The WGSL of the subgroup-matrix GEMM (see the module comment). */
export function gemmSubgroupMatrixSource(t: SgmatTile): string {
  const { cfg } = t;
  const ct = cfg.componentType;
  const rt = cfg.resultComponentType;
  const needsF16 = ct === 'f16' || rt === 'f16';
  const subgroups = t.subgroupsM * t.subgroupsN;
  const L: string[] = [
    'enable subgroups;',
    'enable chromium_experimental_subgroup_matrix;',
    ...(needsF16 ? ['enable f16;'] : []),
    'diagnostic(off, chromium.subgroup_matrix_uniformity);',
    '',
    'struct SgParams {',
    '  m: u32, n: u32, k: u32, tilesN: u32,',
    '}',
    '@group(0) @binding(0) var<uniform> P: SgParams;',
    `@group(0) @binding(1) var<storage, read_write> C: array<${rt}>;`,
    `@group(0) @binding(2) var<storage, read> A: array<${ct}>;`,
    `@group(0) @binding(3) var<storage, read> B: array<${ct}>;`,
    '',
    // Template arguments: columns first (left is M x K, right K x N, result M x N).
    `alias MatL = subgroup_matrix_left<${ct}, ${cfg.K}, ${cfg.M}>;`,
    `alias MatR = subgroup_matrix_right<${ct}, ${cfg.N}, ${cfg.K}>;`,
    `alias MatC = subgroup_matrix_result<${rt}, ${cfg.N}, ${cfg.M}>;`,
    '',
    `const SM: u32 = ${cfg.M}u;`,
    `const SN: u32 = ${cfg.N}u;`,
    `const SK: u32 = ${cfg.K}u;`,
    `const SUBGROUPS_N: u32 = ${t.subgroupsN}u;`,
    `const SUBGROUPS_M: u32 = ${t.subgroupsM}u;`,
    '',
    `@compute @workgroup_size(${t.subgroupSize * subgroups})`,
    'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_id) sgid: u32) {',
    '  let g = wid.x + wid.y * nwg.x;',
    '  let tileN = g % P.tilesN;',
    '  let tileM = g / P.tilesN;',
    // Subgroups past the expected count (a device with smaller subgroups than the max) idle.
    `  if (sgid >= ${subgroups}u) {`,
    '    return;',
    '  }',
    '  let sgM = sgid / SUBGROUPS_N;',
    '  let sgN = sgid % SUBGROUPS_N;',
    `  let row0 = (tileM * SUBGROUPS_M + sgM) * (${t.matsM}u * SM);`,
    `  let col0 = (tileN * SUBGROUPS_N + sgN) * (${t.matsN}u * SN);`,
  ];
  for (let i = 0; i < t.matsM; i++) for (let j = 0; j < t.matsN; j++) L.push(`  var c${i}_${j} = MatC(0);`);
  L.push('  for (var k = 0u; k < P.k; k += SK) {');
  for (let i = 0; i < t.matsM; i++) L.push(`    let a${i} = subgroupMatrixLoad<MatL>(&A, (row0 + ${i}u * SM) * P.k + k, false, P.k);`);
  for (let j = 0; j < t.matsN; j++) {
    L.push(
      t.bColMajor
        ? `    let b${j} = subgroupMatrixLoad<MatR>(&B, (col0 + ${j}u * SN) * P.k + k, true, P.k);`
        : `    let b${j} = subgroupMatrixLoad<MatR>(&B, k * P.n + col0 + ${j}u * SN, false, P.n);`,
    );
  }
  for (let i = 0; i < t.matsM; i++)
    for (let j = 0; j < t.matsN; j++) L.push(`    c${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, c${i}_${j});`);
  L.push('  }');
  for (let i = 0; i < t.matsM; i++)
    for (let j = 0; j < t.matsN; j++)
      L.push(`  subgroupMatrixStore(&C, (row0 + ${i}u * SM) * P.n + col0 + ${j}u * SN, c${i}_${j}, false, P.n);`);
  L.push('}');
  return L.join('\n') + '\n';
}

/** A default tile for a config: 2 x 2 result matrices per subgroup, 2 x 2 subgroups. */
export function defaultSgmatTile(cfg: SubgroupMatrixConfig, subgroupSize: number, bColMajor: boolean): SgmatTile {
  return { cfg, matsM: 2, matsN: 2, subgroupsM: 2, subgroupsN: 2, subgroupSize, bColMajor };
}
