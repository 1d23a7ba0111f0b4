/**
 * Attention suite: scaledDotProductAttention GFLOP/s for prefill (L = S, E = 128) and GB/s of
 * K/V read for decode (L = 1, long S, GQA 4), each timed round-robin against the
 * matmul-softmax-matmul composition on the same device (it materialises [L, S] scores), with the
 * peak device memory of both; the backward (sdpa-backward rows: the flash backward against a
 * composed backward that materialises [L, S]). Speed lives here, never in tests.
 *
 *   npm run bench -- attention [--quick] [--device xpu|cpu|all] [--dtype f32,f16] [--sizes 512,2K]
 */
import type { BenchCase, Suite, SuiteContext, SuitePlan } from './suite.js';
import { attnBytes, attnFlops, attnWorkload, peakMemory, ITEM, type AttnDType, type AttnShape } from './attention/workloads.js';
import { attnBackwardFlops, attnBackwardWorkload } from './attention/backward.js';

/** lavapipe runs 2 CPU cores: the issue's H = 32 and L up to 8192 take minutes per run there. */
const FULL_PREFILL = [512, 1024, 2048];
const QUICK_PREFILL = [256, 512];
const FULL_HEADS = 8;
const QUICK_HEADS = 2;
const FULL_DECODE = [4096, 16384, 32768];
const QUICK_DECODE = [4096];
const DECODE_HEADS = 32;
const DECODE_KV_HEADS = 8;
const E = 128;
const CPU_MAX_L = 512;
const DTYPES: AttnDType[] = ['float32', 'float16'];

export const suite: Suite = {
  name: 'attention',
  description:
    'SDPA prefill GFLOP/s, its backward, and decode K/V GB/s against matmul-softmax-matmul (and a composed backward) on the same device, with peak memory',
  plan,
};

const MiB = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;

async function plan(ctx: SuiteContext): Promise<SuitePlan> {
  const notes: string[] = [];
  const dtypes = (ctx.dtypes ?? ['float32']).filter((d): d is AttnDType => (DTYPES as string[]).includes(d));
  const prefill = ctx.sizes ?? (ctx.quick ? QUICK_PREFILL : FULL_PREFILL);
  const heads = ctx.quick ? QUICK_HEADS : FULL_HEADS;
  const decode = ctx.quick ? QUICK_DECODE : FULL_DECODE;
  const memory: Record<string, unknown> = {};
  const cases: BenchCase[] = [];
  for (const device of ctx.devices) {
    for (const dtype of dtypes) {
      for (const n of prefill) {
        for (const causal of [false, true]) {
          const s: AttnShape = { b: 1, h: heads, hkv: heads, l: n, s: n, e: E, causal };
          const kernel = causal ? 'sdpa-prefill-causal' : 'sdpa-prefill';
          const base: BenchCase = {
            kernel,
            device,
            dtype,
            size: n,
            sizeLabel: String(n),
            shape: `q,k,v [1, ${heads}, ${n}, ${E}]${causal ? ' causal' : ''}`,
            // q, k, v read; the output [b, h, l, e] written.
            flops: attnFlops(s),
            bytes: attnBytes(s, dtype),
            writeBytes: s.b * s.h * s.l * s.e * ITEM[dtype],
            repeat: n >= 2048 ? { warmup: 1, reps: 3 } : undefined,
            setup: () => attnWorkload('fused', device, s, dtype),
          };
          if (device === 'cpu' && n > CPU_MAX_L) {
            cases.push({ ...base, skip: `cpu sizes capped at L = ${CPU_MAX_L} (TypeScript kernel)` });
            continue;
          }
          let note = causal ? 'causal: GFLOP/s counts the kept half (2 B H L S E)' : undefined;
          if (device === 'xpu') {
            const fm = await peakMemory('fused', s, dtype);
            const cm = await peakMemory('composition', s, dtype);
            memory[`${kernel}/${dtype}/${n}`] = { fused: fm, composition: cm };
            note = `${note ? `${note}; ` : ''}peak memory beyond inputs: fused ${MiB(fm)}, composition ${MiB(cm)}`;
          }
          cases.push({
            ...base,
            note,
            peers: [{ impl: 'matmul-softmax-matmul', setup: () => attnWorkload('composition', device, s, dtype) }],
          });
        }
      }
      for (const n of prefill) {
        for (const causal of [false, true]) {
          const s: AttnShape = { b: 1, h: heads, hkv: heads, l: n, s: n, e: E, causal };
          const kernel = causal ? 'sdpa-backward-causal' : 'sdpa-backward';
          const base: BenchCase = {
            kernel,
            device,
            dtype,
            size: n,
            sizeLabel: String(n),
            shape: `q,k,v,dOut [1, ${heads}, ${n}, ${E}]${causal ? ' causal' : ''}`,
            // q, k, v, out, dOut read; dq, dk, dv written.
            flops: attnBackwardFlops(s),
            bytes: 8 * s.b * s.h * s.l * s.e * ITEM[dtype],
            writeBytes: 3 * s.b * s.h * s.l * s.e * ITEM[dtype],
            repeat: n >= 1024 ? { warmup: 1, reps: 3 } : undefined,
            setup: () => attnBackwardWorkload('fused', device, s, dtype),
          };
          if (device === 'cpu' && n > CPU_MAX_L) {
            cases.push({ ...base, skip: `cpu sizes capped at L = ${CPU_MAX_L}` });
            continue;
          }
          const note = `GFLOP/s = 2.5 x the forward's 4 B H L S E${causal ? ', halved for causal' : ''}; the peer keeps P = softmax(q k^T) from the forward ([L, S]) and runs dv, dP, dS, dq, dk as ops`;
          cases.push({
            ...base,
            note,
            peers: [{ impl: 'composed-backward', setup: () => attnBackwardWorkload('composition', device, s, dtype) }],
          });
        }
      }
      if (device !== 'xpu') continue;
      for (const n of decode) {
        const s: AttnShape = { b: 1, h: DECODE_HEADS, hkv: DECODE_KV_HEADS, l: 1, s: n, e: E, causal: false };
        const kvBytes = 2 * s.hkv * s.s * s.e * ITEM[dtype];
        cases.push({
          kernel: 'sdpa-decode',
          device,
          dtype,
          size: n,
          sizeLabel: n >= 1024 ? `${n / 1024}K` : String(n),
          shape: `q [1, ${DECODE_HEADS}, 1, ${E}], k,v [1, ${DECODE_KV_HEADS}, ${n}, ${E}]`,
          flops: attnFlops(s),
          bytes: kvBytes,
          readBytes: kvBytes,
          writeBytes: 0,
          note: 'GB/s = K and V bytes read once / time',
          repeat: { warmup: 1, reps: 5 },
          setup: () => attnWorkload('fused', device, s, dtype, 4),
          peers: [{ impl: 'matmul-softmax-matmul', setup: () => attnWorkload('composition', device, s, dtype, 4) }],
        });
      }
    }
  }
  notes.push(
    `prefill: H = ${heads}, E = ${E} (the issue's H = 32 and L = 8192 are scaled down: lavapipe is 2 CPU cores); GFLOP/s = 4 B H L S E / time, halved for causal`,
  );
  notes.push('the peer row is the matmul-softmax-matmul composition on the same device, timed round-robin with the fused kernel');
  notes.push(`decode: L = 1, H = ${DECODE_HEADS}, Hkv = ${DECODE_KV_HEADS} (GQA 4), E = ${E}; xpu only`);
  return { cases, notes, settings: { prefill, heads, decode, e: E, peakMemoryBytes: memory } };
}
