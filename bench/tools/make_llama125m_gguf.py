#!/usr/bin/env python3
"""
Writes the 125M Llama config (xpu.llama.LLAMA_125M: hidden 768, 12 layers, 12 heads on 4 KV heads,
FFN 2048, vocab 32000, tied embeddings, rope theta 1e4) with seeded random weights as a GGUF in
F32, Q8_0 or Q4_0 (gguf.quants, ggml's own quantizer), so `bench model` can run it in xpu and llama.cpp
from the same file (issue 18's "125M config in f32 and q8_0" rows). The vocabulary is a dummy
SentencePiece-style one (byte tokens and numbered pieces): the benchmark feeds token ids.

    pip install --target .cache/py gguf
    PYTHONPATH=.cache/py python3 bench/tools/make_llama125m_gguf.py f32|q8_0|q4_0 OUT.gguf
    XPU_SMOLLM2_GGUF=OUT.gguf XPU_BENCH_MODEL=smollm2 node dist/src/cli/main.js bench model --device cpu
"""
import sys

import numpy as np
import gguf
from gguf.quants import quantize

fmt, dst = sys.argv[1], sys.argv[2]
qtype = {'f32': gguf.GGMLQuantizationType.F32, 'q8_0': gguf.GGMLQuantizationType.Q8_0, 'q4_0': gguf.GGMLQuantizationType.Q4_0}[fmt]
V, H, F, L, NH, NKV = 32000, 768, 2048, 12, 12, 4
D = H // NH
rng = np.random.default_rng(0)

w = gguf.GGUFWriter(dst, 'llama')
w.add_name(f'llama-125M random {fmt}')
w.add_context_length(2048)
w.add_embedding_length(H)
w.add_block_count(L)
w.add_feed_forward_length(F)
w.add_head_count(NH)
w.add_head_count_kv(NKV)
w.add_rope_dimension_count(D)
w.add_rope_freq_base(10000.0)
w.add_layer_norm_rms_eps(1e-5)
w.add_file_type({'f32': gguf.LlamaFileType.ALL_F32, 'q8_0': gguf.LlamaFileType.MOSTLY_Q8_0, 'q4_0': gguf.LlamaFileType.MOSTLY_Q4_0}[fmt])
tokens = ['<unk>', '<s>', '</s>'] + [f'<0x{b:02X}>' for b in range(256)]
tokens += [f'\u2581w{i}' for i in range(V - len(tokens))]
types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
types += [gguf.TokenType.NORMAL] * (V - len(types))
w.add_tokenizer_model('llama')
w.add_token_list(tokens)
w.add_token_scores([-float(i) for i in range(V)])
w.add_token_types(types)
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_unk_token_id(0)


def linear(name, rows, cols):
    a = (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float32)
    if qtype == gguf.GGMLQuantizationType.F32:
        w.add_tensor(name, a)
    else:
        w.add_tensor(name, quantize(a, qtype), raw_dtype=qtype)


def norm(name):
    w.add_tensor(name, (1 + 0.1 * rng.standard_normal(H, dtype=np.float32)).astype(np.float32))


linear('token_embd.weight', V, H)
for i in range(L):
    norm(f'blk.{i}.attn_norm.weight')
    linear(f'blk.{i}.attn_q.weight', H, H)
    linear(f'blk.{i}.attn_k.weight', NKV * D, H)
    linear(f'blk.{i}.attn_v.weight', NKV * D, H)
    linear(f'blk.{i}.attn_output.weight', H, H)
    norm(f'blk.{i}.ffn_norm.weight')
    linear(f'blk.{i}.ffn_gate.weight', F, H)
    linear(f'blk.{i}.ffn_up.weight', F, H)
    linear(f'blk.{i}.ffn_down.weight', H, F)
norm('output_norm.weight')
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f'wrote {dst}')
