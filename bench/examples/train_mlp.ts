// Trains a small MLP on a synthetic classification task and prints the loss as it falls: the
// training loop of the PyTorch docs, in xpu. Run on either device:
//   npx tsc -p tsconfig.json && node dist/bench/examples/train_mlp.js --device xpu --steps 100
// tests/nn_training.test.ts runs trainMlp on both devices and checks that the loss falls.
import { pathToFileURL } from 'node:url';
import * as xpu from '../../src/index.js';

export interface TrainMlpOptions {
  device?: 'cpu' | 'xpu';
  steps?: number;
  seed?: number;
  /** Samples in the (full) batch. */
  batch?: number;
  log?: (step: number, loss: number) => void;
}

/**
 * The task: 16-dimensional Gaussian inputs, labelled by which of 4 fixed random directions they
 * point along most (argmax of x @ T). The model: Linear(16, 64) -> GELU -> LayerNorm -> Dropout ->
 * Linear(64, 4), trained with AdamW, a warm-up + cosine schedule and gradient clipping, on
 * cross-entropy. Returns the loss of every step (read back each step, for the printout).
 */
export async function trainMlp(options: TrainMlpOptions = {}): Promise<number[]> {
  const device = options.device ?? 'cpu';
  const steps = options.steps ?? 60;
  const batch = options.batch ?? 128;
  xpu.manualSeed(options.seed ?? 0);
  const [inDim, hidden, classes] = [16, 64, 4];
  const { x, y } = xpu.scope(() => {
    const x = xpu.randn([batch, inDim], { device });
    const directions = xpu.randn([inDim, classes], { device });
    const y = xpu.argmax(xpu.matmul(x, directions), 1);
    return { x, y: xpu.to(y, 'int32') };
  });
  const nn = xpu.nn;
  const model = new nn.Sequential(
    new nn.Linear(inDim, hidden, { device }),
    new nn.GELU(),
    new nn.LayerNorm(hidden, { device }),
    new nn.Dropout(0.1),
    new nn.Linear(hidden, classes, { device }),
  );
  const opt = new xpu.optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 1e-2 });
  const sched = xpu.optim.lrScheduler.warmupCosine(opt, { warmupSteps: 5, totalSteps: steps, minLrRatio: 0.1 });
  const losses: number[] = [];
  model.train();
  for (let step = 0; step < steps; step++) {
    const loss = xpu.scope(() => {
      const loss = nn.functional.crossEntropy(model.forward(x), y);
      loss.backward();
      return loss;
    });
    xpu.optim.clipGradNorm(model.parameters(), 1.0).dispose();
    opt.step();
    opt.zeroGrad();
    sched.step();
    const v = (await loss.item()) as number;
    loss.dispose();
    losses.push(v);
    options.log?.(step, v);
  }
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return losses;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  await xpu.ready();
  const device = (arg('device') ?? 'cpu') as 'cpu' | 'xpu';
  const steps = Number(arg('steps') ?? 60);
  const losses = await trainMlp({
    device,
    steps,
    log: (s, l) => (s % 10 === 0 || s === steps - 1) && console.log(`step ${String(s).padStart(4)}  loss ${l.toFixed(4)}`),
  });
  console.log(`${device}: loss ${losses[0].toFixed(4)} -> ${losses[losses.length - 1].toFixed(4)}`);
}
