/**
 * `xpu bench train`: one training step (zero grads, forward, MSE loss, backward, AdamW step) of an
 * MLP and of a pre-norm transformer block, in tokens/s (one unit = one token of the batch), on cpu
 * against torch 1.13 CPU (a python child timing its own steps: bench/lib/torch_train_peer.py) and
 * on xpu against tfjs-webgpu's training step on the same adapter, same shapes, same run.
 *
 * Both sides build the same parameters and batch from det() (a sine of the index, computed in
 * float64 and rounded to float32), so the check of our first step can use torch in float64 as
 * its oracle: the loss, and per parameter the gradient's norm and its dot product with a fixed
 * probe vector (bench/lib/torch_train_peer.py `reference`).
 *
 * FLOPs per token: 6 x the multiply-adds of the forward's matrix products (forward 2, backward 4),
 * attention's scores and values products included (causal: half of them); the optimizer's and the
 * elementwise work are not counted. Bytes: the AdamW update's minimum traffic (read p, g, m, v,
 * write p, m, v) per token.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as xpu from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { failedCheck, type Check } from './lib/check.js';
import { NumpyPeer } from './lib/numpy_peer.js';
import { loadTfjsGradients } from './lib/tfjs_gradients.js';
import { peerForSuite, type TfjsPeer } from './lib/tfjs_peer.js';
import type { BenchCase, DeviceName, Suite, SuiteContext, SuitePlan, Workload } from './suite.js';

type ModelName = 'mlp' | 'block';
interface Dims {
  d: number;
  batch: number;
  hidden?: number;
  heads?: number;
  seq?: number;
}
type ParamKind = 'w' | 'b' | 'g';

const FULL: Record<ModelName, Dims> = { mlp: { d: 512, hidden: 2048, batch: 256 }, block: { d: 256, heads: 4, seq: 128, batch: 4 } };
const QUICK: Record<ModelName, Dims> = { mlp: { d: 128, hidden: 512, batch: 64 }, block: { d: 64, heads: 4, seq: 32, batch: 2 } };
const SEED = 7;
const LR = 1e-3;
/** The first step's loss and gradients against torch in float64 (f32 accumulation over K <= 2048). */
const CHECK_BOUND = 2e-4;

export const suite: Suite = {
  name: 'train',
  description:
    'a training step (forward, MSE, backward, AdamW) of an MLP and a transformer block, tokens/s, against torch 1.13 CPU and tfjs-webgpu',
  plan,
};

/** The values both sides build (bench/lib/torch_train_peer.py det()). */
export function det(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin((i + 1) * 12.9898 + seed * 78.233) * scale;
  return out;
}

export function paramSpecs(model: ModelName, d: Dims): [string, number[], ParamKind][] {
  const D = d.d;
  if (model === 'mlp') {
    const H = d.hidden!;
    return [
      ['fc1.weight', [H, D], 'w'],
      ['fc1.bias', [H], 'b'],
      ['fc2.weight', [D, H], 'w'],
      ['fc2.bias', [D], 'b'],
    ];
  }
  return [
    ['ln1.weight', [D], 'g'],
    ['ln1.bias', [D], 'b'],
    ['qkv.weight', [3 * D, D], 'w'],
    ['qkv.bias', [3 * D], 'b'],
    ['proj.weight', [D, D], 'w'],
    ['proj.bias', [D], 'b'],
    ['ln2.weight', [D], 'g'],
    ['ln2.bias', [D], 'b'],
    ['fc1.weight', [4 * D, D], 'w'],
    ['fc1.bias', [4 * D], 'b'],
    ['fc2.weight', [D, 4 * D], 'w'],
    ['fc2.bias', [D], 'b'],
  ];
}

function initialValues(model: ModelName, d: Dims): Float32Array[] {
  return paramSpecs(model, d).map(([, shape, kind], k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (kind === 'w') return det(n, SEED + k, 1 / Math.sqrt(shape[1]));
    if (kind === 'g') return det(n, SEED + k, 0.1).map((v) => 1 + v);
    return det(n, SEED + k, 0.02);
  });
}

const batchShape = (model: ModelName, d: Dims): number[] => (model === 'mlp' ? [d.batch, d.d] : [d.batch, d.seq!, d.d]);
const tokens = (model: ModelName, d: Dims): number => (model === 'mlp' ? d.batch : d.batch * d.seq!);
const sizesOf = (model: ModelName, d: Dims): number[] => paramSpecs(model, d).map(([, s]) => s.reduce((x, y) => x * y, 1));
const paramCount = (model: ModelName, d: Dims): number => paramSpecs(model, d).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);

function flopsPerToken(model: ModelName, d: Dims): number {
  const D = d.d;
  const macs = model === 'mlp' ? 2 * D * d.hidden! : 3 * D * D + D * D + 8 * D * D + D * d.seq!; // causal: half of 2 * T * D
  return 6 * macs;
}

/** The model in xpu's own ops, as its user writes it (fused bias / GELU / residual epilogues, flash attention). */
function forward(model: ModelName, d: Dims, p: Tensor[], x: Tensor): Tensor {
  if (model === 'mlp') return xpu.linear(xpu.linear(x, p[0], { bias: p[1], activation: 'gelu' }), p[2], { bias: p[3] });
  const [B, T, D] = x.shape;
  const nh = d.heads!;
  const hd = D / nh;
  const h = xpu.layerNorm(x, [D], { weight: p[0], bias: p[1], eps: 1e-5 });
  const [q, k, v] = xpu.split(xpu.linear(h, p[2], { bias: p[3] }), D, -1).map((z) => z.reshape([B, T, nh, hd]).transpose(1, 2));
  const a = xpu.scaledDotProductAttention(q, k, v, { isCausal: true }).transpose(1, 2).reshape([B, T, D]);
  const x1 = xpu.linear(a, p[4], { bias: p[5], residual: x });
  const h2 = xpu.layerNorm(x1, [D], { weight: p[6], bias: p[7], eps: 1e-5 });
  return xpu.linear(xpu.linear(h2, p[8], { bias: p[9], activation: 'gelu' }), p[10], { bias: p[11], residual: x1 });
}

interface OurModel {
  params: Tensor[];
  x: Tensor;
  t: Tensor;
  dispose(): void;
}

function build(model: ModelName, d: Dims, device: DeviceName): OurModel {
  const specs = paramSpecs(model, d);
  const params = initialValues(model, d).map((v, k) => xpu.tensor(v, { device, shape: specs[k][1], requiresGrad: true }));
  const shape = batchShape(model, d);
  const n = shape.reduce((a, b) => a * b, 1);
  const x = xpu.tensor(det(n, SEED + 100), { device, shape });
  const t = xpu.tensor(det(n, SEED + 200), { device, shape });
  return { params, x, t, dispose: () => [...params, x, t].forEach((z) => z.dispose()) };
}

type Reference = { loss: number; grads: { norm: number; probe: number }[] };

async function reference(torch: NumpyPeer, model: ModelName, d: Dims, dtype: 'float64' | 'float32' = 'float64'): Promise<Reference> {
  const r = await torch.request({ op: 'reference', model, dims: d, seed: SEED, dtype });
  if (r.error) throw new Error(r.error);
  return r as unknown as Reference;
}

/** Per parameter: the gradient's norm and its dot product with the probe torch uses (det(n, 999 + k)). */
function summarise(grads: ArrayLike<number>[]): { norm: number; probe: number }[] {
  return grads.map((g, k) => {
    const probe = det(g.length, 999 + k);
    let sq = 0;
    let dot = 0;
    for (let i = 0; i < g.length; i++) {
      sq += g[i] * g[i];
      dot += g[i] * probe[i];
    }
    return { norm: Math.sqrt(sq), probe: dot };
  });
}

function probeNorm(n: number, k: number): number {
  const probe = det(n, 999 + k);
  let sq = 0;
  for (let i = 0; i < n; i++) sq += probe[i] * probe[i];
  return Math.sqrt(sq);
}

/**
 * A first step against torch's float64 one. The loss and each gradient's norm count relative to
 * themselves; a probe's dot product relative to ||g|| ||probe|| (Cauchy-Schwarz: its error is at
 * most ||g - g_ref|| ||probe||, so this bounds the gradient's own relative error without
 * punishing a dot product that happens to cancel to near zero).
 */
function against(got: Reference, want: Reference, sizes: number[]): Check {
  if (got.grads.length !== want.grads.length)
    return failedCheck(`got ${got.grads.length} gradients, expected ${want.grads.length}`, CHECK_BOUND);
  const errs = [Math.abs(got.loss - want.loss) / Math.max(Math.abs(want.loss), 1e-12)];
  want.grads.forEach((w, k) => {
    const g = got.grads[k];
    const scale = Math.max(w.norm, 1e-12);
    errs.push(Math.abs(g.norm - w.norm) / scale, Math.abs(g.probe - w.probe) / (scale * probeNorm(sizes[k], k)));
  });
  const relErr = Math.max(...errs.map((e) => (Number.isFinite(e) ? e : Infinity)));
  return { elements: errs.length, relErr, bound: CHECK_BOUND, ok: relErr <= CHECK_BOUND };
}

const NO_ORACLE = 'no float64 oracle: the torch peer did not start (see the notes)';

/** Our first step's loss and gradients against torch's float64 ones. */
async function checkOurs(model: ModelName, d: Dims, device: DeviceName, torch: NumpyPeer | null): Promise<Check> {
  if (!torch) return failedCheck(NO_ORACLE, CHECK_BOUND);
  try {
    const want = await reference(torch, model, d);
    const m = build(model, d, device);
    const loss = xpu.scope(() => {
      const l = xpu.nn.functional.mseLoss(forward(model, d, m.params, m.x), m.t);
      l.backward();
      return l;
    });
    const got = { loss: (await loss.item()) as number, grads: summarise(await Promise.all(m.params.map((p) => p.grad!.data()))) };
    loss.dispose();
    m.dispose();
    return against(got, want, sizesOf(model, d));
  } catch (e) {
    return failedCheck(e, CHECK_BOUND);
  }
}

function ourWorkload(model: ModelName, d: Dims, device: DeviceName, torch: NumpyPeer | null): Workload {
  const m = build(model, d, device);
  const opt = new xpu.optim.AdamW(m.params, { lr: LR });
  return {
    units: tokens(model, d),
    run: () => {
      opt.zeroGrad();
      xpu.scope(() => xpu.nn.functional.mseLoss(forward(model, d, m.params, m.x), m.t).backward());
      opt.step();
    },
    check: () => checkOurs(model, d, device, torch),
    dispose: () => {
      opt.dispose();
      m.dispose();
    },
  };
}

function torchWorkload(peer: NumpyPeer, model: ModelName, d: Dims): Workload {
  const id = peer.newId();
  const ready = peer.request({ op: 'setup', id, model, dims: d, seed: SEED, lr: LR });
  let lastMs: number | undefined;
  return {
    units: tokens(model, d),
    run: async () => {
      const r = await ready;
      if (r.error) throw new Error(r.error);
      const out = await peer.request({ op: 'run', id, units: 1 });
      if (out.error) throw new Error(out.error);
      lastMs = out.ms as number;
    },
    selfTimedMs: () => lastMs,
    // torch's float32 step against its own float64 one: the same oracle as ours.
    check: async () => {
      try {
        return against(await reference(peer, model, d, 'float32'), await reference(peer, model, d), sizesOf(model, d));
      } catch (e) {
        return failedCheck(e, CHECK_BOUND);
      }
    },
    dispose: async () => {
      await peer.request({ op: 'free', id });
    },
  };
}

/** The same step in tfjs (tf.train.adam: tfjs has no AdamW; decay 0 makes them the same update). */
function tfjsWorkload(peer: TfjsPeer, model: ModelName, d: Dims, torch: NumpyPeer | null): Workload {
  const tf = peer.tf;
  const specs = paramSpecs(model, d);
  const vars = initialValues(model, d).map((v, k) => tf.variable(tf.tensor(v, specs[k][1]), true, `train${++tfVariables}`));
  const shape = batchShape(model, d);
  const n = shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(det(n, SEED + 100), shape);
  const t = tf.tensor(det(n, SEED + 200), shape);
  const opt = tf.train.adam(LR);
  const lin = (z: TfTensor, w: TfTensor, b: TfTensor): TfTensor =>
    tf.reshape(tf.add(tf.matMul(tf.reshape(z, [-1, z.shape[z.shape.length - 1]]), w, false, true), b), [
      ...z.shape.slice(0, -1),
      w.shape[0],
    ]);
  const ln = (z: TfTensor, g: TfTensor, b: TfTensor): TfTensor => {
    const { mean, variance } = tf.moments(z, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
  };
  const gelu = (z: TfTensor): TfTensor => tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.div(z, Math.SQRT2))));
  const fwd = (): TfTensor => {
    const p = vars as unknown as TfTensor[];
    if (model === 'mlp') return lin(gelu(lin(x, p[0], p[1])), p[2], p[3]);
    const [B, T, D] = shape;
    const nh = d.heads!;
    const hd = D / nh;
    const h = ln(x, p[0], p[1]);
    const [q, k, v] = tf.split(lin(h, p[2], p[3]), 3, -1).map((z) => tf.transpose(tf.reshape(z, [B, T, nh, hd]), [0, 2, 1, 3]));
    const mask = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
    const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(hd)), tf.mul(tf.sub(mask, 1), 1e9));
    const a = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores, -1), v), [0, 2, 1, 3]), [B, T, D]);
    const x1 = tf.add(x, lin(a, p[4], p[5]));
    return tf.add(x1, lin(gelu(lin(ln(x1, p[6], p[7]), p[8], p[9])), p[10], p[11]));
  };
  return {
    units: tokens(model, d),
    run: () => {
      opt.minimize(() => tf.losses.meanSquaredError(t, fwd()) as TfScalar);
    },
    sync: () => peer.sync(),
    // tfjs's first step (fresh variables) against torch's float64 one, like ours.
    check: async () => {
      if (!torch) return failedCheck(NO_ORACLE, CHECK_BOUND);
      try {
        const want = await reference(torch, model, d);
        const fresh = initialValues(model, d).map((v, k) => tf.variable(tf.tensor(v, specs[k][1]), true, `train${++tfVariables}`));
        const saved = vars.slice();
        vars.splice(0, vars.length, ...fresh);
        const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(t, fwd()) as TfScalar, fresh);
        vars.splice(0, vars.length, ...saved);
        const got = { loss: (await value.data())[0], grads: summarise(await Promise.all(fresh.map((v) => grads[v.name].data()))) };
        value.dispose();
        Object.values(grads).forEach((g) => g.dispose());
        fresh.forEach((v) => v.dispose());
        return against(got, want, sizesOf(model, d));
      } catch (e) {
        return failedCheck(e, CHECK_BOUND);
      }
    },
    dispose: () => {
      opt.dispose();
      vars.forEach((v) => v.dispose());
      x.dispose();
      t.dispose();
    },
  };
}
/** tfjs variables need names unique in the process. */
let tfVariables = 0;
type TfTensor = ReturnType<TfjsPeer['tf']['tensor']>;
type TfScalar = ReturnType<TfjsPeer['tf']['scalar']>;

const SCRIPT = (): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', 'bench', 'lib', 'torch_train_peer.py');
};

async function plan(ctx: SuiteContext): Promise<SuitePlan> {
  const notes: string[] = [];
  const dims = ctx.quick ? QUICK : FULL;
  const hasXpu = ctx.devices.includes('xpu');
  const { peer: tfjsLoaded, peers } = await peerForSuite(
    ctx.peers && hasXpu,
    notes,
    'tf.train.adam (no AdamW in tfjs; weight decay 0 makes the updates equal) over tf.variable parameters; attention as matMul + masked softmax (tfjs has no fused attention)',
  );
  // tfjs-core registers its gradient functions only on request (tfjs-layers and the tfjs bundle
  // do it): the peer's training step needs them.
  let tfjs = tfjsLoaded;
  if (tfjs) {
    try {
      await loadTfjsGradients();
    } catch (e) {
      notes.push(`tfjs-webgpu rows skipped: its gradients did not load (${(e as Error).message.split('\n')[0]})`);
      tfjs = null;
    }
  }
  // torch is the oracle of every row's check, so it starts whenever it can (its timed rows only with --peers).
  const python = process.env.XPU_BENCH_TORCH_PYTHON || '/usr/bin/python3';
  const started = await NumpyPeer.spawnScript(python, SCRIPT(), { ...process.env, PYTHONPATH: '' });
  let torch: NumpyPeer | null = null;
  if (typeof started === 'string')
    notes.push(
      `torch peer unavailable (${python}: ${started.split('\n')[0]}); install Debian's python3-torch or set XPU_BENCH_TORCH_PYTHON. Without it the checks fail`,
    );
  else {
    torch = started.peer;
    peers.push({
      impl: 'torch',
      ...started.info,
      note: 'torch 1.13 CPU in a python child timing its own steps (perf_counter); nn.functional linear / gelu / layer_norm, attention as matmul + masked softmax (1.13 has no scaled_dot_product_attention), torch.optim.AdamW',
    });
  }
  const cases: BenchCase[] = [];
  for (const device of ctx.devices) {
    for (const model of ['mlp', 'block'] as ModelName[]) {
      const d = dims[model];
      const params = paramCount(model, d);
      const c: BenchCase = {
        kernel: `train-${model}`,
        device,
        dtype: 'float32',
        size: tokens(model, d),
        sizeLabel: `${tokens(model, d)} tok`,
        shape:
          model === 'mlp' ? `[${d.batch}, ${d.d}] -> ${d.hidden} -> ${d.d}` : `[${d.batch}, ${d.seq}, ${d.d}], ${d.heads} heads, MLP 4x`,
        flops: flopsPerToken(model, d),
        bytes: (28 * params) / tokens(model, d),
        setup: () => ourWorkload(model, d, device, torch),
        repeat: ctx.quick ? { warmup: 1, reps: 3 } : { warmup: 2, reps: 7 },
        gpuTime: false,
        note: `${(params / 1e6).toFixed(2)}M parameters; one unit = one token of the batch`,
      };
      c.peers = [];
      if (device === 'cpu' && torch && ctx.peers) c.peers.push({ impl: 'torch', setup: () => torchWorkload(torch!, model, d) });
      if (device === 'xpu' && tfjs) c.peers.push({ impl: 'tfjs-webgpu', setup: () => tfjsWorkload(tfjs, model, d, torch) });
      cases.push(c);
    }
  }
  notes.push('tokens/s = 1000 / (ms per unit); the flops per token count the matrix products only (6 x forward multiply-adds)');
  return { cases, notes, peers, dispose: async () => torch?.close(), settings: { dims, seed: SEED, lr: LR, checkBound: CHECK_BOUND } };
}
