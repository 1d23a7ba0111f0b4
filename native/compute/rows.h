// Row kernels on float32 rows (rows.cc) as plain C++: the op codes, the plan and its runner. The
// JS face (compute.rowOp / reduceRows / rotary and their ...Now) is rows_binding.cc.
#pragma once

#include <cstdint>
#include <vector>

namespace xpu::compute {

namespace row_ops {
// Shared with src/backends/cpu/native_rows.ts.
enum RowOp : int { kSoftmax = 0, kLogSoftmax = 1, kLayerNorm = 2, kRmsNorm = 3 };
enum ReduceOp : int { kSum = 0, kMean = 1, kMax = 2, kMin = 3 };
// What a plan runs.
enum Kind : int { kRowOp = 0, kReduce = 1, kRotary = 2 };
}  // namespace row_ops

// rows rows of n contiguous floats, each starting at its own offset (the JS side computed them
// from the view's strides), every row already checked to lie inside its array (rows_binding.cc).
// Row ops write row r at y + yOff[r]; reductions one value per row at y[r]; rotary row r at
// y + r * n, with cos / sin rows at their offsets.
struct RowsPlan {
  int kind = row_ops::kRowOp;
  int op = 0;  // a RowOp or a ReduceOp
  int64_t rows = 0, n = 0;
  const float* x = nullptr;
  std::vector<int64_t> xOff, yOff, cOff, sOff;
  float* y = nullptr;
  const float *w = nullptr, *b = nullptr, *cos = nullptr, *sin = nullptr;  // row ops: weight, bias
  double eps = 0;
};

// Runs the plan on the calling thread (threaded with OpenMP from vexp.h's kParallelMin elements).
void RunRows(const RowsPlan& plan);

}  // namespace xpu::compute
