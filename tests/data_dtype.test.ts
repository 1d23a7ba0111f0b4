import { describe, expect, expectTypeOf, it } from 'vitest';
import { caughtAsync, testDevices, xpu } from './helpers.js';

/** data(dtype): the array typed by dtype for TypeScript, checked against the tensor at run time. */
describe.each(testDevices())('data(dtype) on %s', (device) => {
  it("returns the dtype's array, typed so", async () => {
    const i = await xpu.tensor([1, -2], { device, dtype: 'int32' }).data('int32');
    expectTypeOf(i).toEqualTypeOf<Int32Array>();
    expect(i).toEqual(Int32Array.from([1, -2]));
    const h = await xpu.tensor([0.5], { device, dtype: 'float16' }).data('float16');
    expectTypeOf(h).toEqualTypeOf<Float32Array>();
    expect(h).toEqual(Float32Array.from([0.5]));
    const b = await xpu.data(xpu.tensor([1, 0], { device, dtype: 'bool' }), 'bool');
    expectTypeOf(b).toEqualTypeOf<Uint8Array>();
    expect(Array.from(b)).toEqual([1, 0]);
  });

  it("refuses a dtype other than the tensor's (XpuDTypeError) or no dtype at all (XpuTypeError)", async () => {
    const t = xpu.tensor([1], { device, dtype: 'float32' });
    const e = await caughtAsync(t.data('int32'), xpu.XpuDTypeError);
    expect(e.message).toMatch(/expected 'float32' \(cast first with to\('int32'\)\), got 'int32'/);
    await caughtAsync(t.data('f32' as never), xpu.XpuTypeError);
  });
});
