// One rank of tests/ddp.test.ts's buffer check: DistributedDataParallel broadcasts the module's
// buffers (persistent or not, nested too, float32 and int32) from the group's first rank at
// construction, as torch's broadcast_buffers does. Every rank starts with its own values.
//
// usage (under `xpu run`): node ddp_buffers_rank.mjs <devices: cpu[,xpu]>
import * as xpu from '../../dist/src/index.js';

await xpu.ready();
const d = xpu.dist;
const devices = (process.argv[2] ?? 'cpu').split(',');
await d.initProcessGroup({ timeoutMs: 120_000 });
const rank = d.getRank();
const failures = [];
let checks = 0;

for (const device of devices) {
  class Net extends xpu.nn.Module {
    constructor() {
      super();
      this.registerModule('fc', new xpu.nn.Linear(2, 2, { device }));
      this.registerBuffer('running', xpu.tensor([rank + 0.5, -rank, 3], { device }));
      this.registerBuffer('scratch', xpu.tensor([rank * 10], { device }), { persistent: false });
      this.fc.registerBuffer('count', xpu.tensor([rank + 1, 7], { device, dtype: 'int32' }));
    }

    forward(x) {
      return this.fc.forward(x);
    }
  }
  const m = new Net();
  await d.DistributedDataParallel(m);
  const want = { running: [0.5, 0, 3], scratch: [0], 'fc.count': [1, 7] };
  for (const [name, t] of m.namedBuffers()) {
    const got = Array.from(await t.data());
    checks++;
    if (JSON.stringify(got) !== JSON.stringify(want[name]))
      failures.push(`rank ${rank} ${device} ${name}: got ${got}, expected ${want[name]}`);
  }
  m.dispose();
}

console.log(`RESULT ${JSON.stringify({ rank, checks, failures })}`);
await d.destroyProcessGroup();
