// Probe: the streaming f32 GEMV (gemv.cc) against dnnl_sgemm and OpenBLAS on a Linear weight
// W [4096, 4096] (C = A W^T, M = 1, 2, 4, 8 rows), two weights in rotation so neither stays in
// the 32 MiB L3. The measurement behind gemm.cc's F32GemvMaxM. Not part of the addon build.
//
//   g++ -O3 -march=native -fopenmp -std=c++17 -o /tmp/gemv_probe native/compute/tools/gemv_probe.cc \
//       native/compute/gemv.cc -Inative/compute -ldnnl -lopenblas
//   env -u OPENBLAS_CORETYPE OMP_WAIT_POLICY=PASSIVE /tmp/gemv_probe
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "gemv.h"

using Clock = std::chrono::steady_clock;

int main() {
  const int64_t N = 4096, K = 4096;
  const int sets = 2, reps = 40, warmup = 3;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
  std::vector<std::vector<float>> W(sets, std::vector<float>(N * K));
  for (auto& w : W) for (auto& v : w) v = dist(rng);
  std::vector<float> x(8 * K), c(8 * N);
  for (auto& v : x) v = dist(rng);
  const char* names[] = {"gemv.cc", "dnnl_sgemm", "openblas"};
  for (int M : {1, 2, 4, 8}) {
    for (int impl = 0; impl < 3; impl++) {
      std::vector<double> t;
      for (int r = 0; r < warmup + reps; r++) {
        const float* w = W[r % sets].data();
        auto a = Clock::now();
        if (impl == 0) {
          xpu::compute::GemvF32(x.data(), M, K, w, K, N, K, 1.0f, c.data(), N);
        } else if (impl == 1) {
          if (M == 1) dnnl_sgemm('N', 'N', N, 1, K, 1.0f, w, K, x.data(), 1, 0.0f, c.data(), 1);
          else dnnl_sgemm('N', 'T', M, N, K, 1.0f, x.data(), K, w, K, 0.0f, c.data(), N);
        } else {
          if (M == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, w, K, x.data(), 1, 0.0f, c.data(), 1);
          else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x.data(), K, w, K, 0.0f, c.data(), N);
        }
        if (r >= warmup) t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
      }
      std::sort(t.begin(), t.end());
      const double ms = t[t.size() / 2];
      std::printf("M=%d %-10s %.3f ms  %.1f GB/s of weight\n", M, names[impl], ms, N * K * 4 / ms / 1e6);
    }
  }
}
