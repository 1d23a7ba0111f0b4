// Check: the int8-activation GGUF linear (qgemm_gguf_q8.cc) gives the same bits on its three code
// paths, the portable scalar C++, AVX2 (vpmaddubsw) and AVX-512 VNNI (256- and 512-bit tiles):
// build it for three targets and compare the printed hashes of the outputs (q4_0, q4_1, q8_0;
// M = 1, 3, 6; random data). Not part of the addon build.
//
//   for m in x86-64 haswell native; do
//     g++ -std=c++17 -O2 -march=$m -fopenmp -Inative/compute -I$(node -p "require('path').join(process.execPath,'../../include/node')") \
//       -I$(node -p "require('node-addon-api').include_dir") native/compute/qgemm_gguf_q8.cc native/compute/tools/q8_paths.cc -o /tmp/q8-$m
//     /tmp/q8-$m
//   done
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
#include "qgemm_gguf.h"
#include "half.h"
using namespace xpu::compute;
int main() {
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(-2, 2);
  unsigned long long h = 1469598103934665603ull;
  for (GgufFormat f : {GgufFormat::Q4_0, GgufFormat::Q4_1, GgufFormat::Q8_0}) {
    for (int M : {1, 3, 6}) {
      GgufPlan p;
      p.fmt = f; p.info = GgufBlockOf(f); p.M = M; p.N = 23; p.K = 96; p.B = 3;
      std::vector<uint8_t> q(p.N * p.B * p.info.qBytes), s(p.N * p.B * p.info.scaleBytes);
      for (auto& b : q) b = g() & 255;
      for (size_t i = 0; i < s.size(); i += 2) { uint16_t v = FloatToHalf(u(g) * 0.05f); std::memcpy(&s[i], &v, 2); }
      std::vector<float> x(M * p.K), C(M * p.N);
      for (auto& v : x) v = u(g);
      p.q = reinterpret_cast<const char*>(q.data()); p.s = reinterpret_cast<const char*>(s.data());
      GgufQ8Matmul(p, x.data(), C.data());
      for (float v : C) { unsigned int b; std::memcpy(&b, &v, 4); h = (h ^ b) * 1099511628211ull; }
    }
  }
  std::printf("%016llx\n", h);
}
