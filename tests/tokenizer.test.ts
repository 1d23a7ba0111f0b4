import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { xpu } from './helpers.js';
import { requireModel, runModelTests } from './model_files.js';

/**
 * The GGUF tokenizer: a hand-made byte-level vocabulary (special-token partition, merges, byte
 * decoding, streaming), then SmolLM2's real one against ids from Hugging Face's Rust tokenizers
 * built from the same vocabulary (tests/fixtures/tokenizer/make_expected.py), round trips, and
 * the chat template.
 */

const { Tokenizer, TokenType } = xpu.llm;

/** GPT-2's byte -> char table, written out independently of src/tokenizer/byte_level.ts. */
function byteChars(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let n = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(keep(b) ? b : 256 + n++));
}

function toyVocab(pre = 'smollm'): xpu.llm.GgufVocab {
  const bytes = byteChars();
  const tokens = [
    '<|endoftext|>',
    '<|im_start|>',
    '<|im_end|>',
    '<tool>',
    ...bytes,
    'he',
    'hel',
    'hell',
    'hello',
    'Ġw',
    'Ġwo',
    'Ġwor',
    'Ġworl',
    'Ġworld',
    '<|im_start|>x',
  ];
  const types = tokens.map((t, i) => (i < 3 ? TokenType.CONTROL : i === 3 ? TokenType.USER_DEFINED : TokenType.NORMAL));
  return {
    model: 'gpt2',
    pre,
    tokens,
    tokenTypes: Int32Array.from(types),
    merges: ['h e', 'he l', 'hel l', 'hell o', 'Ġ w', 'Ġw o', 'Ġwo r', 'Ġwor l', 'Ġworl d'],
    bos: 0,
    eos: 2,
    addEos: false,
  };
}

describe('Tokenizer on a hand-made byte-level vocabulary', () => {
  const tok = Tokenizer.fromVocab(toyVocab());
  const id = (t: string) => tok.tokenToId(t)!;

  it('applies merges in rank order and falls back to single bytes', () => {
    expect(tok.encode('hello world')).toEqual([id('hello'), id('Ġworld')]);
    expect(tok.encode('help')).toEqual([id('hel'), id('p')]);
    // Digits are split one by one before BPE (the smollm pre-tokenizer).
    expect(tok.encode('42')).toEqual([id('4'), id('2')]);
    // Non-ASCII text becomes its UTF-8 bytes, each its byte-level char.
    expect(tok.encode('é')).toEqual([id('Ã'), id('©')]);
  });

  it('splits control tokens out only with parseSpecial, user-defined ones always', () => {
    const text = '<|im_start|>hello<tool><|im_end|>';
    expect(tok.encode(text, { parseSpecial: true })).toEqual([1, id('hello'), 3, 2]);
    const plain = tok.encode(text);
    expect(plain).not.toContain(1);
    expect(plain).not.toContain(2);
    expect(plain).toContain(3);
    expect(tok.decode(plain)).toBe(text);
  });

  it('partitions the longest special text first, as llama.cpp does', () => {
    // Make '<|im_start|>x' a control token: longer, and containing '<|im_start|>'.
    const v = toyVocab();
    const last = v.tokens.length - 1;
    v.tokenTypes[last] = TokenType.CONTROL;
    expect(Tokenizer.fromVocab(v).encode('<|im_start|>x<|im_start|>', { parseSpecial: true })).toEqual([last, 1]);
  });

  it('adds BOS/EOS only where the vocabulary asks, and only with addSpecial', () => {
    expect(tok.addBos).toBe(false);
    const withBos = Tokenizer.fromVocab({ ...toyVocab(), addBos: true, addEos: true });
    expect(withBos.encode('he')).toEqual([0, id('he'), 2]);
    expect(withBos.encode('he', { addSpecial: false })).toEqual([id('he')]);
    // llama3-style pre-tokenizers add BOS by default when the key is absent.
    expect(Tokenizer.fromVocab(toyVocab('llama-bpe')).addBos).toBe(true);
  });

  it('decodes control tokens to nothing unless asked, and knows end-of-generation ids', () => {
    expect(tok.decode([1, id('hello'), 2])).toBe('hello');
    expect(tok.decode([1, id('hello'), 2], { special: true })).toBe('<|im_start|>hello<|im_end|>');
    expect(tok.isEog(2)).toBe(true);
    expect(tok.isEog(0)).toBe(true); // <|endoftext|>
    expect(tok.isEog(1)).toBe(false);
  });

  it('streams whole characters only, even when a character spans several tokens', () => {
    const text = 'a🙂é日';
    const ids = tok.encode(text);
    expect(ids.length).toBe(1 + 4 + 2 + 3);
    const d = tok.streamDecoder();
    const pieces = ids.map((i) => d.push(i));
    pieces.push(d.flush());
    expect(pieces.join('')).toBe(text);
    expect(pieces.filter((p) => p !== '')).toEqual(['a', '🙂', 'é', '日']);
    // A stream cut inside a character ends in one replacement character, never a broken string.
    const cut = tok.streamDecoder();
    expect(
      ids
        .slice(0, 3)
        .map((i) => cut.push(i))
        .join('') + cut.flush(),
    ).toBe('a\ufffd');
  });

  it('refuses what it cannot tokenize faithfully, with typed errors', () => {
    expect(() => Tokenizer.fromVocab({ ...toyVocab(), model: 'bert' })).toThrow(xpu.XpuValueError);
    expect(() => Tokenizer.fromVocab(toyVocab('some-new-pre'))).toThrow(xpu.XpuValueError);
    expect(() => tok.decode([tok.size])).toThrow(xpu.XpuIndexError);
  });
});

describe('chat templates (@huggingface/jinja)', () => {
  it('renders a template with messages and the generation prompt', () => {
    const t = '{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}';
    expect(xpu.llm.renderChatTemplate(t, [{ role: 'user', content: 'hi' }])).toBe('<user>hi</s><assistant>');
    expect(xpu.llm.renderChatTemplate(t, [{ role: 'user', content: 'hi' }], { addGenerationPrompt: false })).toBe('<user>hi</s>');
    expect(() => xpu.llm.renderChatTemplate('{% for %}', [])).toThrow(xpu.XpuValueError);
  });
});

describe.runIf(runModelTests)('Tokenizer of SmolLM2-135M-Instruct', () => {
  let tok: xpu.llm.Tokenizer;
  let template: string;
  beforeAll(async () => {
    const r = await xpu.io.GgufReader.open(requireModel());
    tok = Tokenizer.fromGguf(r);
    template = r.getString('tokenizer.chat_template');
    await r.close();
  });

  const expected = JSON.parse(readFileSync(new URL('./fixtures/tokenizer/smollm2_expected.json', import.meta.url), 'utf8')) as {
    cases: { text: string; ids: number[] }[];
  };

  it('reads the vocabulary: size, special ids, a few known tokens', () => {
    expect(tok.size).toBe(49152);
    expect([tok.bos, tok.eos]).toEqual([1, 2]);
    expect(tok.idToToken(1)).toBe('<|im_start|>');
    expect(tok.tokenToId('Ġthe')).toBeDefined();
    expect(tok.encode('The capital of France is')).toEqual([504, 3575, 282, 4649, 314]);
    expect(tok.eogIds).toEqual([0, 2]);
  });

  it(`matches Hugging Face tokenizers on a ${expected.cases.length}-text corpus (ASCII, Unicode, emoji, digits, spaces, newlines, code, specials)`, () => {
    for (const c of expected.cases) expect(tok.encode(c.text, { parseSpecial: true }), JSON.stringify(c.text)).toEqual(c.ids);
  });

  it('round-trips every corpus text through encode and decode, streamed token by token too', () => {
    for (const { text } of expected.cases) {
      const ids = tok.encode(text, { parseSpecial: true });
      expect(tok.decode(ids, { special: true }), JSON.stringify(text)).toBe(text);
      const d = tok.streamDecoder({ special: true });
      const pieces = ids.map((i) => d.push(i));
      pieces.push(d.flush());
      expect(pieces.join('')).toBe(text);
      for (const p of pieces) expect(p.includes('\ufffd'), JSON.stringify(p)).toBe(false);
    }
  });

  it('renders its chat template into the ChatML it was trained on', () => {
    const text = xpu.llm.renderChatTemplate(template, [{ role: 'user', content: 'Hi!' }]);
    expect(text).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n',
    );
    const ids = tok.encode(text, { parseSpecial: true });
    expect(ids[0]).toBe(1);
    expect(ids.filter((i) => i === 1)).toHaveLength(3);
    expect(ids.filter((i) => i === 2)).toHaveLength(2);
  });
});
