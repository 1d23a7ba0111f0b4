// The inline team: helper threads that let a small kernel running on the JS thread (a `...Now`
// entry point) use the other cores without starting an OpenMP pool there.
//
// Why not OpenMP: libgomp gives every thread that opens a parallel region its own pool, and once
// the JS thread's pool and the compute thread's pool both exist libgomp counts more threads than
// cores and throttles every wait (queue.h, SingleThreadedHere). Why not the compute queue: handing a
// 50 us decode GEMV to it and back costs two futex wake-ups each way, more than the GEMV itself
// (bench/results/README.md, "Queueing the layer GEMVs"). The team's helpers instead spin on an
// atomic for a short while after each task (the way llama.cpp's CPU threadpool keeps its threads
// hot between a decode step's ops), so a split costs about a cache-line round trip, and then sleep
// on a condition variable; they also stop spinning while the compute queue runs a job, whose
// OpenMP threads own the cores then.
//
// One caller at a time, process-wide: a second JS thread (a worker_thread) that finds the team busy
// runs its kernel alone, as before. The helpers run with OpenMP limited to one thread, so a kernel
// that calls oneMKL or opens an OpenMP loop inside its part stays on its own thread.
#pragma once

#include <cstdint>
#include <functional>

#include "queue.h"

namespace xpu::compute {

// Runs body(begin, end) over [0, count) split into contiguous parts that the team's threads claim
// (the calling thread among them), and returns when every part is done. Without a team
// (one core, OMP_NUM_THREADS=1, XPU_CPU_INLINE_THREADS=1, the team busy, or count < 2) the calling
// thread runs body(0, count) alone. An exception thrown by a part is rethrown here once every part
// is done.
// partsPerThread: how finely to cut (more parts balance a core that another process holds; fewer
// suit kernels with a per-call setup, such as a BLAS call packing its operands).
void InlineSplit(int64_t count, const std::function<void(int64_t, int64_t)>& body, int partsPerThread = 4);

// True on a thread inside an InlineTeamHere scope: kernels then split their rows with
// InlineSplit instead of an OpenMP loop.
bool InlineTeamActive();

// For the `...Now` entry points: OpenMP limited to this thread (SingleThreadedHere, queue.h) and
// the inline team enabled for the scope's lifetime, with as many threads as OpenMP would have used.
class InlineTeamHere {
 public:
  InlineTeamHere();
  ~InlineTeamHere();

 private:
  SingleThreadedHere one_;  // noncopyable, so this is too
  bool previousActive_;
};

// What the JS side and tests see: the team's threads (before it is made: the threads it would
// have on this thread; 1 means no helpers) and how many calls it has split so far.
struct InlineTeamStats {
  int threads;
  uint64_t splits;
};
InlineTeamStats InlineTeamStatsNow();

// Set by the compute queue's worker around each job: the helpers sleep instead of spinning then.
void NoteQueueJobRunning(bool running);

}  // namespace xpu::compute
