import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLlamaCpp, type LlamaCppPeer } from '../bench/tools/llama_cpp.js';
import { xpu } from './helpers.js';

/**
 * The SentencePiece-style tokenizer (tokenizer.ggml.model = 'llama', as Llama 2 and TinyLlama
 * use): a hand-made vocabulary whose ids are worked out by hand below; then a small BPE model
 * trained by Google's `sentencepiece` and written as a GGUF (tests/fixtures/tokenizer_spm/make.py)
 * against the ids `sentencepiece` gave, and against llama.cpp's own tokenizer on the same file
 * (node-llama-cpp, a devDependency, vocabulary-only load).
 */

const { Tokenizer, TokenType } = xpu.llm;
const FIXTURE = new URL('./fixtures/tokenizer_spm/', import.meta.url);
const GGUF = new URL('tiny_spm.gguf', FIXTURE).pathname;
const EXPECTED = JSON.parse(readFileSync(new URL('spm_expected.json', FIXTURE), 'utf8')) as {
  cases: { text: string; ids: number[]; decoded: string }[];
};

// id:          0        1      2       3         4         5     6    7    8    9     10    11     12     13     14
const TOKENS = ['<unk>', '<s>', '</s>', '<0xC3>', '<0xA9>', '▁', 'a', 'b', 'c', 'ab', 'bc', 'abc', '▁a', 'aa', '<0x20>'];
const SCORES = [0, 0, 0, 0, 0, -1, -2, -2, -2, -3, -1, -4, -5, -3, 0];
const TYPES = TOKENS.map((t, i) =>
  i === 0 ? TokenType.UNKNOWN : i < 3 ? TokenType.CONTROL : t.startsWith('<0x') ? TokenType.BYTE : TokenType.NORMAL,
);

function handVocab(addSpacePrefix?: boolean): xpu.llm.GgufVocab {
  return {
    model: 'llama',
    pre: 'default',
    tokens: TOKENS,
    tokenTypes: Int32Array.from(TYPES),
    merges: [],
    scores: Float32Array.from(SCORES),
    addSpacePrefix,
    bos: 1,
    eos: 2,
    unk: 0,
    addEos: false,
  };
}

describe('SentencePiece-style tokenizer on a hand-made vocabulary', () => {
  const tok = Tokenizer.fromVocab(handVocab());

  it('merges the highest-scoring pair first, and drops stale pairs', () => {
    // '▁abc': pairs ▁a (-5), ab (-3), bc (-1). bc merges first; then a+bc = abc (-4) beats ▁a (-5),
    // whose queued pair is stale once 'a' is part of 'abc'; ▁+abc is no token: [▁, abc].
    expect(tok.encode('abc', { addSpecial: false })).toEqual([5, 11]);
    // BOS by default (llama.cpp's default for this model type), no EOS.
    expect(tok.encode('abc')).toEqual([1, 5, 11]);
    // '▁ab': ▁a (-5) against ab (-3): [▁, ab].
    expect(tok.encode('ab', { addSpecial: false })).toEqual([5, 9]);
    // '▁a': the only pair: [▁a].
    expect(tok.encode('a', { addSpecial: false })).toEqual([12]);
  });

  it('breaks ties leftmost and can skip the space prefix', () => {
    const bare = Tokenizer.fromVocab(handVocab(false));
    expect(bare.addSpacePrefix).toBe(false);
    // 'aaa': two equal pairs aa (-3); the left one merges: [aa, a].
    expect(bare.encode('aaa', { addSpecial: false })).toEqual([13, 6]);
    // Spaces become '▁' everywhere: ' a' is '▁a'.
    expect(bare.encode(' a', { addSpecial: false })).toEqual([12]);
  });

  it('falls back to UTF-8 bytes for characters outside the vocabulary', () => {
    // 'é' is C3 A9.
    expect(tok.encode('aé', { addSpecial: false })).toEqual([12, 3, 4]);
    expect(tok.decode([12, 3, 4])).toBe('aé');
    // A stream holds the first byte of 'é' back until the second arrives.
    const d = tok.streamDecoder();
    expect([d.push(12), d.push(3), d.push(4)]).toEqual([' a', '', 'é']);
  });

  it('puts a space before each fragment that follows a special token', () => {
    // 'a<s>b' parsed for specials: '▁a', <s>, then '▁b' = [▁, b] (no '▁b' token).
    expect(tok.encode('a<s>b', { addSpecial: false, parseSpecial: true })).toEqual([12, 1, 5, 7]);
    expect(tok.encode('a<unk>', { addSpecial: false, parseSpecial: true })).toEqual([12, 0]);
    // Unparsed, '<s>' is text: every character falls back ('<', 's', '>' are no tokens and have no byte token).
    expect(() => tok.encode('<s>', { addSpecial: false })).toThrow(xpu.XpuValueError);
    expect(tok.encode('', { addSpecial: false })).toEqual([]);
    expect(tok.encode('')).toEqual([1]);
  });

  it('decodes ▁ as a space, drops the leading one once, and renders control tokens only on request', () => {
    expect(tok.decode([1, 5, 11])).toBe(' abc'); // BOS is the first token: its empty piece takes the strip
    expect(tok.decode([5, 11])).toBe('abc');
    expect(tok.decode([5, 5, 11])).toBe(' abc');
    expect(tok.decode([14, 6])).toBe('a'); // the byte token for a space is stripped too, as in llama.cpp
    expect(tok.decode([11, 2], { special: true })).toBe('abc</s>');
    expect(tok.decode([11, 0])).toBe('abc');
  });
});

describe('SentencePiece-style tokenizer on a model trained by sentencepiece', () => {
  let tok: InstanceType<typeof Tokenizer>;
  beforeAll(async () => {
    const r = await xpu.io.GgufReader.open(GGUF);
    try {
      tok = Tokenizer.fromGguf(r);
    } finally {
      await r.close();
    }
  });

  it('reads the vocabulary, scores and flags from the GGUF', () => {
    expect(tok.vocab.model).toBe('llama');
    expect(tok.size).toBe(400);
    expect(tok.vocab.scores?.length).toBe(400);
    expect([tok.bos, tok.eos, tok.addBos, tok.addEos, tok.addSpacePrefix]).toEqual([1, 2, true, false, true]);
  });

  it.each(EXPECTED.cases.map((c, i) => [i, c] as const))("text %i gives sentencepiece's ids and text back", (_i, c) => {
    expect(tok.encode(c.text, { addSpecial: false })).toEqual(c.ids);
    expect(tok.encode(c.text)).toEqual([1, ...c.ids]);
    expect(tok.decode(c.ids)).toBe(c.decoded);
  });
});

describe('SentencePiece-style tokenizer against llama.cpp (node-llama-cpp 3.21.1) on the same GGUF', () => {
  let peer: LlamaCppPeer | undefined;
  let tok: InstanceType<typeof Tokenizer>;
  beforeAll(async () => {
    peer = await openLlamaCpp(GGUF, false, { vocabOnly: true });
    const r = await xpu.io.GgufReader.open(GGUF);
    try {
      tok = Tokenizer.fromGguf(r);
    } finally {
      await r.close();
    }
  });
  afterAll(async () => {
    await peer?.dispose();
  });

  const texts = [...EXPECTED.cases.map((c) => c.text), '</s>text after an end token', 'a<s>b <unk>'];
  it.each(texts.map((t, i) => [i, t] as const))('text %i, plain and with parseSpecial, and back', (_i, text) => {
    const model = peer!.model;
    const ids = Array.from(model.tokenize(text, false));
    expect(tok.encode(text, { addSpecial: false })).toEqual(ids);
    expect(tok.encode(text, { addSpecial: false, parseSpecial: true })).toEqual(Array.from(model.tokenize(text, true)));
    expect(tok.decode(ids)).toBe(model.detokenize(ids));
    expect(tok.decode([1, ...ids])).toBe(model.detokenize([1, ...ids]));
  });
});
