// The cpu's ceilings for the benchmarks' roofline (bench/lib/ceiling.ts): the vector FMA peak and
// the read and copy bandwidth, each on every core this process may run on. A benchmark row is
// held to these; a row above them is a measurement error, so they must be the hardware's, not
// what one of our kernels happens to reach.
//
// The FMA loop is chosen at run time from the CPU's features (AVX-512, else AVX2+FMA, else plain
// C++), not from the -march the addon was built with: XPU_MARCH=x86-64-v3 builds still measure an
// AVX-512 machine's real peak. std::thread, not OpenMP: the compute thread owns the one OpenMP
// pool (queue.cc), and a second pool on the JS thread made libgomp throttle its waits. The JS face
// is probe_binding.cc.
#include "probe.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define XPU_PROBE_X86 1
#endif

namespace xpu::compute {
namespace {

using Clock = std::chrono::steady_clock;

int UsableCores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Runs work(thread, threads) on `threads` threads `passes` times and returns each pass's seconds.
// The calling thread is worker 0: on a 2-core machine a coordinator spinning beside two workers
// would take a core from them. Workers are started once; each pass begins when the caller bumps
// `generation`, so thread creation is never timed.
std::vector<double> TimedPasses(int threads, int passes, const std::function<void(int, int)>& work) {
  std::atomic<int> generation{0};
  std::atomic<int> done{0};
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; t++) {
    pool.emplace_back([&, t] {
      for (int g = 1; g <= passes; g++) {
        while (generation.load(std::memory_order_acquire) < g) std::this_thread::yield();
        work(t, threads);
        done.fetch_add(1, std::memory_order_acq_rel);
      }
    });
  }
  std::vector<double> seconds;
  for (int g = 1; g <= passes; g++) {
    const auto t0 = Clock::now();
    generation.store(g, std::memory_order_release);
    work(0, threads);
    while (done.load(std::memory_order_acquire) < (threads - 1) * g) std::this_thread::yield();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  for (auto& th : pool) th.join();
  return seconds;
}

// ---- FMA ----------------------------------------------------------------------------------------
// Independent chains a = a * b + c: enough of them that the FMA units never wait on a result
// (latency 4 x 2 ports = 8 in flight on Intel cores; 16 zmm / 12 ymm chains leave slack).
// b and c come from the caller so the compiler cannot fold the loop; a converges to c / (1 - b),
// so nothing overflows or turns subnormal however long it runs.

#ifdef XPU_PROBE_X86
// The sum of a vector's lanes (GCC 12's _mm512_reduce_add_ps warns from inside its own header).
__attribute__((target("avx512f"))) float Lanes(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float r = 0;
  for (float x : lanes) r += x;
  return r;
}

constexpr int kChains512 = 16;
__attribute__((target("avx512f"))) float FmaAvx512(uint64_t iters, float b0, float c0) {
  __m512 a[kChains512];
  for (int i = 0; i < kChains512; i++) a[i] = _mm512_set1_ps(c0 + 0.01f * i);
  const __m512 b = _mm512_set1_ps(b0), c = _mm512_set1_ps(c0);
  for (uint64_t n = 0; n < iters; n++) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains512; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
  }
  __m512 s = a[0];
  for (int i = 1; i < kChains512; i++) s = _mm512_add_ps(s, a[i]);
  return Lanes(s);
}

constexpr int kChains256 = 12;
__attribute__((target("avx2,fma"))) float FmaAvx2(uint64_t iters, float b0, float c0) {
  __m256 a[kChains256];
  for (int i = 0; i < kChains256; i++) a[i] = _mm256_set1_ps(c0 + 0.01f * i);
  const __m256 b = _mm256_set1_ps(b0), c = _mm256_set1_ps(c0);
  for (uint64_t n = 0; n < iters; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains256; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
  }
  __m256 s = a[0];
  for (int i = 1; i < kChains256; i++) s = _mm256_add_ps(s, a[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float r = 0;
  for (float v : lanes) r += v;
  return r;
}
#endif

// Whatever the compiler makes of plain C++ (NEON on arm64, SSE2 on an old x86-64 build).
constexpr int kChainsGeneric = 32;
float FmaGeneric(uint64_t iters, float b, float c) {
  float a[kChainsGeneric];
  for (int i = 0; i < kChainsGeneric; i++) a[i] = c + 0.01f * i;
  for (uint64_t n = 0; n < iters; n++) {
    for (int i = 0; i < kChainsGeneric; i++) a[i] = a[i] * b + c;
  }
  float s = 0;
  for (float v : a) s += v;
  return s;
}

struct FmaKernel {
  const char* isa;
  int lanes;   // floats per vector
  int chains;  // independent vectors per iteration
  float (*fn)(uint64_t, float, float);
};

FmaKernel PickFma() {
#ifdef XPU_PROBE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {"avx512f", 16, kChains512, FmaAvx512};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"avx2+fma", 8, kChains256, FmaAvx2};
#endif
  return {"generic C++", 1, kChainsGeneric, FmaGeneric};
}

// ---- bandwidth ----------------------------------------------------------------------------------

struct Buffer {
  float* p = nullptr;
  size_t n = 0;
  explicit Buffer(size_t bytes) : n(bytes / sizeof(float)) {
    p = static_cast<float*>(std::aligned_alloc(4096, ((bytes + 4095) / 4096) * 4096));
  }
  ~Buffer() { std::free(p); }
};

// Thread t's share of n floats, in whole 64-byte lines.
std::pair<size_t, size_t> Share(size_t n, int t, int threads) {
  const size_t lines = n / 16;
  const size_t lo = lines * t / threads * 16, hi = lines * (t + 1) / threads * 16;
  return {lo, t == threads - 1 ? n : hi};
}

#ifdef XPU_PROBE_X86
__attribute__((target("avx512f"))) float SumAvx512(const float* p, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_add_ps(s0, _mm512_load_ps(p + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(p + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(p + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(p + i + 48));
  }
  float r = Lanes(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  for (; i < n; i++) r += p[i];
  return r;
}
__attribute__((target("avx2"))) float SumAvx2(const float* p, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  float r = 0;
  for (float v : lanes) r += v;
  for (; i < n; i++) r += p[i];
  return r;
}
#endif

float SumGeneric(const float* p, size_t n) {
  float s[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) s[j] += p[i + j];
  float r = 0;
  for (float v : s) r += v;
  for (; i < n; i++) r += p[i];
  return r;
}

using SumFn = float (*)(const float*, size_t);
SumFn PickSum(const char** isa) {
#ifdef XPU_PROBE_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return *isa = "avx512f", SumAvx512;
  if (__builtin_cpu_supports("avx2")) return *isa = "avx2", SumAvx2;
#endif
  return *isa = "generic C++", SumGeneric;
}

}  // namespace

FmaProbe ProbeFma(uint64_t iters, int passes) {
  const FmaKernel k = PickFma();
  const int threads = UsableCores();
  std::vector<float> sink(threads);
  // b and c from the environment's point of view are run-time values.
  const float b = 0.5f + 1e-9f * static_cast<float>(passes), c = 0.25f;
  FmaProbe r;
  r.seconds = TimedPasses(threads, passes, [&](int t, int) { sink[t] += k.fn(iters, b, c); });
  r.flopsPerPass = 2.0 * k.lanes * k.chains * static_cast<double>(iters) * threads;
  r.isa = k.isa;
  r.threads = threads;
  for (float v : sink) r.checksum += v;
  return r;
}

// Every core sums its share of one buffer (each thread first touches its own share, so its pages
// are where it runs).
BandwidthProbe ProbeRead(size_t bytes, int passes) {
  Buffer buf(bytes);
  if (!buf.p) throw std::bad_alloc();
  const char* isa = "";
  const SumFn sum = PickSum(&isa);
  const int threads = UsableCores();
  std::vector<float> sink(threads);
  // Pass 0 writes the buffer (first touch, page faults); it is not returned.
  BandwidthProbe r;
  r.seconds = TimedPasses(threads, passes + 1, [&](int t, int n) {
    auto [lo, hi] = Share(buf.n, t, n);
    if (sink[t] == 0) {
      for (size_t i = lo; i < hi; i++) buf.p[i] = 1.0f;
      sink[t] = 1;
    } else {
      sink[t] += sum(buf.p + lo, hi - lo);
    }
  });
  r.seconds.erase(r.seconds.begin());
  r.bytesPerPass = static_cast<double>(buf.n) * sizeof(float);
  r.method = std::string("sum, ") + isa;
  r.threads = threads;
  return r;
}

// Every core memcpy's its share of one buffer into another.
BandwidthProbe ProbeCopy(size_t bytes, int passes) {
  Buffer src(bytes), dst(bytes);
  if (!src.p || !dst.p) throw std::bad_alloc();
  const int threads = UsableCores();
  std::vector<char> touched(threads);
  BandwidthProbe r;
  r.seconds = TimedPasses(threads, passes + 1, [&](int t, int n) {
    auto [lo, hi] = Share(src.n, t, n);
    if (!touched[t]) {
      for (size_t i = lo; i < hi; i++) src.p[i] = dst.p[i] = 1.0f;
      touched[t] = 1;
    } else {
      std::memcpy(dst.p + lo, src.p + lo, (hi - lo) * sizeof(float));
    }
  });
  r.seconds.erase(r.seconds.begin());
  r.bytesPerPass = 2.0 * static_cast<double>(src.n) * sizeof(float);
  r.method = "memcpy";
  r.threads = threads;
  return r;
}

}  // namespace xpu::compute
