import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateOps } from '../scripts/gen_ops.js';
import { BINARY, PARAMETRIC, TERNARY, UNARY } from '../src/ops/elementwise_table.js';
import { xpu } from './helpers.js';

/**
 * The elementwise ops are declared once, in src/ops/elementwise_table.ts; their functions and
 * Tensor methods are written into src/ops/generated/ by scripts/gen_ops.ts. These tests fail when
 * the table changed and the generated files were not refreshed (`npm run gen:ops`), and check that
 * every declared op reaches the public API.
 */
describe('ops declared once', () => {
  it('the generated files match the table (run `npm run gen:ops` after changing it)', () => {
    for (const [path, text] of Object.entries(generateOps())) {
      expect(readFileSync(path, 'utf8'), `${path} is stale: run npm run gen:ops`).toBe(text);
    }
  });

  const declared = Object.entries({ ...UNARY, ...PARAMETRIC, ...BINARY, ...TERNARY }).filter(([, def]) => def.api);

  it('every entry with an api field is an export and, unless method is false, a Tensor method', () => {
    expect(declared.length).toBeGreaterThan(40);
    const x = xpu.tensor([0.5, -1.5, 2]);
    const exports = xpu as unknown as Record<string, unknown>;
    for (const [name, def] of declared) {
      expect(typeof exports[name], name).toBe('function');
      const method = (x as unknown as Record<string, unknown>)[name];
      expect(typeof method, `Tensor#${name}`).toBe(def.api!.method ? 'function' : 'undefined');
    }
  });

  it('a method computes what its function computes', async () => {
    const a = xpu.tensor([0.25, -1.5, 2, 3.75]);
    const b = xpu.tensor([1, 2, -0.5, 3.75]);
    // The wrappers whose arguments past the first are required (the others run on their defaults).
    const WRAPPER_ARGS: Record<string, unknown[]> = {
      clamp: [-1, 2.5],
      lerp: [b, 0.25],
      maskedFill: [xpu.tensor([true, false, true, false]), 7],
    };
    const exports = xpu as unknown as Record<string, (...args: unknown[]) => InstanceType<typeof xpu.Tensor>>;
    for (const [name, def] of declared) {
      if (!def.api!.method) continue;
      const method = (a as unknown as Record<string, (...args: unknown[]) => InstanceType<typeof xpu.Tensor>>)[name];
      const args = WRAPPER_ARGS[name] ?? (def.api!.kind === 'binary' || def.api!.kind === 'tensors' ? [b] : []);
      const viaMethod = await method.call(a, ...args).toArray();
      const viaFunction = await exports[name](a, ...args).toArray();
      expect(viaMethod, name).toEqual(viaFunction);
    }
  });
});
