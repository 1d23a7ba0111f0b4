/** Running a suite file directly: its command-line options and "am I the entry module?". */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface SuiteOptions {
  device: 'xpu' | 'cpu' | 'all';
  quick: boolean;
  json?: string;
}

export function parseSuiteArgs(argv: string[]): SuiteOptions {
  const opts: SuiteOptions = { device: 'all', quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a.startsWith('--device')) {
      const d = value();
      if (d !== 'xpu' && d !== 'cpu' && d !== 'all') throw new Error(`--device must be xpu, cpu or all, got ${d}`);
      opts.device = d;
    } else if (a.startsWith('--json')) opts.json = value();
    else throw new Error(`unknown option ${a} (options: --quick, --device xpu|cpu|all, --json FILE)`);
  }
  return opts;
}

/** True when the module at `metaUrl` is the script node was started with. */
export function isEntryModule(metaUrl: string): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(fileURLToPath(metaUrl)) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
}
