// The CPU compute queue: one worker thread that runs native CPU kernels (the oneDNN GEMM) off the
// JS thread, in the order the JS thread submitted them.
//
// Every job gets an id (1, 2, 3, ...). Ids complete in order, so "job i is done" is
// `completed >= i`. The JS thread either blocks on a condition variable until a job is done
// (Wait: a synchronous consumer needs the data now; safe because a job never needs the JS thread)
// or is told through a thread-safe function (onDone(id, error)), which resolves the Promises that
// asynchronous consumers await. One thread, not the libuv pool: the kernels parallelise themselves
// (OpenMP inside oneDNN), so two GEMMs side by side would only fight over the same cores.
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>

namespace xpu::compute {

// A job: runs on the worker thread, gets its own id, and returns an error message ("" when it
// succeeded).
using Job = std::function<std::string(uint64_t id)>;

// JS thread. Queues `job` on this env's queue and returns its id. Each Node environment (the main
// thread, a worker_thread) has its own queue and worker thread, stopped when the env goes away.
uint64_t Submit(Napi::Env env, Job job);

// The JS face: { wait(id) -> string|undefined, completed() -> number, submitted() -> number,
// inlineTeam() -> { threads, splits } (inline_team.h), setOnDone(fn) }. onDone(id, error|undefined)
// is called on the JS thread once per job, in order.
void ExportQueue(Napi::Env env, Napi::Object target);

// For the `...Now` entry points, which run a small kernel on the JS thread while the queue is
// idle: OpenMP limited to this one thread for the guard's lifetime. libgomp gives every thread that
// opens a parallel region its own worker pool, and once the JS thread's pool and the compute
// thread's pool both exist there are more libgomp threads than cores, so libgomp cuts every wait
// to a ~100-spin loop and then a futex sleep: oneDNN on the compute thread ran 0.6-0.8x as fast
// after one inline GEMM (a 256^3 loop: 85-130 against 148-168 GFLOP/s). Small kernels run
// single-threaded here, so the JS thread never starts a pool. Kernels whose thread count is fixed
// when they are built (oneDNN primitives) must not run under it; dnnl_sgemm and our OpenMP loops
// read the limit when called.
class SingleThreadedHere {
 public:
  SingleThreadedHere();
  ~SingleThreadedHere();
  SingleThreadedHere(const SingleThreadedHere&) = delete;
  SingleThreadedHere& operator=(const SingleThreadedHere&) = delete;
  // OpenMP's thread count on this thread before the guard (what an inline team may use instead).
  int Previous() const { return previous_; }

 private:
  int previous_;
};

}  // namespace xpu::compute
