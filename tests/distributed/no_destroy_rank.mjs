// A rank that never calls destroyProcessGroup(): the runtime must finalise for it when the
// program ends (beforeExit), or mpirun would count the job as failed. Prints `DONE <sum>`.
import * as xpu from '../../dist/src/index.js';

const d = xpu.dist;
await d.initProcessGroup({ timeoutMs: 20_000 });
const t = xpu.tensor([d.getRank() + 1], { device: 'cpu', dtype: 'int32' });
await d.allReduce(t);
console.log(`DONE ${(await t.data())[0]}`);
