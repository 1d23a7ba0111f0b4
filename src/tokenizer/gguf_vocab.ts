import { XpuFormatError } from '../errors.js';
import type { GgufReader } from '../io/gguf_reader.js';

/**
 * The tokenizer a GGUF file carries (tokenizer.ggml.* metadata, as llama.cpp's llama-vocab.cpp
 * reads it), as plain data: nothing here tokenizes.
 */

/** llama.cpp's token types (tokenizer.ggml.token_type; enum llama_token_type). */
export const TokenType = { UNDEFINED: 0, NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface GgufVocab {
  /** tokenizer.ggml.model: 'gpt2' is byte-level BPE, 'llama' SentencePiece-style BPE. */
  model: string;
  /** tokenizer.ggml.pre: which pre-tokenizer regexes split the text before BPE. */
  pre: string;
  tokens: string[];
  /** One TokenType per token (NORMAL when the file has none). */
  tokenTypes: Int32Array;
  /** "left right" pairs, highest priority first (byte-level BPE). */
  merges: string[];
  /** tokenizer.ggml.scores: SentencePiece-style merge priorities (absent: undefined). */
  scores?: Float32Array;
  /** tokenizer.ggml.add_space_prefix: a space before the text (absent: the model type decides). */
  addSpacePrefix?: boolean;
  bos?: number;
  eos?: number;
  /** End of turn (tokenizer.ggml.eot_token_id), where a chat model has one besides EOS. */
  eot?: number;
  unk?: number;
  pad?: number;
  /** tokenizer.ggml.add_bos_token; absent: the pre-tokenizer type decides, as in llama.cpp. */
  addBos?: boolean;
  addEos: boolean;
  /** tokenizer.chat_template (Jinja), if any. */
  chatTemplate?: string;
}

export function vocabFromGguf(r: GgufReader): GgufVocab {
  const model = r.getString('tokenizer.ggml.model');
  const tokens = r.getStringArray('tokenizer.ggml.tokens');
  const n = tokens.length;
  const fail = (message: string, expected?: string, got?: string): never => {
    throw new XpuFormatError(`${r.path}: ${message}`, { op: 'vocabFromGguf', arg: 'file', expected, got });
  };
  let tokenTypes = new Int32Array(n).fill(TokenType.NORMAL);
  const tt = r.get('tokenizer.ggml.token_type');
  if (tt !== undefined) {
    const ints =
      tt instanceof Int32Array || tt instanceof Uint32Array || tt instanceof Int8Array || tt instanceof Uint8Array ? tt : undefined;
    if (!ints || ints.length !== n) {
      fail(
        'tokenizer.ggml.token_type must be an integer array with one entry per token',
        `${n} integers`,
        `${(tt as { length?: number }).length ?? typeof tt}`,
      );
    }
    tokenTypes = Int32Array.from(ints as ArrayLike<number>);
  }
  const sc = r.get('tokenizer.ggml.scores');
  if (sc !== undefined && (!(sc instanceof Float32Array || sc instanceof Float64Array) || sc.length !== n)) {
    fail(
      'tokenizer.ggml.scores must be a float array with one entry per token',
      `${n} floats`,
      `${(sc as { length?: number }).length ?? typeof sc}`,
    );
  }
  const scores = sc === undefined ? undefined : Float32Array.from(sc as ArrayLike<number>);
  const merges = r.metadata.has('tokenizer.ggml.merges') ? r.getStringArray('tokenizer.ggml.merges') : [];
  const id = (key: string): number | undefined => {
    const v = r.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= n)
      fail(`${key} is not a token id`, `an integer in [0, ${n - 1}]`, String(v));
    return v as number;
  };
  return {
    model,
    pre: r.getString('tokenizer.ggml.pre', 'default'),
    tokens,
    tokenTypes,
    merges,
    scores,
    addSpacePrefix: r.metadata.has('tokenizer.ggml.add_space_prefix') ? r.getBool('tokenizer.ggml.add_space_prefix') : undefined,
    bos: id('tokenizer.ggml.bos_token_id'),
    eos: id('tokenizer.ggml.eos_token_id'),
    eot: id('tokenizer.ggml.eot_token_id'),
    unk: id('tokenizer.ggml.unknown_token_id'),
    pad: id('tokenizer.ggml.padding_token_id'),
    addBos: r.metadata.has('tokenizer.ggml.add_bos_token') ? r.getBool('tokenizer.ggml.add_bos_token') : undefined,
    addEos: r.getBool('tokenizer.ggml.add_eos_token', false),
    chatTemplate: r.metadata.has('tokenizer.chat_template') ? r.getString('tokenizer.chat_template') : undefined,
  };
}
