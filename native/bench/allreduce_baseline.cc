// The reference for bench/collectives.ts: the same MPI_Allreduce (float32, sum) from plain C++,
// timed the way the TypeScript ranks time theirs, so the two differ only by what xpu.dist adds
// (the Promise, the worker thread, the agreement check, the tensor wrapping).
//
// usage: mpirun -n N allreduce_baseline BYTES:WARMUP:ITERS [...]
// Rank 0 prints one line per size and placement:
//   ROW {"impl":"c++ baseline","coll":"allReduce","inPlace":true,"bytes":...,"count":...,"times_us":[...],"wrong":0}
// Each time is the slowest rank's for that iteration (every iteration starts after a barrier).
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Size {
  long long bytes;
  int warmup;
  int iters;
};

// The value rank r holds at element i: small integers, so every sum is exact in float.
float Value(int r, long long i) { return static_cast<float>((r + 1) * (i % 7 + 1)); }

void Run(const Size& s, bool inPlace, int rank, int n) {
  const long long count = s.bytes / 4;
  std::vector<float> send(inPlace ? 0 : count), recv(count);
  float* src = inPlace ? recv.data() : send.data();
  for (long long i = 0; i < count; i++) src[i] = Value(rank, i);
  MPI_Allreduce(inPlace ? MPI_IN_PLACE : send.data(), recv.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  long long wrong = 0;
  const float ranksSum = static_cast<float>(n * (n + 1) / 2);
  for (long long i = 0; i < count; i++) wrong += recv[i] != ranksSum * static_cast<float>(i % 7 + 1);

  std::vector<double> times(s.iters);
  for (int k = 0; k < s.warmup + s.iters; k++) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    MPI_Allreduce(inPlace ? MPI_IN_PLACE : send.data(), recv.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    const double t1 = MPI_Wtime();
    if (k >= s.warmup) times[k - s.warmup] = (t1 - t0) * 1e6;
  }
  std::vector<double> slowest(s.iters);
  MPI_Reduce(times.data(), slowest.data(), s.iters, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  long long wrongAll = 0;
  MPI_Reduce(&wrong, &wrongAll, 1, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank != 0) return;
  std::string t;
  for (int k = 0; k < s.iters; k++) t += (k ? "," : "") + std::to_string(slowest[k]);
  std::printf("ROW {\"impl\":\"c++ baseline\",\"coll\":\"allReduce\",\"device\":\"cpu\",\"inPlace\":%s,\"bytes\":%lld,\"count\":%lld,\"times_us\":[%s],\"wrong\":%lld}\n",
              inPlace ? "true" : "false", count * 4, count, t.c_str(), wrongAll);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, n = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  for (int a = 1; a < argc; a++) {
    Size s{};
    if (std::sscanf(argv[a], "%lld:%d:%d", &s.bytes, &s.warmup, &s.iters) != 3 || s.bytes < 4 || s.iters < 1) {
      if (rank == 0) std::fprintf(stderr, "allreduce_baseline: bad size spec '%s' (BYTES:WARMUP:ITERS)\n", argv[a]);
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
    Run(s, false, rank, n);
    Run(s, true, rank, n);
  }
  MPI_Finalize();
  return 0;
}
