import type { Backend, Storage } from '../backends/backend.js';
import type { Device } from '../device/device.js';
import type { DType, HostArray } from '../tensor/dtype.js';

/**
 * What xpu.compile captures: the backend primitive calls one run of a function made, in order,
 * with every storage they read named by a value id instead of the storage itself. Values are the
 * function's input tensors' storages (ids 0..numInputs-1) and the outputs of steps; a storage a
 * step reads that is neither (a weight the function closes over) stays in the spec as it is.
 */

/** A backend primitive that takes one spec and returns a fresh storage. */
export type SpecPrimitive = 'map' | 'reduce' | 'rows' | 'matmul' | 'qmatmul' | 'attention' | 'scan' | 'sort' | 'scatter';

export const SPEC_PRIMITIVES: readonly SpecPrimitive[] = [
  'map',
  'reduce',
  'rows',
  'matmul',
  'qmatmul',
  'attention',
  'scan',
  'sort',
  'scatter',
];

/** Where a value's storage goes in a step's spec: parent[key] = storage. */
export interface Patch {
  parent: Record<string | number, unknown>;
  key: string | number;
  value: number;
}

interface StepBase {
  device: Device;
  backend: Backend;
  /** Value ids read (for liveness); patches name where they go. */
  reads: number[];
}

/** A primitive with a spec: the spec is a private deep copy whose storage fields are patched per replay. */
export interface SpecStep extends StepBase {
  kind: SpecPrimitive;
  spec: Record<string, unknown>;
  patches: Patch[];
  out: number;
}

/** A host array uploaded inside the function (xpu.tensor([...]) in its body): uploaded again per replay. */
export interface UploadStep extends StepBase {
  kind: 'upload';
  dtype: DType;
  data: HostArray;
  op: string;
  out: number;
}

export interface AllocStep extends StepBase {
  kind: 'alloc';
  dtype: DType;
  numel: number;
  op: string;
  out: number;
}

/** An in-place byte copy (copyInto): writes into dst, makes no value. */
export interface CopyStep extends StepBase {
  kind: 'copyBytes';
  src: number | Storage;
  srcByte: number;
  dst: number | Storage;
  dstByte: number;
  bytes: number;
}

export type Step = SpecStep | UploadStep | AllocStep | CopyStep;

/** An output tensor of the function: a view (shape, strides, offset) of a value's storage. */
export interface OutputTensor {
  value: number;
  shape: number[];
  strides: number[];
  offset: number;
  dtype: DType;
  device: Device;
}

/** The function's return value with tensors replaced by output slots. */
export type OutputTemplate =
  | { kind: 'tensor'; slot: number }
  | { kind: 'array'; items: OutputTemplate[] }
  | { kind: 'object'; entries: [string, OutputTemplate][] }
  | { kind: 'static'; value: unknown };

export interface Graph {
  numInputs: number;
  numValues: number;
  steps: Step[];
  outputs: OutputTensor[];
  template: OutputTemplate;
  /** How many primitive calls the capture recorded (before fusion), for stats. */
  capturedOps: number;
}
