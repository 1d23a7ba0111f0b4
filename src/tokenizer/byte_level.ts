/**
 * GPT-2's byte-level alphabet: every byte is written as one printable code point, so a BPE
 * vocabulary of strings covers arbitrary bytes. Printable Latin-1 bytes (33-126, 161-172,
 * 174-255) stand for themselves; the other 68 bytes take code points 256, 257, ... in byte order
 * (so a space is 'Ġ', U+0120, and a newline 'Ċ', U+010A).
 */

const BYTE_TO_CHAR: string[] = [];
const CHAR_TO_BYTE = new Map<number, number>();
{
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    const cp = printable ? b : 256 + extra++;
    BYTE_TO_CHAR[b] = String.fromCodePoint(cp);
    CHAR_TO_BYTE.set(cp, b);
  }
}

/** The byte-level string of some bytes (what a vocabulary entry looks like). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}

/**
 * The bytes a byte-level token stands for. A code point outside the alphabet (a vocabulary entry
 * not made by the byte-level encoder) is kept as its own UTF-8 bytes.
 */
export function byteLevelToBytes(token: string): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch.codePointAt(0)!);
    if (b !== undefined) out.push(b);
    else out.push(...enc.encode(ch));
  }
  return Uint8Array.from(out);
}
