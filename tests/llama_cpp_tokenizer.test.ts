import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKENIZER_CORPUS } from '../bench/tools/llama_cpp_corpus.js';
import { openLlamaCpp, type LlamaCppPeer } from '../bench/tools/llama_cpp.js';
import { xpu } from './helpers.js';
import { requireModel, runModelTests } from './model_files.js';

/**
 * The SmolLM2 tokenizer (src/tokenizer) against llama.cpp's own, node-llama-cpp's
 * model.tokenize on the same GGUF (vocabulary only, ~2-4 s to load here): ASCII, Unicode, emoji,
 * digits, runs of spaces and newlines, code, control-token text, with and without parseSpecial.
 */

let peer: LlamaCppPeer | undefined;
let tok: InstanceType<typeof xpu.llm.Tokenizer>;

describe.runIf(runModelTests)("tokenization equals llama.cpp's (node-llama-cpp 3.21.1)", () => {
  beforeAll(async () => {
    const path = requireModel();
    peer = await openLlamaCpp(path, false, { vocabOnly: true });
    const r = await xpu.io.GgufReader.open(path);
    try {
      tok = xpu.llm.Tokenizer.fromGguf(r);
    } finally {
      await r.close();
    }
  });
  afterAll(async () => {
    await peer?.dispose();
  });

  it.each(TOKENIZER_CORPUS.map((t, i) => [i, t] as const))('text %i, plain and with parseSpecial', (_i, text) => {
    const model = peer!.model;
    expect(tok.encode(text, { addSpecial: false })).toEqual(Array.from(model.tokenize(text, false)));
    expect(tok.encode(text, { addSpecial: false, parseSpecial: true })).toEqual(Array.from(model.tokenize(text, true)));
  });
});
