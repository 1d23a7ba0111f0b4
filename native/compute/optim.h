// The fused optimizer step on cpu (optim.cc) as plain C++: the rule, its hyperparameters, the
// segments of a parameter group and the runner. The JS face (compute.optimStepNow) is
// optim_binding.cc; the TypeScript side is src/backends/cpu/optim.ts.
#pragma once

#include <cstdint>
#include <vector>

namespace xpu::compute {

// Shared with src/backends/cpu/optim.ts.
enum OptimRule : int { kSgd = 0, kAdam = 1, kAdamW = 2 };

// The group's hyperparameters, already in the form the update reads (float32, as the twin):
// damp1 = 1 - dampening, omb1 = 1 - b1, omb2 = 1 - b2, decay = 1 - lr wd (AdamW).
struct OptimHyper {
  int rule = kSgd;
  bool amsgrad = false, nesterov = false, maximize = false;
  float lr = 0, wd = 0, mom = 0, damp1 = 0, b1 = 0, omb1 = 0, b2 = 0, omb2 = 0, eps = 0, decay = 0;
};

// One parameter of the group: n floats of the parameter p (updated in place), its gradient g and
// the state ranges the rule reads (s0: momentum or exp_avg, s1: exp_avg_sq, s2: max_exp_avg_sq;
// null when unused), each already checked to hold n floats (optim_binding.cc).
struct OptimSegment {
  float* p = nullptr;
  const float* g = nullptr;
  float *s0 = nullptr, *s1 = nullptr, *s2 = nullptr;
  int64_t n = 0;
  float stepSize = 0, bc2Sqrt = 1;
  bool first = false;  // SGD: the momentum buffer starts as the gradient
};

// Updates every segment on the calling thread (the caller holds OpenMP to one thread).
void RunOptimStep(const OptimHyper& hyper, const std::vector<OptimSegment>& segments);

}  // namespace xpu::compute
