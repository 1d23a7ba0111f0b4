import type { Backend } from '../backends/backend.js';

export type DeviceType = 'cpu' | 'xpu';

/** A place tensors live: `cpu`, or `xpu:N` (a WebGPU adapter reached through Dawn). */
export class Device {
  constructor(
    readonly type: DeviceType,
    readonly index: number,
    /** @internal */ readonly backend: Backend,
  ) {}

  toString(): string {
    return this.type === 'cpu' ? 'cpu' : `${this.type}:${this.index}`;
  }

  equals(other: Device): boolean {
    return this === other || (this.type === other.type && this.index === other.index);
  }
}

/** A device by name: 'cpu', 'xpu' (the current xpu device) or 'xpu:N'. */
export type DeviceString = 'cpu' | 'xpu' | `xpu:${number}`;

/** What APIs accept for a device: a Device, 'cpu', 'xpu' or 'xpu:0'. */
export type DeviceLike = Device | DeviceString;
