/**
 * Texts whose tokenization must equal llama.cpp's (tests/llama_cpp_tokenizer.test.ts and
 * bench/tools/llama_cpp_agreement.ts): ASCII, accents and other scripts, emoji (with ZWJ and skin
 * tones), digit runs (SmolLM2 splits digits one by one), runs of spaces, tabs and newlines,
 * contractions, code, and control-token text (split out only with parseSpecial).
 */
export const TOKENIZER_CORPUS: readonly string[] = [
  'Hello world',
  ' Hello world',
  'Hello, world! How are you today?',
  'The quick brown fox jumps over the lazy dog.',
  "I'm sure they'll say it's fine, but we'd've known. DON'T SHOUT",
  'Ünïcödé façade naïve café coöperate Æsir Øresund',
  'Ελληνικά, русский язык, עברית, العربية, हिन्दी, 日本語のテキスト, 中文文本, 한국어',
  'Emoji: 🎉🚀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🤖',
  '1234567890 3.14159 -42 1,000,000 2024-12-04 0x1F 1e-5',
  'a  b   c    d     e      f',
  '     leading spaces and trailing spaces     ',
  'tabs\tand\t\tmore\t\t\ttabs',
  'line one\nline two\n\nline four\n\n\n\nafter four newlines',
  'windows\r\nline endings\r\n',
  '  \n \n\t \n  mixed whitespace runs \t\n',
  'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n',
  'const x = { a: [1, 2, 3], b: "str" };\nfor (let i = 0; i < 10; i++) { console.log(i * x.a[0]); }',
  '#include <stdio.h>\nint main(void) {\n\tprintf("%d\\n", 42);\n\treturn 0;\n}',
  'SELECT id, name FROM users WHERE age >= 21 ORDER BY name DESC;',
  'https://example.com/path?query=1&other=two#frag user@example.org',
  '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
  '<|endoftext|>text after an end token',
  'mixedCASE camelCase snake_case kebab-case SCREAMING_CASE',
  '¿Qué? ¡Sí! «quotes» “curly” ‘single’ — en–dash … ellipsis',
  '∑∫√∞≈≠≤≥ αβγδ ℝ ℂ → ⇒ ∀x∃y',
  '',
  ' ',
  '\n',
  'a',
  '!!!???...,,,;;;:::',
];
