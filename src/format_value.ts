/**
 * Value formatting for error messages (kept out of errors.ts, whose exports are all public API:
 * index.ts re-exports it with `export *`).
 */

/**
 * A short, printable description of any value, for error messages. It never throws: a BigInt, a
 * symbol, a cyclic or prototype-less object, a Proxy whose traps throw or an object whose
 * toString throws must not turn the error path itself into an untyped TypeError (JSON.stringify
 * throws on a BigInt and on cycles; String() and template literals throw on a symbol or an object
 * without a prototype). Accessors are never run: a getter shows as [getter].
 */
export function fmtValue(x: unknown, maxLength = 80): string {
  let text: string;
  try {
    text = formatAny(x, 0, new Set());
  } catch {
    text = typeName(x);
  }
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}

function formatAny(x: unknown, depth: number, seen: Set<object>): string {
  switch (typeof x) {
    case 'number':
      return Object.is(x, -0) ? '-0' : String(x);
    case 'bigint':
      return `${x.toString()}n`;
    case 'string':
      return JSON.stringify(x.length > 60 ? `${x.slice(0, 60)}...` : x);
    case 'boolean':
      return x ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return Symbol.prototype.toString.call(x);
    case 'function':
      return typeName(x);
  }
  if (x === null) return 'null';
  const o = x as object;
  if (seen.has(o)) return '[cycle]';
  if (depth >= 2) return typeName(o);
  seen.add(o);
  try {
    if (Array.isArray(o)) {
      const items: string[] = [];
      for (let i = 0; i < Math.min(o.length, 8); i++) items.push(formatProp(o, String(i), depth, seen));
      return `[${items.join(', ')}${o.length > 8 ? `, ... (${o.length} items)` : ''}]`;
    }
    if (ArrayBuffer.isView(o)) return typeName(o);
    const ctor = constructorName(o);
    if (ctor !== 'Object' && ctor !== undefined) return typeName(o);
    const keys = Object.keys(o);
    const items = keys.slice(0, 6).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${formatProp(o, k, depth, seen)}`);
    return `{${items.join(', ')}${keys.length > 6 ? ', ...' : ''}}`;
  } finally {
    seen.delete(o);
  }
}

function formatProp(o: object, key: string, depth: number, seen: Set<object>): string {
  const d = Object.getOwnPropertyDescriptor(o, key);
  if (!d) return 'empty';
  if (!('value' in d)) return '[getter]';
  return formatAny(d.value, depth + 1, seen);
}

/** The name of an object's class without running user code (undefined for a null prototype). */
function constructorName(o: object): string | undefined {
  const proto = Object.getPrototypeOf(o) as object | null;
  if (proto === null) return undefined;
  const d = Object.getOwnPropertyDescriptor(proto, 'constructor');
  const ctor = d && 'value' in d ? (d.value as unknown) : undefined;
  if (typeof ctor !== 'function') return 'Object';
  const n = Object.getOwnPropertyDescriptor(ctor, 'name');
  return n && typeof n.value === 'string' && n.value ? n.value : 'Object';
}

/**
 * What kind of value `x` is, as an error's `got` says it: 'null', 'undefined', 'number 3',
 * 'bigint 3n', 'string "a"', 'a plain object', 'an instance of Map', 'Array(2)'... Never throws.
 */
export function typeName(x: unknown): string {
  try {
    if (x === null) return 'null';
    switch (typeof x) {
      case 'undefined':
        return 'undefined';
      case 'function': {
        const n = Object.getOwnPropertyDescriptor(x, 'name');
        return n && typeof n.value === 'string' && n.value ? `function ${n.value}` : 'a function';
      }
      case 'object': {
        if (Array.isArray(x)) return `Array(${x.length})`;
        const ctor = constructorName(x);
        if (ctor === undefined) return 'an object with no prototype';
        return ctor === 'Object' ? 'a plain object' : `an instance of ${ctor}`;
      }
      default:
        return `${typeof x} ${formatAny(x, 0, new Set())}`;
    }
  } catch {
    return typeof x;
  }
}
