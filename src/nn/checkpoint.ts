import { loadSafetensors } from '../io/safetensors_reader.js';
import { saveSafetensors } from '../io/safetensors_writer.js';
import { isTensor } from '../tensor/tensor.js';
import type { Module } from './module.js';

/**
 * Checkpoints as safetensors files: a module's Tensor parameters under their dotted names (the
 * module's stateDict()), so a checkpoint of an HF-named model (Llama) is an HF checkpoint.
 * `trainableOnly` saves / loads only the parameters that require gradients (a LoRA adapter
 * without its frozen base). Quantized parameters are not saved.
 */
export async function saveCheckpoint(
  module: Module,
  path: string,
  options: { trainableOnly?: boolean; metadata?: Record<string, string> } = {},
): Promise<void> {
  await saveSafetensors(path, module.stateDict({ trainableOnly: options.trainableOnly }), options.metadata);
}

/**
 * Loads a checkpoint written by saveCheckpoint (or any safetensors file with the module's names)
 * into the module's parameters, in place, on their device. strict as Module.loadStateDict.
 */
export async function loadCheckpoint(
  module: Module,
  path: string,
  options: { strict?: boolean; trainableOnly?: boolean } = {},
): Promise<{ missingKeys: string[]; unexpectedKeys: string[]; metadata: Record<string, string> }> {
  let device;
  for (const [, p] of module.namedParameters()) {
    if (isTensor(p)) {
      device = p.device;
      break;
    }
  }
  const { tensors, metadata } = await loadSafetensors(path, { device });
  try {
    return { ...module.loadStateDict(tensors, options), metadata };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
