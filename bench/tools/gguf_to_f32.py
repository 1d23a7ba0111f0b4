#!/usr/bin/env python3
"""
Writes a copy of a GGUF with every tensor dequantized to F32 by ggml's own Python package
(gguf.quants.dequantize), metadata unchanged. bench/tools/llama_cpp_agreement.ts --peer-model
uses it to run llama.cpp on the same weights without its quantized matmuls (which quantize the
activations to 8 bits), separating that arithmetic from everything else.

    pip install --target /tmp/gguf-py gguf
    PYTHONPATH=/tmp/gguf-py python3 bench/tools/gguf_to_f32.py IN.gguf OUT-f32.gguf
"""
import sys

import numpy as np
import gguf
from gguf.quants import dequantize

src, dst = sys.argv[1], sys.argv[2]
r = gguf.GGUFReader(src)
w = gguf.GGUFWriter(dst, r.fields['general.architecture'].contents())
for k, f in r.fields.items():
    if k.startswith('GGUF.') or k == 'general.architecture':
        continue
    vt = f.types[0]
    if vt == gguf.GGUFValueType.ARRAY:
        w.add_key_value(k, f.contents(), vt, sub_type=f.types[-1])
    else:
        w.add_key_value(k, f.contents(), vt)
for t in r.tensors:
    a = dequantize(t.data, t.tensor_type).astype(np.float32).reshape([int(x) for x in reversed(t.shape)])
    w.add_tensor(t.name, a, raw_dtype=gguf.GGMLQuantizationType.F32)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f'wrote {dst}')
