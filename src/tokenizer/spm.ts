import { XpuValueError } from '../errors.js';

/**
 * SentencePiece-style BPE over a GGUF vocabulary (tokenizer.ggml.model = 'llama': Llama 2,
 * TinyLlama, Mistral), as llama.cpp's SPM tokenizer and sentencepiece's own BPE encoder work: the
 * text (spaces already written as '▁') starts as one symbol per character; while some adjacent
 * pair's concatenation is a vocabulary entry, the pair whose entry has the highest score merges
 * (ties: the leftmost). A final symbol that is no entry becomes its UTF-8 bytes as '<0xXX>' byte
 * tokens (byte fallback).
 *
 * The GGUF has no merge list for these files, only per-token scores, which is why this is not
 * @huggingface/tokenizers' BPE: that needs ranked merges, and deriving them from the scores
 * (as transformers' converter does) orders pairs that form the same token differently from the
 * score-and-position rule above.
 */

interface Bigram {
  left: number;
  right: number;
  score: number;
  /** Length (UTF-16 units) of the merged text when queued: a later mismatch means it is stale. */
  size: number;
}

/** Highest score first; equal scores: the leftmost pair. */
function before(a: Bigram, b: Bigram): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

/** A binary heap of bigrams ordered by `before`. */
class BigramQueue {
  readonly #items: Bigram[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(b: Bigram): void {
    const h = this.#items;
    h.push(b);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop(): Bigram {
    const h = this.#items;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

export class SpmEncoder {
  readonly #byteIds: (number | undefined)[] = [];

  /**
   * ids: every token's text to its id (control tokens included, as llama.cpp's lookup);
   * scores: one per token.
   */
  constructor(
    private readonly ids: ReadonlyMap<string, number>,
    private readonly scores: ArrayLike<number>,
  ) {
    for (let b = 0; b < 256; b++) {
      // '<0x0A>'; a vocabulary without byte tokens may still hold the byte as a one-character token.
      const hex = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      this.#byteIds[b] = ids.get(hex) ?? (b < 128 ? ids.get(String.fromCharCode(b)) : undefined);
    }
  }

  /** Appends the ids of `text` (spaces already escaped to '▁') to `out`. */
  encode(text: string, out: number[]): void {
    if (text.length === 0) return;
    // Symbols as [start, length) in UTF-16 units, one per code point, in a doubly linked list.
    const start: number[] = [];
    const len: number[] = [];
    for (let at = 0; at < text.length;) {
      const n = text.codePointAt(at)! > 0xffff ? 2 : 1;
      start.push(at);
      len.push(n);
      at += n;
    }
    const count = start.length;
    const prev = Array.from({ length: count }, (_, i) => i - 1);
    const next = Array.from({ length: count }, (_, i) => (i + 1 < count ? i + 1 : -1));
    const queue = new BigramQueue();
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const size = len[left] + len[right];
      const id = this.ids.get(text.slice(start[left], start[left] + size));
      if (id === undefined) return;
      queue.push({ left, right, score: this.scores[id], size });
    };
    for (let i = 1; i < count; i++) tryAdd(i - 1, i);
    while (queue.size > 0) {
      const { left, right, size } = queue.pop();
      if (len[left] === 0 || len[right] === 0 || len[left] + len[right] !== size) continue;
      len[left] = size;
      len[right] = 0;
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryAdd(prev[left], left);
      tryAdd(left, next[left]);
    }
    // Every merged symbol is an entry; only single characters can miss and fall back to bytes.
    for (let i = 0; i !== -1; i = next[i]) {
      const piece = text.slice(start[i], start[i] + len[i]);
      const id = this.ids.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of new TextEncoder().encode(piece)) {
        const byteId = this.#byteIds[b];
        if (byteId === undefined) {
          throw new XpuValueError('the vocabulary has no token for a byte of the text (no byte fallback)', {
            op: 'Tokenizer.encode',
            arg: 'text',
            expected: `a '<0x${b.toString(16).toUpperCase().padStart(2, '0')}>' token`,
            got: JSON.stringify(piece),
          });
        }
        out.push(byteId);
      }
    }
  }
}

/** The byte a '<0xXX>' token stands for, or undefined for any other text. */
export function byteTokenValue(text: string): number | undefined {
  const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
  return m ? parseInt(m[1], 16) : undefined;
}
