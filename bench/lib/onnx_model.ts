/**
 * A tiny ONNX model writer for the onnxruntime peer: one MatMul node (optionally with its B input
 * transposed first, as a Linear weight [N, K] is stored), written as protobuf bytes by hand. The
 * ONNX schema is stable and we need four messages, so no protobuf library is pulled in.
 *
 * Field numbers (onnx.proto3): ModelProto{ir_version=1, graph=7, opset_import=8},
 * OperatorSetIdProto{domain=1, version=2}, GraphProto{node=1, name=2, input=11, output=12},
 * NodeProto{input=1, output=2, name=3, op_type=4, attribute=5}, AttributeProto{name=1, type=20,
 * ints=8}, ValueInfoProto{name=1, type=2}, TypeProto{tensor_type=1},
 * TypeProto.Tensor{elem_type=1, shape=2}, TensorShapeProto{dim=1}, Dimension{dim_value=1}.
 */

class Writer {
  private bytes: number[] = [];

  varint(v: number): this {
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      this.bytes.push(b);
    } while (x > 0n);
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }

  bytesField(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }

  message(field: number, m: Writer): this {
    return this.bytesField(field, m.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const FLOAT = 1;
const FLOAT16 = 10;
const ATTR_INTS = 7;

function valueInfo(name: string, dims: number[], elemType: number): Writer {
  const shape = new Writer();
  for (const d of dims) shape.message(1, new Writer().int(1, d));
  const tensor = new Writer().int(1, elemType).message(2, shape);
  return new Writer().string(1, name).message(2, new Writer().message(1, tensor));
}

/**
 * Y[M, N] = A[M, K] @ B, with B an input of [K, N], or of [N, K] when `transB` (then a Transpose
 * node feeds MatMul, which ORT's graph optimizer folds into the GEMM's packing).
 */
export function matmulModel(m: number, n: number, k: number, opts: { transB?: boolean; float16?: boolean } = {}): Uint8Array {
  const et = opts.float16 ? FLOAT16 : FLOAT;
  const graph = new Writer();
  let bName = 'B';
  if (opts.transB) {
    const perm = new Writer().string(1, 'perm').int(20, ATTR_INTS).int(8, 1).int(8, 0);
    graph.message(1, new Writer().string(1, 'B').string(2, 'Bt').string(3, 'transpose_b').string(4, 'Transpose').message(5, perm));
    bName = 'Bt';
  }
  graph.message(1, new Writer().string(1, 'A').string(1, bName).string(2, 'Y').string(3, 'matmul').string(4, 'MatMul'));
  graph.string(2, 'xpu_bench_matmul');
  graph.message(11, valueInfo('A', [m, k], et));
  graph.message(11, valueInfo('B', opts.transB ? [n, k] : [k, n], et));
  graph.message(12, valueInfo('Y', [m, n], et));
  return new Writer()
    .int(1, 8) // IR version 8 (ONNX 1.10+)
    .message(8, new Writer().string(1, '').int(2, 17))
    .message(7, graph)
    .finish();
}
