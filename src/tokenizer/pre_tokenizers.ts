import { XpuValueError } from '../errors.js';

/**
 * tokenizer.ggml.pre names a set of regexes that split text into words before BPE. llama.cpp
 * (llama-vocab.cpp, the `regex_exprs` per pre type) applies them in sequence: each regex splits
 * every piece the previous ones left, matched and unmatched parts both kept. Expressed here as
 * Hugging Face tokenizer.json pre-tokenizers: a `Split` (behavior Isolated) per regex, and the
 * GPT-2 regex as ByteLevel's own (identical to llama.cpp's last expression for these types).
 * Only the families below are mapped; another name is refused rather than tokenized differently.
 */

const LLAMA3_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });

interface PreConfig {
  preTokenizer: object;
  /** BPE `ignore_merges`: a word already in the vocabulary is one token (llama.cpp sets it for llama3). */
  ignoreMerges: boolean;
  /** llama.cpp's add_bos default for this type (the GGUF key, when present, wins). */
  addBos: boolean;
}

const FAMILIES: { names: string[]; config: PreConfig }[] = [
  {
    // Digits one by one (\p{N}), then GPT-2's regex.
    names: ['smollm', 'starcoder', 'refact', 'command-r', 'codeshell', 'exaone', 'minerva-7b'],
    config: { preTokenizer: { type: 'Sequence', pretokenizers: [split('\\p{N}'), byteLevel(true)] }, ignoreMerges: false, addBos: false },
  },
  {
    names: ['gpt-2', 'phi-2', 'mpt', 'olmo', 'jais', 'exaone4', 'roberta-bpe'],
    config: { preTokenizer: byteLevel(true), ignoreMerges: false, addBos: false },
  },
  {
    names: ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'pixtral'],
    config: {
      preTokenizer: { type: 'Sequence', pretokenizers: [split(LLAMA3_REGEX), byteLevel(false)] },
      ignoreMerges: true,
      addBos: true,
    },
  },
  {
    names: ['qwen2', 'deepseek-r1-qwen', 'stablelm2', 'megrez'],
    config: {
      preTokenizer: { type: 'Sequence', pretokenizers: [split(QWEN2_REGEX), byteLevel(false)] },
      ignoreMerges: false,
      addBos: false,
    },
  },
];

export const SUPPORTED_PRE_TOKENIZERS: readonly string[] = FAMILIES.flatMap((f) => f.names);

export function preTokenizerFor(pre: string): PreConfig {
  const f = FAMILIES.find((x) => x.names.includes(pre));
  if (!f)
    throw new XpuValueError('this GGUF pre-tokenizer is not supported yet', {
      op: 'Tokenizer.fromGguf',
      arg: 'tokenizer.ggml.pre',
      expected: SUPPORTED_PRE_TOKENIZERS.join(', '),
      got: pre,
    });
  return f.config;
}
