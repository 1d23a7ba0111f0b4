/**
 * tfjs-core registers its gradient functions only when `@tensorflow/tfjs-core/dist/register_all_gradients`
 * is imported (the @tensorflow/tfjs bundle does it; tfjs-core's own CommonJS bundle, which the
 * peer loads, does not contain them). That file is ES module source with extensionless relative
 * imports, which Node's resolver refuses, so a resolve hook adds `.js` (or `/index.js`) to those,
 * for files under tfjs-core's dist/ only. tfjs keeps its kernel and gradient registries and its
 * engine on the global object, so gradients registered by this ES copy serve the CommonJS copy.
 */
import { register } from 'node:module';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const HOOK = `export async function resolve(spec, ctx, next) {
  try { return await next(spec, ctx); } catch (e) {
    if (!ctx.parentURL || !ctx.parentURL.includes('/@tensorflow/tfjs-core/dist/') || !(spec.startsWith('./') || spec.startsWith('../'))) throw e;
    try { return await next(spec + '.js', ctx); } catch { return next(spec + '/index.js', ctx); }
  }
}`;

let loaded: Promise<void> | null = null;

/** Registers tfjs-core's gradients once; rejects with the reason when it cannot. */
export function loadTfjsGradients(): Promise<void> {
  if (!loaded) {
    loaded = (async () => {
      register(`data:text/javascript,${encodeURIComponent(HOOK)}`);
      const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/package.json');
      await import(pathToFileURL(join(dirname(pkg), 'dist', 'register_all_gradients.js')).href);
    })();
  }
  return loaded;
}
