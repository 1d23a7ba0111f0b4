import type { MapSpec } from '../backend.js';
import { dtypeInfo, type ComputeKind } from '../../tensor/dtype.js';
import type { GpuStorage } from './allocator.js';
import { convertExpr, elementsPerWord, extractExpr, loaderFn, mapElementFn, packWordExpr, writeWordFn } from './codegen.js';

/**
 * The vectorised map kernel: when every operand of a map walks memory contiguously (or is one
 * broadcast element), each invocation writes four output words (one vec4 store) from whole-word
 * or vec4 loads, instead of one word from per-element loads. On lavapipe every storage load whose
 * address varies per lane becomes a per-lane scalar loop, so a vec4 load costs about what a
 * scalar one does; on GPUs it is the usual 16-byte access (tfjs-webgpu and ONNX Runtime WebGPU
 * vectorise their elementwise programs the same way). The strided path stays for everything else.
 *
 * How each input is read (`VecMode`), decided from its stride and its offset in bytes:
 *  - 'v': contiguous, its share of a group is whole vec4s and starts 16-byte aligned: vec4 loads;
 *  - 'w': contiguous and word-aligned: one u32 load per word of its share (a bool mask beside a
 *    float32 output is one word per four elements);
 *  - 'e': contiguous but starting inside a word (a float16 or int8 view at an odd offset): per
 *    element, through the strided loader;
 *  - 'b': a broadcast element (stride 0): loaded once per group;
 * and over two dims [rows, cols] (cols a whole number of groups, so a group never straddles two
 * rows; what a row-wise op's backward makes: LayerNorm's x * rstd, - mean, x * weight):
 *  - 'r': one element per row (strides [s, 0]): loaded once per group;
 *  - 'c': one vector over the columns (strides [0, 1]): per element, through the strided loader.
 * The last, partial group (numel not a multiple of 4 words' elements) goes through the strided
 * element() / write_word() of the generic kernel, storing single words.
 */
export type VecMode = 'v' | 'w' | 'e' | 'b' | 'r' | 'c';

/** Bindings are whole blocks seen as vec4 words, so every block must be a whole number of vec4s. */
const VEC_BYTES = 16;

/**
 * The per-input modes of the vectorised kernel, or undefined when the launch must take the strided
 * path: more than two dims after merging, two dims whose columns are not whole groups or whose
 * inputs are not contiguous, per-row or per-column, a kernel that reads coordinates or asserts indices, a block that is not a whole number of vec4s or too large to bind whole, or fewer
 * elements than one group.
 */
export function vecModes(
  spec: MapSpec,
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  out: GpuStorage,
  maxBinding: number,
): VecMode[] | undefined {
  const { kernel } = spec;
  if (shape.length < 1 || shape.length > 2 || kernel.usesCoords || kernel.assertsIndex) return undefined;
  const epwOut = elementsPerWord(spec.outDtype);
  const two = shape.length === 2;
  if (two && shape[1] % (4 * epwOut) !== 0) return undefined;
  if (shape.reduce((a, b) => a * b, 1) < 4 * epwOut) return undefined;
  const blocks = [out, ...spec.inputs.map((x) => x.storage as GpuStorage)];
  if (blocks.some((b) => b.size % VEC_BYTES !== 0 || b.size > maxBinding)) return undefined;
  const outItem = dtypeInfo(spec.outDtype).itemsize;
  const modes: VecMode[] = [];
  for (let k = 0; k < spec.inputs.length; k++) {
    const x = spec.inputs[k];
    if (two) {
      const [s0, s1] = strides[k];
      if (s0 === 0 && s1 === 0) {
        modes.push('b');
        continue;
      }
      if (s1 === 0) {
        modes.push('r');
        continue;
      }
      if (s0 === 0 && s1 === 1) {
        modes.push('c');
        continue;
      }
      if (s1 !== 1 || s0 !== shape[1]) return undefined;
    }
    const s = two ? 1 : strides[k][0];
    if (s === 0) {
      modes.push('b');
      continue;
    }
    if (s !== 1) return undefined;
    const item = dtypeInfo(x.dtype).itemsize;
    const startByte = x.offset * item;
    if (item >= outItem && startByte % VEC_BYTES === 0) modes.push('v');
    else if (startByte % 4 === 0) modes.push('w');
    else modes.push('e');
  }
  return modes;
}

/** fn write_vec(v): output group v (4 words, V = 4 * EPW elements), every element in range. */
function writeVecFn(spec: MapSpec, modes: readonly VecMode[], r: ComputeKind): string {
  const { inputs, argKind, kernel } = spec;
  const epw = elementsPerWord(spec.outDtype);
  const V = 4 * epw;
  const kinds = inputs.map((_, k) => spec.loadKinds?.[k] ?? argKind);
  const lines = [`  let i0 = v * ${V}u;`];
  // Each input's words for this group: nw = V * itemsize / 4 of them.
  const wordOf: ((j: number) => string)[] = [];
  inputs.forEach((x, k) => {
    const item = dtypeInfo(x.dtype).itemsize;
    const nw = (V * item) / 4;
    const m = modes[k];
    if (m === 'v') {
      lines.push(`  let b${k} = (u32(P.off[${k}].x) * ${item}u) / 16u + v * ${nw / 4}u;`);
      for (let q = 0; q < nw / 4; q++) lines.push(`  let q${k}_${q} = in${k}[b${k} + ${q}u];`);
      wordOf[k] = (t) => `q${k}_${Math.floor(t / 4)}[${t % 4}]`;
    } else if (m === 'w') {
      lines.push(`  let b${k} = (u32(P.off[${k}].x) * ${item}u) / 4u + v * ${nw}u;`);
      for (let t = 0; t < nw; t++) lines.push(`  let w${k}_${t} = wd${k}(b${k} + ${t}u);`);
      wordOf[k] = (t) => `w${k}_${t}`;
    } else if (m === 'b') {
      lines.push(`  let xb${k} = ld${k}(P.off[${k}].x);`);
    } else if (m === 'r') {
      // The group's row: i0 / cols (P.shape[0][1]); the input's row stride is P.st[2k][0].
      lines.push(`  let eb${k} = P.off[${k}].x + i32(i0 / P.shape[0][1]) * P.st[${2 * k}][0];`, `  let xb${k} = ld${k}(eb${k});`);
    } else if (m === 'c') {
      lines.push(`  let ec${k} = P.off[${k}].x + i32(i0 % P.shape[0][1]);`);
    }
  });
  const values: string[] = [];
  for (let j = 0; j < V; j++) {
    const args = [`i0 + ${j}u`];
    const index = (k: number): string =>
      ({ b: `P.off[${k}].x`, r: `eb${k}`, c: `ec${k} + ${j}` })[modes[k] as 'b' | 'r' | 'c'] ?? `P.off[${k}].x + i32(i0 + ${j}u)`;
    inputs.forEach((_, k) => args.push(index(k)));
    inputs.forEach((x, k) => {
      const item = dtypeInfo(x.dtype).itemsize;
      const m = modes[k];
      if (m === 'b' || m === 'r') args.push(`xb${k}`);
      else if (m === 'e' || m === 'c') args.push(`ld${k}(${index(k)})`);
      else {
        const perWord = 4 / item;
        const w = wordOf[k](Math.floor(j / perWord));
        args.push(convertExpr(extractExpr(x.dtype, w, j % perWord), dtypeInfo(x.dtype).compute, kinds[k]));
      }
    });
    lines.push(`  let r${j} = body(${args.join(', ')});`);
    values.push(`r${j}`);
  }
  const words = Array.from({ length: 4 }, (_, w) => packWordExpr(spec.outDtype, values.slice(w * epw, (w + 1) * epw)));
  lines.push(`  out[v] = vec4<u32>(${words.join(', ')});`);
  // The body as a function of the element index, the storage indices and the loaded values; it
  // may reassign e_k (var copies, as in element()).
  const params = ['ii: u32', ...inputs.map((_, k) => `ee${k}: i32`), ...inputs.map((_, k) => `xx${k}: ${kinds[k]}`)];
  const prologue = ['  let i = ii;', ...inputs.map((_, k) => `  var e${k} = ee${k};`)];
  if (!kernel.lazy) prologue.push(...inputs.map((_, k) => `  let x${k} = xx${k};`));
  return [
    `fn body(${params.join(', ')}) -> ${r} {\n${prologue.join('\n')}\n  ${lazyBody(kernel.wgsl, inputs.length)}\n}`,
    `fn write_vec(v: u32) {\n${lines.join('\n')}\n}`,
  ].join('\n');
}

/**
 * A lazy kernel loads its inputs itself, as `ld{k}(e{k})` (the elementwise ops: src/ops/
 * elementwise.ts): those loads of the element's own storage index become the values loaded for
 * the group. Only when the body never reassigns e{k}, so that the call means that element; other
 * loads stay calls of the strided loader (correct, just not vectorised).
 */
function lazyBody(wgsl: string, nin: number): string {
  let out = wgsl;
  for (let k = 0; k < nin; k++) {
    if (new RegExp(`\\be${k}\\s*([-+*/%&|^]|<<|>>)?=(?!=)`).test(out)) continue;
    out = out.split(`ld${k}(e${k})`).join(`xx${k}`);
  }
  return out;
}

/**
 * The vectorised kernel's source minus the shared prelude (params, scalars, math): vec4 bindings,
 * word accessors, the strided loaders and element()/write_word() for the tail, write_vec(), main.
 */
export function vecMapBody(spec: MapSpec, modes: readonly VecMode[], r: ComputeKind): string {
  const { inputs, argKind, kernel } = spec;
  const nin = inputs.length;
  const lines = ['@group(0) @binding(0) var<uniform> P: Params;', '@group(0) @binding(1) var<storage, read_write> out: array<vec4<u32>>;'];
  for (let k = 0; k < nin; k++) {
    lines.push(`@group(0) @binding(${k + 2}) var<storage, read> in${k}: array<vec4<u32>>;`);
    lines.push(`fn wd${k}(u: u32) -> u32 { return in${k}[u >> 2u][u & 3u]; }`);
    lines.push(loaderFn(k, inputs[k].dtype, spec.loadKinds?.[k] ?? argKind, (w) => `wd${k}(${w})`));
  }
  // The tail's element() walks the same dims as the groups (two with a per-row or per-column input).
  lines.push(mapElementFn(kernel, nin, modes.some((m) => m === 'r' || m === 'c') ? 2 : 1));
  lines.push(writeWordFn(spec.outDtype, (w) => `out[${w} >> 2u][${w} & 3u]`));
  lines.push(writeVecFn(spec, modes, r));
  lines.push(`override WG: u32 = 64u;
// Grid-stride over groups of 4 output words; the last group, if partial, word by word.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let stride = nwg.x * nwg.y * WG;
  let words = (P.numel + EPW - 1u) / EPW;
  let full = P.numel / (4u * EPW);
  let groups = (words + 3u) / 4u;
  for (var v = (wid.x + wid.y * nwg.x) * WG + lid; v < groups; v += stride) {
    if (v < full) {
      write_vec(v);
    } else {
      for (var w = v * 4u; w < words; w++) {
        write_word(w);
      }
    }
  }
}`);
  return lines.join('\n');
}
