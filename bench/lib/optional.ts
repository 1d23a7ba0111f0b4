import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';

/**
 * Packages only `xpu bench` uses are not installed with xpu: vega and vega-lite (charts; 51 of the
 * 95 packages an install pulled in were theirs) and cli-progress (the progress bar). They are
 * optional peer dependencies: a user who wants the charts installs them; the repo has them as
 * devDependencies. This file is the one place that loads them and says what to install.
 */

/** An optional package `xpu bench` needs for something the user asked for is not installed. */
export class MissingOptionalPackage extends Error {
  constructor(
    readonly packages: string[],
    purpose: string,
  ) {
    super(
      `${purpose} needs the optional package${packages.length > 1 ? 's' : ''} ${packages.join(' and ')}: npm install ${packages.join(' ')}`,
    );
    this.name = 'MissingOptionalPackage';
  }
}

const isMissing = (e: unknown): boolean => ['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'].includes((e as { code?: string }).code ?? '');

export interface Charting {
  vega: typeof import('vega');
  vl: typeof import('vega-lite');
}

let charting: Promise<Charting> | undefined;

/** vega and vega-lite, for SVG charts; throws MissingOptionalPackage (naming `purpose`) when absent. */
export function loadCharting(purpose: string): Promise<Charting> {
  charting ??= Promise.all([import('vega'), import('vega-lite')]).then(([vega, vl]) => ({ vega, vl }));
  return charting.catch((e: unknown) => {
    charting = undefined;
    throw isMissing(e) ? new MissingOptionalPackage(['vega', 'vega-lite'], purpose) : e;
  });
}

/** cli-progress (CommonJS, loaded synchronously), or null when absent: the bar is cosmetic, rows print as lines. */
export function loadProgressBar(): typeof cliProgressModule | null {
  try {
    return createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule;
  } catch (e) {
    if (isMissing(e)) return null;
    throw e;
  }
}
