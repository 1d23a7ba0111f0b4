import { describe, expect, it } from 'vitest';
import { testDevices, xpu } from './helpers.js';

/**
 * Module buffers (torch's register_buffer): listed apart from the parameters, persistent ones in
 * stateDict / loadStateDict after the parameters, moved by to(), freed by dispose(), never given
 * to an optimizer; bad arguments are typed errors. (DDP's broadcast of buffers: tests/ddp.test.ts.)
 */

class Stats extends xpu.nn.Module {
  declare running: xpu.Tensor;
  declare scratch: xpu.Tensor | undefined;
  declare inner: xpu.nn.Linear;
  constructor(device: 'cpu' | 'xpu') {
    super();
    this.registerModule('inner', new xpu.nn.Linear(2, 3, { device }));
    this.registerBuffer('running', xpu.tensor([1, 2, 3], { device }));
    this.registerBuffer('scratch', xpu.tensor([7, 8], { device }), { persistent: false });
    (this.inner as xpu.nn.Module).registerBuffer('count', xpu.tensor([5], { device, dtype: 'int32' }));
  }
}

describe('nn.Module buffers', () => {
  it('are listed by namedBuffers / buffers, apart from the parameters and the optimizer', () => {
    const m = new Stats('cpu');
    expect([...m.namedBuffers()].map(([n]) => n)).toEqual(['running', 'scratch', 'inner.count']);
    expect([...m.buffers()]).toEqual([m.running, m.scratch, [...m.inner.namedBuffers()][0][1]]);
    expect([...m.namedParameters()].map(([n]) => n)).toEqual(['inner.weight', 'inner.bias']);
    expect([...m.parameters()].length).toBe(2);
    // A buffer set to undefined is skipped; assignment replaces it.
    m.scratch = undefined;
    expect([...m.namedBuffers()].map(([n]) => n)).toEqual(['running', 'inner.count']);
    m.dispose();
  });

  it('persistent buffers are in stateDict after the parameters, and loadStateDict copies into them', async () => {
    const a = new Stats('cpu');
    const b = new Stats('cpu');
    expect([...a.stateDict().keys()]).toEqual(['inner.weight', 'inner.bias', 'running', 'inner.count']);
    expect([...a.stateDict({ trainableOnly: true }).keys()]).toEqual(['inner.weight', 'inner.bias']);
    const running = b.running;
    const src = new Map(a.stateDict());
    src.set('running', xpu.tensor([-1, 0.5, 9]));
    expect(b.loadStateDict(src)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.running).toBe(running); // in place
    expect(Array.from(await b.running.data())).toEqual([-1, 0.5, 9]);
    expect(Array.from(await b.inner.weight.data())).toEqual(Array.from(await a.inner.weight.data()));
    // The non-persistent buffer is neither expected nor accepted under strict.
    expect(() => b.loadStateDict(new Map([...a.stateDict(), ['scratch', xpu.tensor([0, 0])]]))).toThrow(xpu.XpuValueError);
    const partial = new Map(a.stateDict());
    partial.delete('running');
    expect(b.loadStateDict(partial, { strict: false }).missingKeys).toEqual(['running']);
    a.dispose();
    b.dispose();
  });

  for (const device of testDevices()) {
    it(`to('${device}') moves every buffer, dispose frees them`, async () => {
      const m = new Stats('cpu');
      const before = m.running;
      await m.to(device);
      if (device !== 'cpu') expect(m.running).not.toBe(before); // same device: the same tensor, as torch
      for (const [, t] of m.namedBuffers()) expect(t.device.type).toBe(device);
      expect(Array.from(await m.running.data())).toEqual([1, 2, 3]);
      expect(Array.from(await [...m.inner.namedBuffers()][0][1].data())).toEqual([5]);
      const kept = m.running;
      m.dispose();
      expect(() => kept.add(1)).toThrow(xpu.XpuDisposedError);
      expect([...m.namedBuffers()]).toEqual([]);
    });
  }

  it('bad arguments are typed errors', () => {
    const m = new Stats('cpu');
    expect(() => m.registerBuffer('running', xpu.tensor([1]))).toThrow(xpu.XpuValueError); // taken
    expect(() => m.registerBuffer('inner', xpu.tensor([1]))).toThrow(xpu.XpuValueError); // a submodule's name
    expect(() => m.registerBuffer('bad name', xpu.tensor([1]))).toThrow(xpu.XpuValueError);
    expect(() => m.registerBuffer('x', [1, 2] as never)).toThrow(xpu.XpuTypeError);
    expect(() => m.registerBuffer('y', xpu.tensor([1]), { persistent: 'yes' as never })).toThrow(xpu.XpuTypeError);
    expect(() => {
      (m as unknown as { running: unknown }).running = 3;
    }).toThrow(xpu.XpuTypeError);
    m.dispose();
  });
});
