import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { XpuIndexError, XpuValueError } from '../errors.js';
import type { GgufReader } from '../io/gguf_reader.js';
import { byteLevelToBytes } from './byte_level.js';
import { TokenType, vocabFromGguf, type GgufVocab } from './gguf_vocab.js';
import { preTokenizerFor } from './pre_tokenizers.js';
import { byteTokenValue, SpmEncoder } from './spm.js';

export interface EncodeOptions {
  /** Add BOS / EOS where the vocabulary asks for them (tokenizer.ggml.add_bos_token...). Default true. */
  addSpecial?: boolean;
  /**
   * Turn the text of control tokens ('<|im_start|>') into those tokens. Default false, so user
   * text cannot inject control tokens; a rendered chat template is encoded with true.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control tokens as their text (default false: they decode to nothing, as in llama.cpp). */
  special?: boolean;
}

/**
 * A GGUF vocabulary's tokenizer, behaving as llama.cpp's for it: special tokens are split out of
 * the text first (each, longest first, over the fragments left: llama.cpp's
 * tokenizer_st_partition), then every text fragment is tokenized by the file's model:
 * - 'gpt2' (SmolLM2, Llama 3, Qwen2): the pre-tokenizer regexes and byte-level BPE, which is
 *   @huggingface/tokenizers fed a tokenizer.json built from the GGUF's tokens and merges;
 * - 'llama' (Llama 2, TinyLlama, Mistral): SentencePiece-style BPE on the token scores with byte
 *   fallback (spm.ts); spaces are written '▁', and a space goes before the first fragment and
 *   before each one that follows a special token (add_space_prefix), as llama.cpp does.
 * Decoding is done here, on bytes (so a stream never splits a UTF-8 character; see StreamDecoder).
 */
export class Tokenizer {
  readonly vocab: GgufVocab;
  readonly bos?: number;
  readonly eos?: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** SentencePiece-style only: a space before the text, and none at the start of decode(). */
  readonly addSpacePrefix: boolean;
  readonly #hf?: HfTokenizer;
  readonly #spm?: SpmEncoder;
  readonly #ids = new Map<string, number>();
  /** Control and user-defined tokens, longest text first (the partition order). */
  readonly #specials: { id: number; text: string; control: boolean }[];
  readonly #pieces: (Uint8Array | undefined)[];
  readonly #eog: Set<number>;

  private constructor(vocab: GgufVocab) {
    if (vocab.model !== 'gpt2' && vocab.model !== 'llama') {
      throw new XpuValueError('only byte-level BPE (gpt2) and SentencePiece-style (llama) GGUF tokenizers are supported', {
        op: 'Tokenizer.fromGguf',
        arg: 'tokenizer.ggml.model',
        expected: "'gpt2' or 'llama'",
        got: `'${vocab.model}'`,
      });
    }
    const spm = vocab.model === 'llama';
    this.vocab = vocab;
    this.bos = vocab.bos;
    this.eos = vocab.eos;
    this.addEos = vocab.addEos;
    this.addSpacePrefix = spm && (vocab.addSpacePrefix ?? true);
    vocab.tokens.forEach((t, i) => this.#ids.set(t, i)); // later duplicates win, as in llama.cpp
    this.#specials = vocab.tokens
      // An unknown token's text ('<unk>') is parsed like a control token's, as llama.cpp does.
      .map((text, id) => ({
        id,
        text,
        control: vocab.tokenTypes[id] === TokenType.CONTROL || vocab.tokenTypes[id] === TokenType.UNKNOWN,
        user: vocab.tokenTypes[id] === TokenType.USER_DEFINED,
      }))
      .filter((s) => (s.control || s.user) && s.text.length > 0)
      .sort((a, b) => b.text.length - a.text.length || a.id - b.id)
      .map(({ id, text, control }) => ({ id, text, control }));
    this.#pieces = new Array(vocab.tokens.length);
    // llama.cpp also ends generation at control tokens whose text marks an end of turn, when the
    // file names only EOS (SmolLM2: EOS is <|im_end|>, and <|endoftext|> ends too).
    this.#eog = new Set([vocab.eos, vocab.eot].filter((x): x is number => x !== undefined));
    vocab.tokens.forEach((t, i) => {
      if (vocab.tokenTypes[i] === TokenType.CONTROL && EOG_TEXTS.has(t)) this.#eog.add(i);
    });
    if (spm) {
      // llama.cpp's defaults for this model type: BOS yes; a file without scores scores every token 0.
      this.addBos = vocab.addBos ?? true;
      this.#spm = new SpmEncoder(this.#ids, vocab.scores ?? new Float32Array(vocab.tokens.length));
      return;
    }
    const pre = preTokenizerFor(vocab.pre);
    this.addBos = vocab.addBos ?? pre.addBos;
    this.#hf = new HfTokenizer(
      {
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: [],
        normalizer: null,
        pre_tokenizer: pre.preTokenizer,
        post_processor: null,
        decoder: null,
        model: {
          type: 'BPE',
          dropout: null,
          unk_token: null,
          continuing_subword_prefix: null,
          end_of_word_suffix: null,
          fuse_unk: false,
          byte_fallback: false,
          ignore_merges: pre.ignoreMerges,
          // fromEntries keeps a token such as '__proto__' an ordinary key.
          vocab: Object.fromEntries(vocab.tokens.map((t, i) => [t, i])),
          merges: vocab.merges.map(splitMerge),
        },
      },
      { clean_up_tokenization_spaces: false },
    );
  }

  static fromGguf(r: GgufReader): Tokenizer {
    return new Tokenizer(vocabFromGguf(r));
  }

  static fromVocab(v: GgufVocab): Tokenizer {
    return new Tokenizer(v);
  }

  get size(): number {
    return this.vocab.tokens.length;
  }

  /** End-of-generation tokens: EOS, end-of-turn, and control tokens named like them. */
  isEog(id: number): boolean {
    return this.#eog.has(id);
  }

  get eogIds(): number[] {
    return [...this.#eog].sort((a, b) => a - b);
  }

  tokenToId(token: string): number | undefined {
    return this.#ids.get(token);
  }

  idToToken(id: number): string {
    this.#check(id);
    return this.vocab.tokens[id];
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string')
      throw new XpuValueError('text must be a string', { op: 'Tokenizer.encode', arg: 'text', expected: 'a string', got: typeof text });
    const addSpecial = options.addSpecial ?? true;
    const out: number[] = [];
    if (addSpecial && this.addBos && this.bos !== undefined) out.push(this.bos);
    let afterSpecial = true; // SentencePiece-style: the start counts as after a special token
    for (const frag of this.#partition(text, options.parseSpecial ?? false)) {
      if (typeof frag === 'number') {
        out.push(frag);
        afterSpecial = true;
      } else if (this.#spm) {
        if (frag.length === 0) continue;
        this.#spm.encode(((this.addSpacePrefix && afterSpecial ? ' ' : '') + frag).replaceAll(' ', '\u2581'), out);
        afterSpecial = false;
      } else {
        out.push(...this.#hf!.encode(frag, { add_special_tokens: false }).ids);
      }
    }
    if (addSpecial && this.addEos && this.eos !== undefined) out.push(this.eos);
    return out;
  }

  /** Splits special-token text out of `text`: strings are raw text, numbers token ids. */
  #partition(text: string, parseSpecial: boolean): (string | number)[] {
    let frags: (string | number)[] = [text];
    for (const s of this.#specials) {
      if (s.control && !parseSpecial) continue;
      const next: (string | number)[] = [];
      for (const f of frags) {
        if (typeof f === 'number' || !f.includes(s.text)) {
          next.push(f);
          continue;
        }
        let at = 0;
        for (let hit = f.indexOf(s.text); hit >= 0; hit = f.indexOf(s.text, at)) {
          if (hit > at) next.push(f.slice(at, hit));
          next.push(s.id);
          at = hit + s.text.length;
        }
        if (at < f.length) next.push(f.slice(at));
      }
      frags = next;
    }
    return frags;
  }

  #check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.size)
      throw new XpuIndexError('token id out of range', {
        op: 'Tokenizer',
        arg: 'id',
        expected: `an integer in [0, ${this.size - 1}]`,
        got: String(id),
      });
  }

  /**
   * The bytes token `id` stands for, as llama.cpp's token_to_piece: normal tokens through the
   * byte-level alphabet (SentencePiece-style: their text with '▁' as a space), user-defined
   * tokens as their text, control and unknown tokens as their text only with `special` (else
   * nothing), byte tokens '<0xXX>' their byte (SentencePiece-style), unused tokens nothing.
   */
  tokenBytes(id: number, special = false): Uint8Array {
    this.#check(id);
    const type = this.vocab.tokenTypes[id];
    if (type === TokenType.CONTROL || type === TokenType.UNKNOWN)
      return special ? new TextEncoder().encode(this.vocab.tokens[id]) : new Uint8Array(0);
    if (type === TokenType.USER_DEFINED) return new TextEncoder().encode(this.vocab.tokens[id]);
    if (this.#spm && type === TokenType.BYTE) {
      const b = byteTokenValue(this.vocab.tokens[id]);
      return b === undefined ? new Uint8Array(0) : Uint8Array.of(b);
    }
    if (type !== TokenType.NORMAL && type !== TokenType.UNDEFINED) return new Uint8Array(0);
    if (this.#spm) return (this.#pieces[id] ??= new TextEncoder().encode(this.vocab.tokens[id].replaceAll('\u2581', ' ')));
    return (this.#pieces[id] ??= byteLevelToBytes(this.vocab.tokens[id]));
  }

  /**
   * Text of a whole sequence (invalid UTF-8 becomes U+FFFD). SentencePiece-style vocabularies
   * drop one leading space of the first token (the space encode() put before the text), as
   * llama.cpp's detokenize; a streamDecoder(), which continues a prompt, keeps it.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const d = this.streamDecoder(options);
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const piece = d.push(ids[i]);
      s += i === 0 && this.addSpacePrefix && piece.startsWith(' ') ? piece.slice(1) : piece;
    }
    return s + d.flush();
  }

  /** A decoder for tokens arriving one by one that only ever emits whole characters. */
  streamDecoder(options: DecodeOptions = {}): StreamDecoder {
    return new StreamDecoder(this, options.special ?? false);
  }
}

/** Control-token texts that end a turn (the ones llama.cpp's vocab loader treats as EOG). */
const EOG_TEXTS = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '<|end_of_text|>',
  '<｜end▁of▁sentence｜>',
]);

/** "left right" -> [left, right], split at the first space after the first character (llama.cpp). */
function splitMerge(m: string): [string, string] {
  const at = m.indexOf(' ', 1);
  return at < 0 ? [m, ''] : [m.slice(0, at), m.slice(at + 1)];
}

/**
 * Streaming detokenisation: bytes of each token go through one TextDecoder in stream mode, which
 * holds back an incomplete UTF-8 sequence until the token that completes it arrives (an emoji
 * split over 3 byte tokens is emitted once, whole). flush() ends the stream; bytes still pending
 * then are invalid and become U+FFFD.
 */
export class StreamDecoder {
  readonly #utf8 = new TextDecoder('utf-8');
  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly special: boolean,
  ) {}

  push(id: number): string {
    return this.#utf8.decode(this.tokenizer.tokenBytes(id, this.special), { stream: true });
  }

  flush(): string {
    return this.#utf8.decode();
  }
}
