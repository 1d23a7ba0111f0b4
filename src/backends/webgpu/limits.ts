import { XpuDeviceError } from '../../errors.js';

/**
 * What a compute kernel asks of the adapter, read off its generated WGSL, and the checks of a
 * kernel and of a launch against the adapter's limits. They run before anything is created or
 * recorded: WebGPU reports a limit violation as a validation error, which invalidates the whole
 * command encoder it lands in, so one oversized launch would drop every other launch batched with
 * it (see queue.ts) and surface on whichever tensor happened to be read next.
 */

/** The part of GPUSupportedLimits the checks read. */
export interface LaunchLimits {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupSizeZ: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  maxStorageTexturesPerShaderStage: number;
  maxSampledTexturesPerShaderStage: number;
  maxStorageBufferBindingSize: number;
  maxUniformBufferBindingSize: number;
}

/** A kernel's demands; undefined where the source could not be evaluated (then Dawn's own check decides). */
export interface KernelDemands {
  workgroupSize?: [number, number, number];
  /** Bytes of all var<workgroup> declarations, each rounded up to 16 as Dawn counts them. */
  workgroupBytes?: number;
  storageBuffers: number;
  storageTextures: number;
  sampledTextures: number;
}

type Env = Map<string, number | undefined>;

/** Integer constant expressions of WGSL as our generators write them: literals, names, + - * / % << >>, (), min/max/u32/i32. */
function evaluate(expr: string, env: Env): number | undefined {
  const tokens = expr.match(/0[xX][0-9a-fA-F]+[ui]?|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?[uif]?|[A-Za-z_]\w*|<<|>>|[-+*/%(),]/g);
  if (!tokens || tokens.join('').length !== expr.replace(/\s+/g, '').length) return undefined;
  let i = 0;
  const peek = () => tokens[i];
  const primary = (): number | undefined => {
    const t = tokens[i++];
    if (t === undefined) return undefined;
    if (t === '(') {
      const v = sum();
      return tokens[i++] === ')' ? v : undefined;
    }
    if (t === '-') {
      const v = primary();
      return v === undefined ? undefined : -v;
    }
    if (/^[0-9]/.test(t)) return Number(t.replace(/[uif]$/, ''));
    if (peek() === '(') {
      i++;
      const args: (number | undefined)[] = [];
      while (peek() !== ')' && i < tokens.length) {
        args.push(sum());
        if (peek() === ',') i++;
      }
      i++;
      if (args.some((a) => a === undefined)) return undefined;
      const a = args as number[];
      if (t === 'min') return Math.min(...a);
      if (t === 'max') return Math.max(...a);
      if ((t === 'u32' || t === 'i32') && a.length === 1) return Math.trunc(a[0]);
      return undefined;
    }
    return env.get(t);
  };
  const product = (): number | undefined => {
    let v = primary();
    while (peek() === '*' || peek() === '/' || peek() === '%' || peek() === '<<' || peek() === '>>') {
      const op = tokens[i++];
      const r = primary();
      if (v === undefined || r === undefined) return undefined;
      if (op === '*') v *= r;
      else if (op === '/') v = Math.trunc(v / r);
      else if (op === '%') v %= r;
      else if (op === '<<') v = v * 2 ** r;
      else v = Math.floor(v / 2 ** r);
    }
    return v;
  };
  const sum = (): number | undefined => {
    let v = product();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[i++];
      const r = product();
      if (v === undefined || r === undefined) return undefined;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const v = sum();
  return i === tokens.length && v !== undefined && Number.isFinite(v) ? v : undefined;
}

/** Splits `a, b<c, d>, e` at top-level commas. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '<' || ch === '(') depth++;
    else if (ch === '>' || ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(s.slice(start).trim());
  return out.filter((x) => x.length > 0);
}

/** Size and alignment of a WGSL type (host-shareable layout rules); undefined if unknown. */
function typeLayout(type: string, env: Env, aliases: Map<string, string>, depth = 0): { size: number; align: number } | undefined {
  const t = type.trim();
  if (depth > 16) return undefined;
  if (t === 'f32' || t === 'u32' || t === 'i32' || t === 'bool') return { size: 4, align: 4 };
  if (t === 'f16') return { size: 2, align: 2 };
  const alias = aliases.get(t);
  if (alias !== undefined) return typeLayout(alias, env, aliases, depth + 1);
  const g = /^(\w+)\s*<(.*)>$/.exec(t);
  if (!g) return undefined;
  const [, name, inner] = g;
  const args = splitTop(inner);
  if (name === 'atomic') return typeLayout(args[0], env, aliases, depth + 1);
  const vec = /^vec([234])$/.exec(name);
  if (vec) {
    const n = Number(vec[1]);
    const e = typeLayout(args[0], env, aliases, depth + 1);
    if (!e) return undefined;
    return { size: n * e.size, align: (n === 3 ? 4 : n) * e.size };
  }
  if (name === 'array' && args.length === 2) {
    const e = typeLayout(args[0], env, aliases, depth + 1);
    const n = evaluate(args[1], env);
    if (!e || n === undefined) return undefined;
    const stride = Math.ceil(e.size / e.align) * e.align;
    return { size: n * stride, align: e.align };
  }
  return undefined;
}

/**
 * Reads a kernel's workgroup size, workgroup memory and resource bindings off its WGSL source.
 * `constants` are the pipeline's override values. Anything it cannot evaluate is left undefined.
 */
export function kernelDemands(code: string, constants: Record<string, number> = {}): KernelDemands {
  const src = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  const env: Env = new Map();
  const aliases = new Map<string, string>();
  // Declarations in source order (later ones may use earlier ones); `override` takes the pipeline's value.
  const decl = /\b(const|override)\s+([A-Za-z_]\w*)\s*(?::\s*[\w<>]+)?\s*(?:=\s*([^;]+))?;|\balias\s+([A-Za-z_]\w*)\s*=\s*([^;]+);/g;
  for (let m = decl.exec(src); m; m = decl.exec(src)) {
    if (m[4]) {
      aliases.set(m[4], m[5].trim());
      continue;
    }
    const [, kind, name, init] = m;
    if (kind === 'override' && name in constants) env.set(name, constants[name]);
    else env.set(name, init === undefined ? undefined : evaluate(init.trim(), env));
  }
  for (const [k, v] of Object.entries(constants)) if (!env.has(k)) env.set(k, v);

  let workgroupBytes: number | undefined = 0;
  const wg = /var\s*<\s*workgroup\s*>\s*\w+\s*:\s*([^;]+);/g;
  for (let m = wg.exec(src); m; m = wg.exec(src)) {
    const l = typeLayout(m[1], env, aliases);
    if (!l || workgroupBytes === undefined) {
      workgroupBytes = undefined;
      continue;
    }
    workgroupBytes += Math.ceil(l.size / 16) * 16;
  }
  let workgroupSize: [number, number, number] | undefined;
  const ws = /@workgroup_size\s*\(([^)]*(?:\([^)]*\)[^)]*)*)\)/.exec(src);
  if (ws) {
    const dims = splitTop(ws[1]).map((x) => evaluate(x, env));
    if (dims.length >= 1 && dims.length <= 3 && dims.every((x) => x !== undefined)) {
      const d = dims as number[];
      workgroupSize = [d[0], d[1] ?? 1, d[2] ?? 1];
    }
  }
  return {
    workgroupSize,
    workgroupBytes,
    storageBuffers: (src.match(/var\s*<\s*storage\b/g) ?? []).length,
    storageTextures: (src.match(/:\s*texture_storage_\w+/g) ?? []).length,
    sampledTextures: (src.match(/:\s*texture_(?:1d|2d|2d_array|3d|cube|cube_array|multisampled_2d|depth_\w+)\s*</g) ?? []).length,
  };
}

/** Why this kernel cannot run on an adapter with these limits, or null when it fits (or cannot be told). */
export function kernelMisfit(d: KernelDemands, lim: LaunchLimits): { what: string; expected: string; got: string } | null {
  if (d.workgroupBytes !== undefined && d.workgroupBytes > lim.maxComputeWorkgroupStorageSize) {
    return {
      what: 'workgroup memory',
      expected: `at most ${lim.maxComputeWorkgroupStorageSize} bytes (maxComputeWorkgroupStorageSize)`,
      got: `${d.workgroupBytes} bytes`,
    };
  }
  if (d.workgroupSize) {
    const [x, y, z] = d.workgroupSize;
    const inv = x * y * z;
    if (inv > lim.maxComputeInvocationsPerWorkgroup) {
      return {
        what: 'invocations per workgroup',
        expected: `at most ${lim.maxComputeInvocationsPerWorkgroup} (maxComputeInvocationsPerWorkgroup)`,
        got: `${inv} (${x} x ${y} x ${z})`,
      };
    }
    if (x > lim.maxComputeWorkgroupSizeX || y > lim.maxComputeWorkgroupSizeY || z > lim.maxComputeWorkgroupSizeZ) {
      return {
        what: 'workgroup size',
        expected: `at most ${lim.maxComputeWorkgroupSizeX} x ${lim.maxComputeWorkgroupSizeY} x ${lim.maxComputeWorkgroupSizeZ}`,
        got: `${x} x ${y} x ${z}`,
      };
    }
  }
  if (d.storageBuffers > lim.maxStorageBuffersPerShaderStage) {
    return {
      what: 'storage buffers',
      expected: `at most ${lim.maxStorageBuffersPerShaderStage} per shader stage (maxStorageBuffersPerShaderStage)`,
      got: `${d.storageBuffers}`,
    };
  }
  if (d.storageTextures > lim.maxStorageTexturesPerShaderStage) {
    return {
      what: 'storage textures',
      expected: `at most ${lim.maxStorageTexturesPerShaderStage} (maxStorageTexturesPerShaderStage)`,
      got: `${d.storageTextures}`,
    };
  }
  if (d.sampledTextures > lim.maxSampledTexturesPerShaderStage) {
    return {
      what: 'sampled textures',
      expected: `at most ${lim.maxSampledTexturesPerShaderStage} (maxSampledTexturesPerShaderStage)`,
      got: `${d.sampledTextures}`,
    };
  }
  return null;
}

/** True when the kernel's source fits the limits (as far as it can be read). */
export function kernelFits(code: string, lim: LaunchLimits, constants: Record<string, number> = {}): boolean {
  return kernelMisfit(kernelDemands(code, constants), lim) === null;
}

/** Throws XpuDeviceError when the kernel cannot run on this adapter; nothing has been created yet. */
export function checkKernel(op: string, d: KernelDemands, lim: LaunchLimits): void {
  const bad = kernelMisfit(d, lim);
  if (bad) {
    throw new XpuDeviceError(`the kernel needs more ${bad.what} than this GPU adapter offers, and no other configuration fits`, {
      op,
      arg: bad.what,
      expected: bad.expected,
      got: bad.got,
    });
  }
}

/** The workgroup grid of `groups` workgroups: x up to the per-dim limit, folded into y beyond it. */
export function launchGrid(groups: number, maxPerDim: number): [number, number] {
  const x = Math.min(groups, maxPerDim);
  return [x, Math.ceil(groups / x)];
}

/**
 * The launch limits as a plain object: Dawn's GPUSupportedLimits reads each field through a native
 * getter (~0.1 us), and every launch reads several.
 */
export function launchLimitsOf(l: LaunchLimits): LaunchLimits {
  return {
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupSizeZ: l.maxComputeWorkgroupSizeZ,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxStorageTexturesPerShaderStage: l.maxStorageTexturesPerShaderStage,
    maxSampledTexturesPerShaderStage: l.maxSampledTexturesPerShaderStage,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxUniformBufferBindingSize: l.maxUniformBufferBindingSize,
  };
}

/** Checks one launch (grid, uniform block, buffer bindings) before it is recorded. */
export function checkLaunch(
  op: string,
  lim: LaunchLimits,
  groups: number,
  uniformBytes: number,
  arenaBytes: number,
  buffers: readonly { buffer: GPUBuffer; size: number; offset?: number }[],
): void {
  if (!Number.isInteger(groups) || groups < 0) {
    throw new XpuDeviceError('a kernel launch has an invalid workgroup count', {
      op,
      arg: 'workgroups',
      expected: 'a non-negative integer',
      got: String(groups),
    });
  }
  const [, y] = launchGrid(Math.max(1, groups), lim.maxComputeWorkgroupsPerDimension);
  if (y > lim.maxComputeWorkgroupsPerDimension) {
    const most = lim.maxComputeWorkgroupsPerDimension ** 2;
    throw new XpuDeviceError('the problem needs more workgroups than this GPU adapter can launch at once', {
      op,
      arg: 'workgroups',
      expected: `at most ${most} (maxComputeWorkgroupsPerDimension^2)`,
      got: String(groups),
    });
  }
  const maxUniform = Math.min(arenaBytes, lim.maxUniformBufferBindingSize);
  if (uniformBytes > maxUniform) {
    throw new XpuDeviceError('kernel parameters exceed the uniform block size', {
      op,
      arg: 'uniforms',
      expected: `at most ${maxUniform} bytes`,
      got: `${uniformBytes} bytes`,
    });
  }
  buffers.forEach((b, i) => {
    const offset = b.offset ?? 0;
    if (b.size > lim.maxStorageBufferBindingSize) {
      throw new XpuDeviceError('a tensor bound to a kernel is larger than this GPU adapter can bind', {
        op,
        arg: `binding ${i + 1}`,
        expected: `at most ${lim.maxStorageBufferBindingSize} bytes (maxStorageBufferBindingSize)`,
        got: `${b.size} bytes`,
      });
    }
    if (b.size <= 0 || b.size % 4 !== 0 || offset + b.size > b.buffer.size) {
      throw new XpuDeviceError('a kernel binding does not fit its buffer', {
        op,
        arg: `binding ${i + 1}`,
        expected: `a positive multiple of 4 bytes within the ${b.buffer.size}-byte buffer`,
        got: `${b.size} bytes at offset ${offset}`,
      });
    }
  });
}
