import type { DeviceType } from '../device/device.js';
import { Tensor } from '../tensor/tensor.js';
import { checkSameDevice } from './common.js';
import { to, toAsync } from './transfer.js';

/**
 * The escape hatch for an op that is not made of the backend primitives (a whole algorithm one
 * device runs its own way: a solver, a library call, a kernel only one backend has), after
 * jax-js's routines. A routine has a cpu implementation, which always exists and is the
 * reference, and optional implementations per accelerator. An accelerator's implementation may
 * decline a call (a dtype, a size, an adapter it does not handle) by returning decline(reason);
 * a declined or absent implementation runs the cpu one on host copies of the inputs and moves
 * the result back, with a warning (code XPU_ROUTINE_FALLBACK) once per routine, device and
 * reason. The read-back is why a routine is async.
 */
export interface Routine<In extends readonly Tensor[], Options, Out extends Tensor | readonly Tensor[]> {
  /** The op's name, in errors and in the fallback's warning. */
  name: string;
  /** The reference implementation; its inputs are on cpu and its result must be too. */
  cpu: (inputs: In, options: Options) => Out | Promise<Out>;
  /** Implementations per accelerator; each gets inputs on its device and may decline. */
  devices?: Partial<Record<Exclude<DeviceType, 'cpu'>, (inputs: In, options: Options) => Out | Declined | Promise<Out | Declined>>>;
}

/** An accelerator implementation's answer when it does not run a call; `reason` is shown to the user. */
export interface Declined {
  readonly declined: string;
}

export const decline = (reason: string): Declined => ({ declined: reason });

const isDeclined = (x: unknown): x is Declined => typeof x === 'object' && x !== null && !(x instanceof Tensor) && 'declined' in x;

const warned = new Set<string>();

function warnFallback(name: string, device: string, reason: string): void {
  const key = `${name}|${device}|${reason}`;
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(`xpu: ${name} ran on cpu instead of ${device} (${reason}); its inputs were copied to the host and its result back`, {
    code: 'XPU_ROUTINE_FALLBACK',
  });
}

/** The routine as an op: `await op([a, b], options)` runs on the inputs' device, or falls back to cpu. */
export function defineRoutine<In extends readonly Tensor[], Options, Out extends Tensor | readonly Tensor[]>(
  routine: Routine<In, Options, Out>,
): (inputs: In, options: Options) => Promise<Out> {
  return async (inputs, options) => {
    const device = checkSameDevice(routine.name, inputs);
    if (device.type === 'cpu') return routine.cpu(inputs, options);
    const impl = routine.devices?.[device.type];
    const result = impl ? await impl(inputs, options) : decline(`no ${device.type} implementation`);
    if (!isDeclined(result)) return result;
    warnFallback(routine.name, device.type, result.declined);
    const host = (await Promise.all(inputs.map((t) => toAsync(t, 'cpu')))) as unknown as In;
    const out = await routine.cpu(host, options);
    const moved = (Array.isArray(out) ? out.map((t: Tensor) => to(t, device)) : to(out as Tensor, device)) as Out;
    const keep = new Set<Tensor>(Array.isArray(out) ? out : [out as Tensor]);
    for (const t of host) if (!keep.has(t)) t.dispose();
    for (const t of keep) t.dispose();
    return moved;
  };
}
