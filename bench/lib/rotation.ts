/**
 * Input rotation: a benchmark cycles through several input sets so that the caches do not hold
 * the inputs between two ops and flatter the bandwidth (this machine has a 32 MiB L3).
 */
const ROTATION_BYTES = 96 * 2 ** 20;
const MAX_SETS = 8;

/** How many input sets to rotate among for an op that moves `bytesPerOp`. */
export function rotationSets(bytesPerOp: number): number {
  return Math.max(2, Math.min(MAX_SETS, Math.ceil(ROTATION_BYTES / bytesPerOp)));
}

/** How many ops one timed run records, so that a run moves enough bytes to time reliably. */
export function opsPerRun(bytesPerOp: number, targetBytes: number, maxOps = 64): number {
  return Math.max(1, Math.min(maxOps, Math.ceil(targetBytes / bytesPerOp)));
}
