import { isGradEnabled } from '../autograd/grad_mode.js';
import { Tensor } from '../tensor/tensor.js';

/**
 * A call's signature: what a captured graph depends on besides the input values. Per tensor
 * argument its device, dtype, shape, strides, offset and which earlier argument shares its storage
 * (a graph reads storages by identity); every other argument by value (numbers, strings, booleans,
 * arrays and plain objects of them) or, for functions and class instances (a module, a cache), by
 * identity. Tensors are found anywhere in arrays and plain objects, in order. Grad mode is part of
 * it: a recording made under noGrad() must not answer a call that should build autograd's graph.
 */

export interface Signature {
  key: string;
  tensors: Tensor[];
  /** Whether any tensor argument requires grad (autograd is not captured). */
  requiresGrad: boolean;
}

const ids = new WeakMap<object, number>();
let nextId = 0;

function identity(x: object): number {
  let id = ids.get(x);
  if (id === undefined) ids.set(x, (id = ++nextId));
  return id;
}

export function signatureOf(args: readonly unknown[], op: string): Signature {
  const tensors: Tensor[] = [];
  const storages = new Map<unknown, number>();
  let requiresGrad = false;
  const parts: string[] = [];
  const walk = (x: unknown, depth: number): void => {
    if (x instanceof Tensor) {
      x.check(op, `argument ${tensors.length}`);
      const alias = storages.get(x.ref.storage) ?? -1;
      if (alias < 0) storages.set(x.ref.storage, tensors.length);
      tensors.push(x);
      if (x.requiresGrad) requiresGrad = true;
      parts.push(`T${x.device}|${x.dtype}|${x.shape.join(',')}|${x.strides.join(',')}|${x.offset}|${alias}${x.requiresGrad ? '|g' : ''}`);
      return;
    }
    switch (typeof x) {
      case 'number':
        parts.push(`n${Object.is(x, -0) ? '-0' : String(x)}`);
        return;
      case 'string':
        parts.push(`s${JSON.stringify(x)}`);
        return;
      case 'boolean':
      case 'undefined':
      case 'bigint':
        parts.push(`${(typeof x)[0]}${String(x)}`);
        return;
      case 'symbol':
      case 'function':
        parts.push(`o${identity(x as object)}`);
        return;
    }
    if (x === null) {
      parts.push('null');
      return;
    }
    const proto = Object.getPrototypeOf(x);
    if (depth < 8 && Array.isArray(x)) {
      parts.push('[');
      for (const v of x) walk(v, depth + 1);
      parts.push(']');
    } else if (depth < 8 && (proto === Object.prototype || proto === null)) {
      parts.push('{');
      for (const k of Object.keys(x as object)) {
        parts.push(JSON.stringify(k));
        walk((x as Record<string, unknown>)[k], depth + 1);
      }
      parts.push('}');
    } else parts.push(`o${identity(x as object)}`);
  };
  args.forEach((a) => walk(a, 0));
  parts.push(isGradEnabled() ? 'grad' : 'nograd');
  return { key: parts.join(' '), tensors, requiresGrad };
}
