/** The CLI's --sizes and --dtype values, parsed and checked before anything runs. */
import { DTYPES } from '../../src/tensor/dtype.js';

const SUFFIX: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/** "1M,4M,256" -> [1048576, 4194304, 256]. K, M and G are powers of two, as sizes here are. */
export function parseSizes(text: string): number[] {
  const sizes = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(s);
      const n = m ? Number(m[1]) * SUFFIX[m[2].toUpperCase()] : NaN;
      if (!Number.isInteger(n) || n <= 0)
        throw new Error(`--sizes: '${s}' is not a size (expected a positive integer, optionally with K, M or G: 256, 64K, 4M)`);
      return n;
    });
  if (!sizes.length) throw new Error('--sizes: expected a comma-separated list, e.g. 1M,4M');
  return [...new Set(sizes)].sort((a, b) => a - b);
}

const ALIASES: Record<string, string> = { f32: 'float32', f16: 'float16', i32: 'int32', u32: 'uint32', i8: 'int8', u8: 'uint8' };

/** "f32,f16" -> ['float32', 'float16']; "all" -> every dtype the runtime has. */
export function parseDtypes(text: string): string[] {
  if (text.trim() === 'all') return [...DTYPES];
  const out = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const d = ALIASES[s] ?? s;
      if (!(DTYPES as readonly string[]).includes(d))
        throw new Error(
          `--dtype: '${s}' is not a dtype (expected all, or a list of ${DTYPES.join(', ')}; f32, f16 and the like are accepted)`,
        );
      return d;
    });
  if (!out.length) throw new Error('--dtype: expected a comma-separated list, e.g. f32,f16');
  return [...new Set(out)];
}
