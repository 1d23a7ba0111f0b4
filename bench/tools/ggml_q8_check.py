"""llama.cpp's own int8-activation arithmetic on random data, for bench/tools/ggml_q8_check.ts.

Loads node-llama-cpp's prebuilt libggml-cpu (the CPU variant named on the command line) with
ctypes, quantizes random activation rows with its quantize_row_q8_0 / quantize_row_q8_1 and
multiplies them with random q4_0 / q4_1 / q8_0 weight rows through its ggml_vec_dot_*_q8_*, and
writes inputs and results as JSON. Usage:
  python3 bench/tools/ggml_q8_check.py [zen4|cooperlake|icelake|haswell|...] /tmp/ggml_q8.json
"""
import ctypes
import json
import random
import struct
import sys

BINS = 'node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/'
variant = sys.argv[1] if len(sys.argv) > 1 else 'zen4'
out_path = sys.argv[2] if len(sys.argv) > 2 else '/tmp/ggml_q8.json'
ctypes.CDLL(BINS + 'libggml-base.so', mode=ctypes.RTLD_GLOBAL)
cpu = ctypes.CDLL(BINS + 'libggml-cpu-' + variant + '.so')
cpu.ggml_cpu_init()
rnd = random.Random(18)


def half(v):
    return struct.unpack('<H', struct.pack('<e', v))[0]


def f32(v):
    return struct.unpack('f', struct.pack('f', v))[0]


cases = []
for fmt, n, k in [('q4_0', 13, 96), ('q4_1', 13, 96), ('q8_0', 13, 96), ('q4_1', 7, 576), ('q8_0', 7, 576)]:
    blocks = k // 32
    x = [f32(rnd.gauss(0, 1) * 2 ** rnd.randrange(-3, 3)) for _ in range(k)]
    raw = b''
    for _ in range(n * blocks):
        d = struct.pack('<H', half(rnd.uniform(0.001, 0.05)))
        if fmt == 'q4_1':
            raw += d + struct.pack('<H', half(rnd.uniform(-0.3, 0.1))) + bytes(rnd.randrange(256) for _ in range(16))
        elif fmt == 'q4_0':
            raw += d + bytes(rnd.randrange(256) for _ in range(16))
        else:
            raw += d + bytes(rnd.randrange(-127, 128) & 255 for _ in range(32))
    xa = (ctypes.c_float * k)(*x)
    y = ctypes.create_string_buffer(blocks * (36 if fmt == 'q4_1' else 34))
    (cpu.quantize_row_q8_1 if fmt == 'q4_1' else cpu.quantize_row_q8_0)(xa, y, ctypes.c_int64(k))
    dot = {'q4_0': cpu.ggml_vec_dot_q4_0_q8_0, 'q4_1': cpu.ggml_vec_dot_q4_1_q8_1, 'q8_0': cpu.ggml_vec_dot_q8_0_q8_0}[fmt]
    row = len(raw) // n
    res = []
    for i in range(n):
        s = ctypes.c_float()
        w = ctypes.create_string_buffer(raw[i * row:(i + 1) * row], row)
        dot(ctypes.c_int(k), ctypes.byref(s), ctypes.c_size_t(0), w, ctypes.c_size_t(0), y, ctypes.c_size_t(0), ctypes.c_int(1))
        res.append(s.value)
    cases.append({'format': fmt, 'n': n, 'k': k, 'x': x, 'w': list(raw), 'ggml': res})
json.dump({'variant': variant, 'cases': cases}, open(out_path, 'w'))
print(f'wrote {len(cases)} cases from libggml-cpu-{variant} to {out_path}')
