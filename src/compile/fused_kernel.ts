import type { ChainArg, MapKernel, MapSpec, PureMap } from '../backends/backend.js';
import { convertExpr } from '../backends/webgpu/codegen.js';
import { f32Bits } from '../backends/webgpu/uniforms.js';
import { convertKind, dtypeInfo, f16BitsToNumber, numberToF16Bits, type ComputeKind, type DType } from '../tensor/dtype.js';

/**
 * One generated map kernel for a chain (a DAG) of pure elementwise maps: each member's WGSL body
 * becomes a block that assigns its result to a local, each member's JS twin a call whose result
 * feeds the next, so intermediates live in registers and are never stored. What eager does between
 * two maps is kept exactly: the value is rounded to the intermediate's dtype (float32, float16,
 * the integer wraps: what its store and load do) and converted to the kind the consumer reads it
 * as. Scalars are baked in as literals (a capture's scalars are static), which also lifts the map
 * uniforms' limit of 8 scalar words. The idea of composing per-op bodies into one kernel is
 * XLA's loop fusion and jax-js's jit; tinygrad does the same with its lazy elementwise graph.
 */

/** A member's WGSL body rewritten to stand in a block: loads and scalars resolved, `return e;` -> an assignment. */
export interface MemberBody {
  /** Statements before the result (lets of the body, and of x0..xN for a non-lazy body), with @IN{k}@ for input k. */
  prefix: string;
  /** The result expression, with @IN{k}@ for input k. */
  expr: string;
}

/** Where a member's input k comes from: an external operand of the fused kernel, or an earlier member. */
export type MemberInput = { ext: number } | { member: number };

export interface Member {
  spec: MapSpec;
  body: MemberBody;
  inputs: MemberInput[];
}

/** Intermediate dtypes a fused kernel can carry between members (their store + load is reproduced). */
export const FUSABLE_DTYPES = new Set<DType>(['float32', 'float16', 'int32', 'uint32', 'int8', 'uint8', 'bool']);

const TYPE: Record<ComputeKind, string> = { f32: 'f32', i32: 'i32', u32: 'u32' };

function scalarBits(spec: MapSpec, k: number): number {
  const s = spec.scalars?.[k];
  if (!s) return 0;
  return s.kind === 'f32' ? f32Bits(s.value) : s.value >>> 0;
}

/**
 * The body of a map kernel as a block member, or null when it cannot be one: it reads
 * coordinates or the linear index, asserts indices, or returns in more than one place.
 */
export function memberBody(spec: MapSpec): MemberBody | null {
  const k = spec.kernel;
  if (!k.pure || k.usesCoords || k.assertsIndex || spec.indexCheck) return null;
  let body = k.wgsl;
  if (k.lazy) {
    let bad = false;
    body = body.replace(/\bld(\d+)\(e(\d+)\)/g, (_m, a: string, b: string) => {
      if (a !== b) bad = true;
      return `@IN${a}@`;
    });
    if (bad || /\bld\d+\b|\be\d+\b/.test(body)) return null;
  } else {
    body = spec.inputs.map((_, j) => `let x${j} = @IN${j}@;`).join('\n') + '\n' + body;
  }
  if (/\bi\b|\bc\s*\[|\bindex_error\b/.test(body)) return null;
  body = body.replace(/\bs([fiu])\((\d+)u\)/g, (_m, t: string, j: string) => {
    const bits = scalarBits(spec, Number(j));
    return t === 'u' ? `${bits}u` : `bitcast<${t === 'f' ? 'f32' : 'i32'}>(${bits}u)`;
  });
  const r = dtypeInfo(spec.outDtype).compute;
  body = body.replace(/\bA\b/g, TYPE[spec.argKind]).replace(/\bR\b/g, TYPE[r]);
  const returns = body.match(/\breturn\b/g)?.length ?? 0;
  const m = /^([\s\S]*)\breturn\s+([\s\S]*?);\s*$/.exec(body);
  if (returns !== 1 || !m) return null;
  return { prefix: m[1], expr: m[2] };
}

/** WGSL: value v of `dtype`'s compute kind as eager's store and reload leave it. */
function roundTripWgsl(v: string, dtype: DType): string {
  switch (dtype) {
    case 'float16':
      return `quantizeToF16(${v})`;
    case 'int8':
    case 'uint8':
      return `extractBits(${v}, 0u, 8u)`;
    default:
      return v;
  }
}

/** JS: the same for a twin's float64 result (what a typed array store and load do). */
function roundTripJs(v: string, dtype: DType): string {
  switch (dtype) {
    case 'float32':
      return `Math.fround(${v})`;
    case 'float16':
      return `h2f(f2h(${v}))`;
    case 'int32':
      return `(${v} | 0)`;
    case 'uint32':
      return `(${v} >>> 0)`;
    case 'int8':
      return `((${v} << 24) >> 24)`;
    case 'uint8':
      return `(${v} & 255)`;
    case 'bool':
      return `(${v} !== 0 ? 1 : 0)`;
  }
}

function convertJs(v: string, from: ComputeKind, to: ComputeKind): string {
  if (from === to) return v;
  if (to === 'f32') return `Math.fround(${v})`;
  return `cv(${v}, '${from}', '${to}')`;
}

function jsLiteral(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/** The kind member input k is read as. */
export function inputKind(spec: MapSpec, k: number): ComputeKind {
  return spec.loadKinds?.[k] ?? spec.argKind;
}

const NAMES = new Map<string, string>();

/** A kernel name per distinct fused body (the pipeline cache keys by name). */
function nameFor(body: string): string {
  let name = NAMES.get(body);
  if (!name) NAMES.set(body, (name = `fused${NAMES.size + 1}`));
  return name;
}

/**
 * The members as a chain of table ops (PureMap.chain: the cpu addon runs it block by block), when
 * every member is a table op on float32 operands with a float32 result; else undefined.
 */
function chainOf(members: readonly Member[], externalDtypes: readonly DType[]): PureMap['chain'] {
  if (externalDtypes.some((d) => d !== 'float32')) return undefined;
  const chain: { op: string; args: ChainArg[] }[] = [];
  for (const m of members) {
    const { spec } = m;
    const pure = spec.kernel.pure as PureMap;
    if (!pure.op || spec.outDtype !== 'float32' || spec.argKind !== 'f32' || spec.loadKinds?.some((k) => k !== undefined && k !== 'f32'))
      return undefined;
    chain.push({
      op: pure.op,
      args: pure.slots.map((s): ChainArg => {
        if (!s.tensor) return { scalar: spec.scalars![s.index].value };
        const src = m.inputs[s.index];
        return 'ext' in src ? { input: src.ext } : { step: src.member };
      }),
    });
  }
  return chain;
}

/** The fused kernel of `members` (in dependency order; the last one's value is the output) over external operands of these dtypes. */
export function fusedKernel(members: readonly Member[], externalDtypes: readonly DType[]): MapKernel {
  const numExternal = externalDtypes.length;
  const wgsl: string[] = [];
  const js: string[] = [];
  members.forEach((m, j) => {
    const spec = m.spec;
    const inWgsl = (k: number): string => {
      const src = m.inputs[k];
      if ('ext' in src) return `ld${src.ext}(e${src.ext})`;
      const from = members[src.member].spec;
      const d = from.outDtype;
      return convertExpr(roundTripWgsl(`fz${src.member}`, d), dtypeInfo(d).compute, inputKind(spec, k));
    };
    const inJs = (k: number): string => {
      const src = m.inputs[k];
      if ('ext' in src) return `a${src.ext}`;
      const d = members[src.member].spec.outDtype;
      return convertJs(roundTripJs(`v${src.member}`, d), dtypeInfo(d).compute, inputKind(spec, k));
    };
    const fill = (s: string) => s.replace(/@IN(\d+)@/g, (_x, k: string) => `(${inWgsl(Number(k))})`);
    const r = TYPE[dtypeInfo(spec.outDtype).compute];
    wgsl.push(
      `var fz${j}: ${r};\n  {\n    ${fill(m.body.prefix).trim().split('\n').join('\n    ')}\n    fz${j} = ${fill(m.body.expr)};\n  }`,
    );
    const pure = spec.kernel.pure as PureMap;
    const args = pure.slots.map((s) => (s.tensor ? inJs(s.index) : jsLiteral(spec.scalars![s.index].value)));
    js.push(`const v${j} = f${j}(${args.join(', ')});`);
  });
  const last = members.length - 1;
  wgsl.push(`return fz${last};`);
  js.push(`return v${last};`);
  const params = Array.from({ length: numExternal }, (_, e) => `a${e}`);
  const source = `return function fused(${params.join(', ')}) {\n  ${js.join('\n  ')}\n};`;
  const make = new Function(...members.map((_, j) => `f${j}`), 'h2f', 'f2h', 'cv', source) as (
    ...a: unknown[]
  ) => (...x: number[]) => number;
  const fn = make(...members.map((m) => (m.spec.kernel.pure as PureMap).fn), f16BitsToNumber, numberToF16Bits, convertKind);
  const body = wgsl.join('\n  ');
  const slots = params.map((_, e) => ({ tensor: true, index: e }));
  return {
    name: nameFor(body),
    lazy: true,
    wgsl: body,
    js: (_x, ctx) => {
      const xs: number[] = [];
      for (let e = 0; e < numExternal; e++) xs.push(ctx.load(e, ctx.e[e]));
      return fn(...xs);
    },
    pure: { fn, slots, chain: chainOf(members, externalDtypes) },
  };
}
