/**
 * Whether output gets ANSI colour, decided here only (profiler tables, `xpu run` rank prefixes,
 * bench tables). NO_COLOR (https://no-color.org: any non-empty value) turns it off; FORCE_COLOR
 * turns it on ('0' or 'false': off); otherwise only a terminal gets colour, so files and pipes
 * (CI logs, `> out.txt`) carry plain text.
 */

type Stream = { isTTY?: boolean };

export function useColor(stream: Stream = process.stdout): boolean {
  if (process.env.NO_COLOR) return false;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force.toLowerCase() !== 'false';
  return stream.isTTY === true;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, grey: 90 } as const;
export type Color = keyof typeof CODES;

/** `text` in `color` when `stream` gets colour, else as it is. */
export function paint(text: string, color: Color, stream: Stream = process.stdout): string {
  return useColor(stream) ? `\x1b[${CODES[color]}m${text}\x1b[39m` : text;
}

/**
 * cli-table3's `style` for a table printed to `stream`: its own colours (red header, grey border)
 * on a terminal, none otherwise (cli-table3 colours whatever the destination).
 */
export function tableStyle(stream: Stream = process.stdout, color = useColor(stream)): { head: string[]; border: string[] } {
  return color ? { head: ['red'], border: ['grey'] } : { head: [], border: [] };
}
