// The native f32 GEMM (gemm.cc) as plain C++: a parsed request, its plan and the runners. The JS
// face (reading the descriptor, the compute queue) is gemm_binding.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xpu::compute {

// One operand (a, b, bias, residual): typed-array memory read at offset + batch index . bstrides
// + row s0 + column s1 (elements; 0 where broadcast).
struct GemmOperand {
  bool present = false;
  const char* base = nullptr;  // data of the typed array (the whole ArrayBuffer view)
  size_t bytes = 0;
  bool f16 = false;
  int64_t offset = 0;             // elements
  std::vector<int64_t> bstrides;  // one per batch dim
  int64_t s0 = 0, s1 = 0;         // row and column strides of the 2-D matrix
  // Decided by the plan:
  bool pack = false;   // copy into a dense f32 scratch on the worker
  float scale = 1.0f;  // applied while packing (beta for the bias)
};

// out[batch..., m, n] = act(alpha * a @ b + beta * bias) + residual, every operand already checked
// to lie inside its array (gemm_binding.cc).
struct GemmRequest {
  int64_t m = 0, n = 0, k = 0;
  std::vector<int64_t> batch;
  GemmOperand a, b, bias, res;
  char* out = nullptr;  // dense [batch..., m, n], float32 or float16 bits
  bool outF16 = false;
  std::vector<uint64_t> deps;  // pending compute-queue jobs that write this job's inputs
  double alpha = 1.0, beta = 1.0;
  int act = 0;  // 0 none, 1 relu, 2 gelu (erf), 3 silu
};

// A planned GEMM (layouts chosen, the oneDNN primitive built); gemm.cc has its parts.
struct GemmPlan;

// Whether the GEMM is compiled in (built with oneDNN). Without it the functions below are absent.
bool HaveGemm();

// JS thread. Plans the request: batch folding, in-place or packed operands, the path (matmul
// primitive, dnnl_sgemm, the f16 / f32 streaming GEMVs) and the primitive, created here so an
// unsupported case is known before anything is queued. onJsThread: the plan will run on the
// calling thread (RunGemmNow), which takes dnnl_sgemm over a primitive. Throws
// std::runtime_error("oneDNN cannot run this case: ...") when oneDNN refuses the case.
std::shared_ptr<GemmPlan> PlanGemm(GemmRequest req, bool onJsThread);

// The compute thread: runs the plan as queue job `id`; "" or the error. A plan whose deps include a
// job that failed fails too.
std::string RunGemmJob(const GemmPlan& plan, uint64_t id);

// The calling thread (under SingleThreadedHere, queue.h): runs the plan; "" or the error.
std::string RunGemmNow(const GemmPlan& plan);

// What compute.info() reports: oneDNN's version and ISA, and counters of the planner's choices.
struct GemmLibraryInfo {
  bool present = false;  // false: built without oneDNN, nothing else is set
  std::string version, isa, runtime;
  int threads = 0;
  uint64_t calls = 0, folded = 0, packedA = 0, packedB = 0, refImpl = 0, cacheHits = 0;
  std::string lastImpl;
  // oneMKL beside oneDNN (XPU_HAVE_MKL): its version ("" when not built with it), the ISA branch it
  // dispatched to (avx512_e1, avx2, ...), and whether XPU_CPU_MKL leaves it on.
  std::string mklVersion, mklIsa;
  bool mklEnabled = false;
};
GemmLibraryInfo GemmInfo();

}  // namespace xpu::compute
