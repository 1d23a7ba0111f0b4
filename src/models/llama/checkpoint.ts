import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DeviceLike } from '../../device/device.js';
import { XpuFormatError } from '../../errors.js';
import { SafetensorsReader } from '../../io/safetensors_reader.js';
import { saveSafetensors } from '../../io/safetensors_writer.js';
import { to } from '../../ops/transfer.js';
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { configFromHf, configToHf, type LlamaConfig } from './config.js';
import { LlamaForCausalLM } from './model.js';

/**
 * Hugging Face Llama checkpoints: tensor names are this model's parameter paths
 * (model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight, ..., model.norm.weight,
 * lm_head.weight), since the modules are named as in transformers' LlamaForCausalLM. q/k weights
 * are in HF's rotate-half order, which our rotary embedding uses, so nothing is permuted.
 */

/** Maps a checkpoint tensor name to a parameter path, or null for tensors a model does not load. */
export function hfLlamaParameterName(name: string): string | null {
  // Old exports carry the rotary frequencies as a buffer; we compute them from the config.
  if (/(^|\.)rotary_emb\.inv_freq$/.test(name)) return null;
  // Some exports drop the "model." prefix of the decoder (LlamaModel saved on its own).
  if (/^(embed_tokens|layers\.\d+|norm)\./.test(name)) return `model.${name}`;
  return name;
}

export interface LoadOptions {
  device?: DeviceLike;
  /** Cast weights to this dtype (default float32; BF16 files arrive as float32). */
  dtype?: DType;
}

/**
 * Builds the model for `config` and fills it from one or more safetensors files (a sharded
 * checkpoint lists several), one tensor at a time. Every parameter must be found exactly once with
 * its shape; unknown tensors are an error (a wrong architecture), a missing lm_head is fine when
 * embeddings are tied.
 */
export async function loadLlama(files: string | string[], config: LlamaConfig, options: LoadOptions = {}): Promise<LlamaForCausalLM> {
  const dtype = options.dtype ?? 'float32';
  const model = new LlamaForCausalLM(config, { device: options.device, dtype, random: false });
  const filled = new Set<string>();
  try {
    for (const file of Array.isArray(files) ? files : [files]) {
      const r = await SafetensorsReader.open(file);
      try {
        for (const name of r.names()) {
          const path = hfLlamaParameterName(name);
          if (path === null) continue;
          if (path === 'lm_head.weight' && config.tieWordEmbeddings) continue;
          const slot = model.resolveParameter(path);
          if (!slot)
            throw new XpuFormatError(`${file}: tensor '${name}' is not a parameter of this Llama config`, {
              op: 'loadLlama',
              arg: 'files',
              expected: 'Llama parameter names',
            });
          if (filled.has(path)) throw new XpuFormatError(`${file}: tensor '${name}' appears twice`, { op: 'loadLlama', arg: 'files' });
          const want = (slot.owner as unknown as Record<string, Tensor>)[slot.name].shape;
          const info = r.info(name);
          if (info.shape.join(',') !== want.join(',')) {
            throw new XpuFormatError(`${file}: tensor '${name}' has the wrong shape for the config`, {
              op: 'loadLlama',
              arg: 'files',
              expected: `[${want.join(', ')}]`,
              got: `[${info.shape.join(', ')}]`,
            });
          }
          const loaded = await r.tensor(name, { device: options.device });
          const cast = loaded.dtype === dtype ? loaded : to(loaded, dtype);
          if (cast !== loaded) loaded.dispose();
          (slot.owner as unknown as Record<string, Tensor>)[slot.name].dispose();
          slot.owner.setParameter(slot.name, cast);
          filled.add(path);
        }
      } finally {
        await r.close();
      }
    }
    const missing = [...model.namedParameters()]
      .map(([n]) => n)
      .filter((n) => !filled.has(n) && !(n === 'lm_head.weight' && config.tieWordEmbeddings));
    if (missing.length)
      throw new XpuFormatError(`checkpoint is missing ${missing.length} parameter(s)`, {
        op: 'loadLlama',
        arg: 'files',
        expected: 'every parameter',
        got: `missing ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''}`,
      });
    if (config.tieWordEmbeddings) model.tieWeights();
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Loads an HF model directory's config.json and its model.safetensors (or the shards of its index). */
export async function loadLlamaDirectory(dir: string, options: LoadOptions = {}): Promise<LlamaForCausalLM> {
  const config = configFromHf(JSON.parse(await readFile(`${dir}/config.json`, 'utf8')));
  let files = [`${dir}/model.safetensors`];
  try {
    const index = JSON.parse(await readFile(`${dir}/model.safetensors.index.json`, 'utf8')) as { weight_map: Record<string, string> };
    files = [...new Set(Object.values(index.weight_map))].map((f) => `${dir}/${f}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return loadLlama(files, config, options);
}

/**
 * Saves the model as Hugging Face does (save_pretrained): weights under HF names (tied lm_head
 * left out, the config also in the file's metadata) and config.json beside them, so
 * loadLlamaDirectory reads it back. `path` is the .safetensors file (config.json goes in its
 * directory: one model per directory, as in HF) or a directory (written as dir/model.safetensors).
 */
export async function saveLlama(model: LlamaForCausalLM, path: string): Promise<void> {
  const file = path.endsWith('.safetensors') ? path : join(path, 'model.safetensors');
  await mkdir(dirname(file), { recursive: true });
  const state = model.stateDict();
  await saveSafetensors(file, state, { format: 'pt', xpu_llama_config: JSON.stringify(model.config) });
  const dtype = state.values().next().value?.dtype ?? 'float32';
  await writeFile(join(dirname(file), 'config.json'), JSON.stringify(configToHf(model.config, dtype), null, 2) + '\n');
}
