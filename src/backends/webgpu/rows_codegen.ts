import type { DType } from '../../tensor/dtype.js';
import { loaderFn } from './codegen.js';

/**
 * How kernels/rows.wgsl is laid out for one launch (rows_plan in backend.ts chooses it):
 *  - `team`: 'subgroup' (a row per subgroup, subgroupMax / subgroupAdd: no barrier, no workgroup
 *    memory) or 'shared' (a row per TEAM invocations, a tree in workgroup memory);
 *  - `teamSize`: TEAM for 'shared' (a power of two <= WG); for 'subgroup' the smallest subgroup
 *    size, which sets how many rows a workgroup is given (WG / teamSize);
 *  - `vec`: the rows are contiguous in and out, their length a multiple of 4 and every row start
 *    16-byte aligned: input, output, weight and bias are read and written as vec4 words.
 */
export interface RowsLayout {
  team: 'subgroup' | 'shared';
  teamSize: number;
  vec: boolean;
}

export const rowsLayoutKey = (l: RowsLayout): string => `${l.team}${l.teamSize}${l.vec ? 'v' : ''}`;

/** Rows a workgroup of `wg` invocations is given. */
export const rowsPerGroup = (l: RowsLayout, wg: number): number => Math.max(1, Math.floor(wg / l.teamSize));

/** What must open the module (WGSL directives precede every declaration). */
export const rowsDirectives = (l: RowsLayout): string =>
  l.team === 'subgroup' ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);' : '';

/** The prelude of kernels/rows.wgsl after Params: bindings, loads and stores, team reductions, entry point. */
export function rowsPrelude(l: RowsLayout, dtype: DType, wg: number): string {
  const lines: string[] = [];
  const t = l.vec ? 'vec4<u32>' : 'u32';
  lines.push('@group(0) @binding(0) var<uniform> P: Params;');
  lines.push(`@group(0) @binding(1) var<storage, read_write> out: array<${t}>;`);
  lines.push(`@group(0) @binding(2) var<storage, read> in0: array<${t}>;`);
  lines.push(`@group(0) @binding(3) var<storage, read> weight: array<${t}>;`);
  lines.push(`@group(0) @binding(4) var<storage, read> bias: array<${t}>;`);
  lines.push(`const VEC = ${l.vec};`);
  if (l.vec) {
    // float32 only (rows_plan): element e is component e % 4 of vec4 e / 4.
    lines.push('fn ld0(e: i32) -> f32 { let u = u32(e); return bitcast<f32>(in0[u >> 2u][u & 3u]); }');
    lines.push('fn ldv(e: i32) -> vec4<f32> { return bitcast<vec4<f32>>(in0[u32(e) >> 2u]); }');
    lines.push('fn st1(e: u32, v: f32) { out[e >> 2u][e & 3u] = bitcast<u32>(v); }');
    lines.push('fn st4(q: u32, v: vec4<f32>) { out[q] = bitcast<vec4<u32>>(v); }');
    for (const [f, b] of [
      ['wt', 'weight'],
      ['bs', 'bias'],
    ]) {
      lines.push(`fn ${f}1(j: u32) -> f32 { return bitcast<f32>(${b}[j >> 2u][j & 3u]); }`);
      lines.push(`fn ${f}4(q: u32) -> vec4<f32> { return bitcast<vec4<f32>>(${b}[q]); }`);
    }
  } else {
    lines.push(loaderFn(0, dtype, 'f32'));
    lines.push('fn ldv(e: i32) -> vec4<f32> { return vec4<f32>(ld0(e), ld0(e + 1), ld0(e + 2), ld0(e + 3)); }');
    lines.push('fn st1(e: u32, v: f32) { out[e] = bitcast<u32>(v); }');
    lines.push('fn st4(q: u32, v: vec4<f32>) { for (var c = 0u; c < 4u; c++) { out[4u * q + c] = bitcast<u32>(v[c]); } }');
    for (const [f, b] of [
      ['wt', 'weight'],
      ['bs', 'bias'],
    ]) {
      lines.push(`fn ${f}1(j: u32) -> f32 { return bitcast<f32>(${b}[j]); }`);
      lines.push(
        `fn ${f}4(q: u32) -> vec4<f32> { return vec4<f32>(${f}1(4u * q), ${f}1(4u * q + 1u), ${f}1(4u * q + 2u), ${f}1(4u * q + 3u)); }`,
      );
    }
  }
  const rpw = rowsPerGroup(l, wg);
  if (l.team === 'subgroup') {
    // The row's lanes are one subgroup: its reductions are subgroup operations. A subgroup larger
    // than the smallest size serves several of the group's rows in turn.
    lines.push('fn team_max(slot: u32, v: f32) -> f32 { return subgroupMax(v); }');
    lines.push('fn team_sum(slot: u32, v: f32) -> f32 { return subgroupAdd(v); }');
    lines.push(`@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) sgi: u32, @builtin(subgroup_size) sgs: u32,
        @builtin(subgroup_id) sgid: u32, @builtin(num_subgroups) nsg: u32) {
  let g = wid.x + wid.y * nwg.x;
  for (var t = sgid; t < ${rpw}u; t += nsg) {
    process_row(g * ${rpw}u + t, sgi, sgs, 0u);
  }
}`);
  } else {
    // TEAM invocations per row; a tree over each team's slots of workgroup memory. Every
    // invocation of the workgroup runs the same reductions, so the barriers stay uniform.
    lines.push(`const TEAM: u32 = ${l.teamSize}u;`);
    lines.push('var<workgroup> red: array<f32, WG>;');
    lines.push(`fn team_reduce(slot: u32, v: f32, is_max: bool) -> f32 {
  let lane = slot % TEAM;
  red[slot] = v;
  workgroupBarrier();
  for (var s = TEAM / 2u; s > 0u; s = s >> 1u) {
    if (lane < s) {
      red[slot] = select(red[slot] + red[slot + s], max(red[slot], red[slot + s]), is_max);
    }
    workgroupBarrier();
  }
  let r = red[slot - lane];
  workgroupBarrier();
  return r;
}`);
    lines.push('fn team_max(slot: u32, v: f32) -> f32 { return team_reduce(slot, v, true); }');
    lines.push('fn team_sum(slot: u32, v: f32) -> f32 { return team_reduce(slot, v, false); }');
    lines.push(`@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  process_row(g * ${rpw}u + lid / TEAM, lid % TEAM, TEAM, lid);
}`);
  }
  return lines.join('\n');
}
