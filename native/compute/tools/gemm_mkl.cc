// Probe: oneMKL (Intel's PyPI wheels, GNU OpenMP threading) against what the addon runs with
// Debian's oneDNN (native/compute/gemm.cc: the matmul primitive, dnnl_sgemm, and our streaming
// GEMV for few rows), on the shapes of `bench gemm --device cpu`. The measurement behind the
// choice of library for the CPU GEMM. Not part of the addon build.
//
//   bash scripts/fetch-mkl.sh            # .cache/mkl (lib/, include/)
//   g++ -O3 -march=native -fopenmp -std=c++17 -o /tmp/gemm_mkl native/compute/tools/gemm_mkl.cc \
//       native/compute/gemv.cc -Inative/compute -I.cache/mkl/include -ldnnl \
//       -L.cache/mkl/lib -Wl,-rpath,$PWD/.cache/mkl/lib -lmkl_gf_lp64 -lmkl_gnu_thread -lmkl_core
//   GOMP_SPINCOUNT=3000 /tmp/gemm_mkl [M,N,K[,t] ...]   # t: B as a Linear weight W [N, K]
//
// Each shape's implementations run in turn, repetition by repetition (a load change hits them
// alike), on operands rotated through more than twice the 260 MiB L3, as the benchmark does.
// Prints GFLOP/s of the median and best repetition, and the ratio to the addon's current path.
#include <mkl_cblas.h>
#include <mkl_service.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gemv.h"

using Clock = std::chrono::steady_clock;

struct Shape {
  int M, N, K;
  bool linear;  // B = W^T with W [N, K] row-major (a Linear weight); else B [K, N] row-major
};

int main(int argc, char** argv) {
  std::vector<Shape> shapes;
  for (int s : {256, 512, 1024, 2048, 4096}) shapes.push_back({s, s, s, false});
  for (int m : {1, 16, 128, 2048}) {
    shapes.push_back({m, 4096, 4096, true});
    shapes.push_back({m, 14336, 4096, true});
    shapes.push_back({m, 4096, 14336, true});
  }
  if (argc > 1) {
    shapes.clear();
    for (int i = 1; i < argc; i++) {
      Shape s{};
      char t = 0;
      int n = std::sscanf(argv[i], "%d,%d,%d,%c", &s.M, &s.N, &s.K, &t);
      if (n >= 3) {
        s.linear = t == 't';
        shapes.push_back(s);
      }
    }
  }
  MKLVersion mv;
  mkl_get_version(&mv);
  const dnnl_version_t* dv = dnnl_version();
  std::printf("oneMKL %d.%d.%d (%s), %d threads; oneDNN %d.%d.%d\n", mv.MajorVersion, mv.MinorVersion, mv.UpdateVersion, mv.Processor, mkl_get_max_threads(), dv->major, dv->minor, dv->patch);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  using dt = dnnl::memory::data_type;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
  const double rotateBytes = 600.0 * (1 << 20);
  std::printf("%5s %6s %6s %s | %-10s %8s %8s | %-10s %8s %8s | mkl/ours\n", "M", "N", "K", "L", "ours", "median", "best", "mkl", "median", "best");
  for (const Shape& sh : shapes) {
    const int64_t M = sh.M, N = sh.N, K = sh.K;
    const double setBytes = 4.0 * (M * K + K * N + M * N);
    const int sets = std::max(1, static_cast<int>(rotateBytes / setBytes + 0.999));
    std::vector<std::vector<float>> A(sets), B(sets), C(sets);
    for (int s = 0; s < sets; s++) {
      A[s].resize(M * K);
      B[s].resize(K * N);
      C[s].resize(M * N);
      for (auto& v : A[s]) v = dist(rng);
      for (auto& v : B[s]) v = dist(rng);
    }
    const double flops = 2.0 * M * N * K;
    // Roughly 0.3 s of work per repetition at ~200 GFLOP/s or ~20 GB/s, at least one op.
    const int ops = std::max(1, static_cast<int>(std::min(6e10 / flops, 6e9 / (4.0 * K * N))));
    const int reps = 9;
    // Ours: what gemm.cc runs. Linear weight with M <= 4: GemvF32; M <= 4 otherwise dnnl_sgemm;
    // else the matmul primitive (B strided as the weight is stored).
    std::string oursName;
    std::function<void(int)> ours;
    dnnl::memory::desc ad({M, K}, dt::f32, dnnl::memory::dims{K, 1});
    dnnl::memory::desc bd({K, N}, dt::f32, sh.linear ? dnnl::memory::dims{1, K} : dnnl::memory::dims{N, 1});
    dnnl::memory::desc cd({M, N}, dt::f32, dnnl::memory::dims{N, 1});
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, cd), eng);
    dnnl::matmul mm(pd);
    if (sh.linear && M <= 4) {
      oursName = "gemv.cc";
      ours = [&](int s) { xpu::compute::GemvF32(A[s].data(), M, K, B[s].data(), K, N, K, 1.0f, C[s].data(), N); };
    } else if (M <= 4) {
      oursName = "dnnl_sgemm";
      ours = [&](int s) { dnnl_sgemm('N', 'N', M, N, K, 1.0f, A[s].data(), K, B[s].data(), N, 0.0f, C[s].data(), N); };
    } else {
      oursName = "dnnl";
      ours = [&](int s) {
        dnnl::memory am(ad, eng, A[s].data()), bm(bd, eng, B[s].data()), cm(cd, eng, C[s].data());
        mm.execute(strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
        strm.wait();
      };
    }
    std::string mklName = M == 1 && sh.linear ? "sgemv" : "sgemm";
    std::function<void(int)> mkl = [&](int s) {
      if (M == 1 && sh.linear) cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, B[s].data(), K, A[s].data(), 1, 0.0f, C[s].data(), 1);
      else cblas_sgemm(CblasRowMajor, CblasNoTrans, sh.linear ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A[s].data(), K, B[s].data(), sh.linear ? K : N, 0.0f, C[s].data(), N);
    };
    std::vector<std::function<void(int)>*> impls = {&ours, &mkl};
    std::vector<std::vector<double>> t(impls.size());
    int next = 0;
    for (int r = -1; r < reps; r++) {
      for (size_t i = 0; i < impls.size(); i++) {
        auto a = Clock::now();
        for (int o = 0; o < ops; o++) (*impls[i])(next++ % sets);
        double sec = std::chrono::duration<double>(Clock::now() - a).count() / ops;
        if (r >= 0) t[i].push_back(sec);
      }
    }
    auto g = [&](double sec) { return flops / sec / 1e9; };
    double med[2], best[2];
    for (int i = 0; i < 2; i++) {
      std::sort(t[i].begin(), t[i].end());
      med[i] = g(t[i][t[i].size() / 2]);
      best[i] = g(t[i][0]);
    }
    std::printf("%5lld %6lld %6lld %s | %-10s %8.1f %8.1f | %-10s %8.1f %8.1f | %.2fx\n", (long long)M, (long long)N, (long long)K, sh.linear ? "t" : "-", oursName.c_str(), med[0], best[0], mklName.c_str(), med[1], best[1], med[1] / med[0]);
    std::fflush(stdout);
  }
}
