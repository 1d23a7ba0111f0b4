#include "queue.h"

#include "inline_team.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

extern "C" int omp_get_max_threads(void);
extern "C" void omp_set_num_threads(int);

namespace xpu::compute {
namespace {

// What reaches the JS thread: job `id` is done (and every job before it), `count` jobs since the
// last notice (the ones whose notices were folded into this one), its error if it failed.
struct Done {
  uint64_t id;
  uint64_t count;
  std::string error;
};

class Queue {
 public:
  explicit Queue(Napi::Env env) {
    // The thread-safe function calls whatever onDone_ holds now (setOnDone may replace it).
    Napi::Function noop = Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
    tsfn_ = Napi::ThreadSafeFunction::New(env, noop, "xpu.compute", 0, 1);
    tsfn_.Unref(env);
    worker_ = std::thread([this] { Run(); });
    // At exit, the worker must be finished before V8 frees the buffers it may still be writing.
    napi_add_env_cleanup_hook(env, [](void* self) { static_cast<Queue*>(self)->Stop(); }, this);
    env_ = env;
  }

  uint64_t Push(Napi::Env env, Job job) {
    uint64_t id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id = ++submitted_;
      jobs_.emplace_back(id, std::move(job));
    }
    cv_.notify_all();
    // The thread-safe function keeps the event loop alive only while a job is pending.
    if (pendingJs_++ == 0) tsfn_.Ref(env);
    return id;
  }

  // Blocks until job `id` is done; its error ("" when it succeeded).
  std::string Wait(uint64_t id) {
    std::unique_lock<std::mutex> lock(mu_);
    doneCv_.wait(lock, [&] { return completed_ >= id || stopped_; });
    auto it = errors_.find(id);
    return it == errors_.end() ? std::string() : it->second;
  }

  uint64_t Completed() {
    std::lock_guard<std::mutex> lock(mu_);
    return completed_;
  }
  uint64_t Submitted() {
    std::lock_guard<std::mutex> lock(mu_);
    return submitted_;
  }

  void SetOnDone(Napi::Function fn) { onDone_ = Napi::Persistent(fn); }

  // JS thread, from the thread-safe function: `count` jobs finished, the last of them `id`.
  void Delivered(Napi::Env env, uint64_t id, uint64_t count) {
    pendingJs_ -= static_cast<int64_t>(count);
    if (pendingJs_ == 0) tsfn_.Unref(env);
    std::lock_guard<std::mutex> lock(mu_);
    errors_.erase(id);  // the JS side keeps it from here on
  }

  void Stop();

  // At env teardown: jobs not started yet are dropped (nobody can read their results any more);
  // the one running is waited for, since it writes into memory the env is about to free.
  void StopWorker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

 private:
  void Run() {
    for (;;) {
      std::pair<uint64_t, Job> next;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) break;  // stopping
        next = std::move(jobs_.front());
        jobs_.pop_front();
      }
      std::string error;
      NoteQueueJobRunning(true);
      try {
        error = next.second(next.first);
      } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "native kernel failed";
      } catch (...) {
        error = "native kernel failed (unknown exception)";
      }
      NoteQueueJobRunning(false);
      next.second = nullptr;  // drop the job's captures on this thread, before it counts as done
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error.empty()) errors_[next.first] = error;
        completed_ = next.first;
      }
      doneCv_.notify_all();
      // One notice per run of queued jobs, not per job: each notice wakes the JS thread, which
      // then takes a core from the OpenMP threads of the next job (a stream of 60 queued 256^3
      // GEMMs woke it 60 times). A job that failed is always reported; the others are folded into
      // the notice of the last job of the run (the JS side counts "every job <= id is done").
      bool more;
      {
        std::lock_guard<std::mutex> lock(mu_);
        more = !jobs_.empty();
      }
      if (more && error.empty()) continue;
      auto* d = new Done{next.first, next.first - notified_, error};
      notified_ = next.first;
      napi_status st = tsfn_.NonBlockingCall(d, [this](Napi::Env env, Napi::Function, Done* d) {
        uint64_t id = d->id, count = d->count;
        Napi::Value err = d->error.empty() ? env.Undefined() : Napi::String::New(env, d->error);
        delete d;
        Delivered(env, id, count);
        if (!onDone_.IsEmpty()) onDone_.Call({Napi::Number::New(env, static_cast<double>(id)), err});
      });
      if (st != napi_ok) delete d;
    }
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    doneCv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable doneCv_;
  std::deque<std::pair<uint64_t, Job>> jobs_;
  std::map<uint64_t, std::string> errors_;
  uint64_t submitted_ = 0;
  uint64_t completed_ = 0;
  bool stopping_ = false;
  bool stopped_ = false;
  int64_t pendingJs_ = 0;  // JS thread only
  uint64_t notified_ = 0;  // worker thread only: the last job id sent to the JS thread
  Napi::ThreadSafeFunction tsfn_;
  Napi::FunctionReference onDone_;  // JS thread only
  std::thread worker_;
  napi_env env_ = nullptr;
};

// One queue per Node environment. A queue is never deleted (its JS references belong to an env
// that is going away when it stops); it is only forgotten, so a later env gets a fresh one.
std::mutex queuesMu;
std::map<napi_env, Queue*> queues;

void Queue::Stop() {
  StopWorker();
  std::lock_guard<std::mutex> lock(queuesMu);
  queues.erase(env_);
}

Queue& Q(Napi::Env env) {
  std::lock_guard<std::mutex> lock(queuesMu);
  Queue*& q = queues[env];
  if (!q) q = new Queue(env);
  return *q;
}

uint64_t IdArg(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "job id must be a number");
  double v = info[0].As<Napi::Number>().DoubleValue();
  if (!(v >= 0)) throw Napi::RangeError::New(info.Env(), "job id must be >= 0");
  return static_cast<uint64_t>(v);
}

}  // namespace

uint64_t Submit(Napi::Env env, Job job) { return Q(env).Push(env, std::move(job)); }

void ExportQueue(Napi::Env env, Napi::Object target) {
  target.Set("wait", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    uint64_t id = IdArg(info);
    std::string err = Q(info.Env()).Wait(id);
    if (err.empty()) return info.Env().Undefined();
    return Napi::String::New(info.Env(), err);
  }, "wait"));
  target.Set("completed", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::Number::New(info.Env(), static_cast<double>(Q(info.Env()).Completed()));
  }, "completed"));
  target.Set("submitted", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::Number::New(info.Env(), static_cast<double>(Q(info.Env()).Submitted()));
  }, "submitted"));
  // inlineTeam() -> { threads, splits }: inline_team.h's team (threads 1: no helpers).
  target.Set("inlineTeam", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    const InlineTeamStats s = InlineTeamStatsNow();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("threads", s.threads);
    o.Set("splits", static_cast<double>(s.splits));
    return o;
  }, "inlineTeam"));
  target.Set("setOnDone", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setOnDone needs a function");
    Q(info.Env()).SetOnDone(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  }, "setOnDone"));
}

SingleThreadedHere::SingleThreadedHere() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
SingleThreadedHere::~SingleThreadedHere() { omp_set_num_threads(previous_); }

}  // namespace xpu::compute
