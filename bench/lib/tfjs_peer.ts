/**
 * The peer: @tensorflow/tfjs-backend-webgpu on the same Dawn instance (hence the same adapter) as
 * xpu, in the same process. The runtime must be imported first: it opens Dawn, installs Dawn's
 * globals and pins the instance (see src/backends/webgpu/dawn.ts). tfjs then asks that GPU object
 * for its own adapter and device, as it would ask a browser's navigator.gpu.
 *
 * Both libraries share dawn.node's poller (setImmediate), so the runtime's poll strategy paces tfjs
 * too: tfjs rows record which strategy was active.
 */
import { createRequire } from 'node:module';
import { dawnInstance } from '../../src/backends/webgpu/dawn.js';
import type * as TF from '@tensorflow/tfjs-core';

export type Tf = typeof TF;

export interface TfjsPeer {
  tf: Tf;
  version: string;
  /** Submits tfjs's pending commands and waits until the device has run them (no read-back). */
  sync(): Promise<void>;
  /** The largest buffer tfjs's device can bind (tfjs's device limits, not xpu's). */
  maxBindingBytes: number;
  adapter: string;
  /** tfjs flags the benchmark changed, and why. */
  flags: Record<string, unknown>;
}

interface WebGpuBackendInternals {
  device: GPUDevice;
  adapterInfo?: { vendor?: string; architecture?: string };
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

const require = createRequire(import.meta.url);

/** Loads tfjs on xpu's Dawn. Returns the reason as a string when it cannot. */
export async function loadTfjsPeer(): Promise<TfjsPeer | string> {
  const gpu = dawnInstance();
  if (!gpu) return 'xpu did not open Dawn (no GPU object to share)';
  try {
    // Node 20 has no navigator; newer Node has a read-only one, hence defineProperty.
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    const tf = require('@tensorflow/tfjs-core') as Tf;
    require('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return "tf.setBackend('webgpu') returned false";
    await tf.ready();
    // tfjs runs ops on inputs still on the host (< 1000 elements) in JS; the overhead chain must
    // measure its GPU path, so that hand-off is turned off.
    const flags = { WEBGPU_CPU_FORWARD: false };
    for (const [k, v] of Object.entries(flags)) tf.env().set(k, v);
    const backend = tf.backend() as unknown as WebGpuBackendInternals;
    if (typeof backend.submitQueue !== 'function' || typeof backend.endComputePassEncoder !== 'function' || !backend.device) {
      return 'tfjs-backend-webgpu internals changed (no submitQueue/endComputePassEncoder/device)';
    }
    const info = backend.adapterInfo ?? {};
    return {
      tf,
      version: (require('@tensorflow/tfjs-backend-webgpu/package.json') as { version: string }).version,
      // What tfjs does itself before a read-back, minus the read-back: close the open pass, submit.
      sync: async () => {
        if (backend.commandEncoder) {
          backend.endComputePassEncoder();
          backend.submitQueue();
        }
        await backend.device.queue.onSubmittedWorkDone();
      },
      maxBindingBytes: backend.device.limits.maxStorageBufferBindingSize,
      adapter: `${info.vendor ?? '?'} / ${info.architecture ?? '?'}`,
      flags,
    };
  } catch (e) {
    // Outside this repo the peers are not installed (they are devDependencies): one line saying
    // what to install, not a stack trace in the report.
    const first = (e as Error).message.split('\n')[0];
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND')
      return `${first} (npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu)`;
    return `tfjs-backend-webgpu failed to load: ${first}`;
  }
}

/**
 * The tfjs-webgpu peer for a suite when --peers asks for it and xpu is measured: the peer (or
 * null), and the JSON record describing it. A load failure becomes a note, not an error.
 */
export async function peerForSuite(
  wanted: boolean,
  notes: string[],
  note: string,
): Promise<{ peer: TfjsPeer | null; peers: Record<string, unknown>[] }> {
  if (!wanted) return { peer: null, peers: [] };
  const p = await loadTfjsPeer();
  if (typeof p === 'string') {
    notes.push(`tfjs-webgpu rows skipped: ${p}`);
    return { peer: null, peers: [] };
  }
  return {
    peer: p,
    peers: [{ impl: 'tfjs-webgpu', version: p.version, adapter: p.adapter, flags: p.flags, maxBindingBytes: p.maxBindingBytes, note }],
  };
}
