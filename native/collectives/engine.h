// The worker that runs a collective engine's calls off the JS thread.
//
// Every call (a Task) is queued by the JS thread and run, in the order it was queued, on one
// dedicated thread per engine. Order matters: MPI and oneCCL require every rank to issue its
// collectives in the same order, and a single queue keeps the order the program wrote. One thread
// per engine also means the engine only ever sees one calling thread, so MPI can run at
// MPI_THREAD_FUNNELED (the thread that called MPI_Init is the only one that calls MPI).
//
// A Task either finishes in Start() (blocking collectives) or is kept "in flight" and polled
// between queued tasks (non-blocking point-to-point), so a pending recv does not stop the queue.
// Results go back to the JS thread through a thread-safe function, which resolves the Task's
// Promise there. The thread is detached and never joined: a call stuck in the engine (a peer that
// died) must not keep the process from exiting.
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace xpu::coll {

// Error codes the TypeScript side maps onto XpuDistError kinds.
inline constexpr const char* kErrMismatch = "XPU_DIST_MISMATCH";  // ranks disagree on a call
inline constexpr const char* kErrEngine = "XPU_DIST_ENGINE";      // the engine returned an error
inline constexpr const char* kErrState = "XPU_DIST_STATE";        // not initialised, finalised...

struct Status {
  std::string code;  // empty when the call succeeded
  std::string message;
  bool ok() const { return code.empty(); }
  static Status Error(const char* code, std::string message) { return Status{code, std::move(message)}; }
};

// How a RunSync() caller waits for its task; shared, because the caller may stop waiting first.
struct SyncSignal {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

class Task {
 public:
  virtual ~Task() = default;
  // Worker thread. Returns true when the call is complete (status set), false to be polled.
  virtual bool Start() = 0;
  // Worker thread, for tasks whose Start() returned false. True when complete.
  virtual bool Poll() { return true; }
  // JS thread: extra fields of the object the Promise resolves with.
  virtual void Fill(Napi::Env, Napi::Object&) {}

  Status status;
  // Seconds spent from Start() to completion, inside the engine (staging is timed by the caller).
  double seconds = 0;
  std::chrono::steady_clock::time_point started;
  // Buffers the worker reads or writes: referenced so the GC keeps them while the call runs.
  std::vector<Napi::ObjectReference> keep;
  std::optional<Napi::Promise::Deferred> deferred;
  // Set for RunSync() tasks, which report to a waiting JS thread instead of a Promise. Such tasks
  // hold no JS references, so the worker deletes them itself.
  std::shared_ptr<SyncSignal> sync;
};

class Engine {
 public:
  // JS thread. `name` appears in async hooks and errors.
  Engine(Napi::Env env, const char* name);

  // JS thread: queues `task` (which references its buffers) and returns its Promise.
  Napi::Promise Submit(Napi::Env env, std::unique_ptr<Task> task);

  // JS thread, at exit: queues `task` and waits up to `ms` for it; false if it did not finish
  // (the worker is stuck in an earlier call). The JS event loop is not running then.
  bool RunSync(std::unique_ptr<Task> task, int ms);

  // JS thread: stop keeping the event loop alive for calls that may never return (after a
  // timeout), so the process can exit; their Promises were already rejected by the caller.
  void Abandon(Napi::Env env);

  // Worker thread (from a task): the thread ends once the queue and in-flight calls are done.
  void StopAfterQueue() { stop_ = true; }

  // True once the worker thread has ended (after StopAfterQueue): Submit() then rejects at once.
  bool stopped() const { return stopped_.load(); }

  int pending() const { return pending_; }

 private:
  static void CallJs(Napi::Env env, Napi::Function, Engine* self, Task* task);
  void Loop();
  void Complete(Task* task);

  using Tsfn = Napi::TypedThreadSafeFunction<Engine, Task, &Engine::CallJs>;
  Tsfn tsfn_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task*> queue_;
  std::vector<Task*> inflight_;  // worker thread only
  bool stop_ = false;            // worker thread only
  std::atomic<bool> stopped_{false};
  bool closed_ = false;          // worker thread only: the thread-safe function is gone (env teardown)
  int pending_ = 0;              // JS thread only: calls whose Promise is unsettled
  bool abandoned_ = false;       // JS thread only
};

// Seconds since `t`, for Task::seconds.
inline double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Reads a JS TypedArray argument as (pointer, bytes) and references it in `task` so it stays
// alive while the worker uses it. Throws a TypeError naming `what` otherwise.
void* BufferArg(const Napi::Value& v, const char* what, Task& task, size_t* bytes);

}  // namespace xpu::coll
