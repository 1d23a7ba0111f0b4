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
// setOnDone(fn) }. onDone(id, error|undefined) is called on the JS thread once per job, in order.
void ExportQueue(Napi::Env env, Napi::Object target);

}  // namespace xpu::compute
