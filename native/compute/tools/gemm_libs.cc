// Probe: oneDNN against OpenBLAS on this machine, the measurement behind the choice of oneDNN for
// the addon's GEMM (native/compute/gemm.cc). Not part of the addon build.
//
//   g++ -O2 -o /tmp/gemm_libs native/compute/tools/gemm_libs.cc -ldnnl -lopenblas
//   /tmp/gemm_libs                         # OpenBLAS with whatever OPENBLAS_CORETYPE says
//   env -u OPENBLAS_CORETYPE /tmp/gemm_libs
//
// Prints GFLOP/s (median of several runs) per shape for: OpenBLAS cblas_sgemm (B as is, and B
// transposed as a Linear weight), oneDNN's matmul primitive (same two layouts), dnnl_sgemm; and
// the kernels each library chose (OpenBLAS core name, oneDNN implementation).
#include <cblas.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

extern "C" char* openblas_get_config();
extern "C" char* openblas_get_corename();

using Clock = std::chrono::steady_clock;

template <class F>
double Median(F f, int reps) {
  f();
  std::vector<double> t;
  for (int i = 0; i < reps; i++) {
    auto a = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main(int argc, char** argv) {
  std::printf("OpenBLAS: %s (core %s); OPENBLAS_CORETYPE=%s\n", openblas_get_config(), openblas_get_corename(), getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
  std::vector<std::array<int, 3>> shapes = {{256, 256, 256},   {512, 512, 512},   {1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096},
                                           {1, 4096, 4096},   {16, 4096, 4096},  {128, 4096, 4096},  {128, 14336, 4096}, {2048, 4096, 4096}};
  // Or shapes from the command line: M,N,K ...
  if (argc > 1) {
    shapes.clear();
    for (int i = 1; i < argc; i++) {
      std::array<int, 3> s{};
      if (std::sscanf(argv[i], "%d,%d,%d", &s[0], &s[1], &s[2]) == 3) shapes.push_back(s);
    }
  }
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  std::printf("%5s %5s %5s | %9s %9s | %9s %9s | %10s %10s | impl\n", "M", "N", "K", "blas", "blas B^T", "dnnl", "dnnl B^T", "dnnl_sgemm", "sgemm B^T");
  for (auto& sh : shapes) {
    const int M = sh[0], N = sh[1], K = sh[2];
    std::vector<float> A((size_t)M * K), B((size_t)K * N), C((size_t)M * N);
    for (auto& x : A) x = rand() / (float)RAND_MAX - 0.5f;
    for (auto& x : B) x = rand() / (float)RAND_MAX - 0.5f;
    const double fl = 2.0 * M * N * K;
    const int reps = fl > 1e11 ? 3 : fl > 1e9 ? 7 : 25;
    double blas = Median([&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, A.data(), K, B.data(), N, 0, C.data(), N); }, reps);
    double blasT = Median([&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, A.data(), K, B.data(), K, 0, C.data(), N); }, reps);
    dnnl::memory::desc ad({M, K}, dt::f32, tag::ab), bd({K, N}, dt::f32, tag::ab), btd({K, N}, dt::f32, tag::ba), cd({M, N}, dt::f32, tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, cd), eng), pdT(dnnl::matmul::desc(ad, btd, cd), eng);
    dnnl::matmul mm(pd), mmT(pdT);
    dnnl::memory am(ad, eng, A.data()), bm(bd, eng, B.data()), btm(btd, eng, B.data()), cm(cd, eng, C.data());
    double dn = Median([&] { mm.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}}); s.wait(); }, reps);
    double dnT = Median([&] { mmT.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, btm}, {DNNL_ARG_DST, cm}}); s.wait(); }, reps);
    double sg = Median([&] { dnnl_sgemm('N', 'N', M, N, K, 1, A.data(), K, B.data(), N, 0, C.data(), N); }, reps);
    double sgT = Median([&] { dnnl_sgemm('N', 'T', M, N, K, 1, A.data(), K, B.data(), K, 0, C.data(), N); }, reps);
    auto g = [&](double t) { return fl / t / 1e9; };
    std::printf("%5d %5d %5d | %9.1f %9.1f | %9.1f %9.1f | %10.1f %10.1f | %s / %s\n", M, N, K, g(blas), g(blasT), g(dn), g(dnT), g(sg), g(sgT), pd.impl_info_str(), pdT.impl_info_str());
    std::fflush(stdout);
  }
}
