/** What a scope tracks (a Tensor): an interface here, so that tensor.ts, which registers tensors, is not imported back. */
export interface Scoped {
  dispose(): void;
}
type Tensor = Scoped;

/**
 * Scopes free intermediate tensors, like tfjs's tidy(): every tensor made while `fn` runs is
 * disposed when it returns, except the tensors in its return value, which move to the outer scope.
 */
const stack: Set<Tensor>[] = [];

export function trackInScope(t: Tensor): void {
  if (stack.length) stack[stack.length - 1].add(t);
}

/** Keeps a tensor alive past the scope it was made in. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen: Set<unknown>, isTensor: (x: unknown) => x is Tensor): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  const items = value instanceof Map ? [...value.values()] : Array.isArray(value) ? value : Object.values(value);
  for (const v of items) collect(v, out, seen, isTensor);
}

export function runScope<R>(fn: () => R, isTensor: (x: unknown) => x is Tensor): R {
  const made = new Set<Tensor>();
  stack.push(made);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of made) t.dispose();
    throw e;
  }
  stack.pop();
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    for (const t of made) t.dispose();
    throw new TypeError(
      'scope(): fn returned a Promise; scopes are synchronous (tensors made after an await would escape). Await outside the scope.',
    );
  }
  const kept = new Set<Tensor>();
  collect(result, kept, new Set(), isTensor);
  const parent = stack[stack.length - 1];
  for (const t of made) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}
