// The worker thread behind every collective call; see engine.h for why it is shaped this way.
#include "engine.h"

#include <thread>

namespace xpu::coll {

Engine::Engine(Napi::Env env, const char* name) {
  tsfn_ = Tsfn::New(env, name, 0, 1, this);
  // Idle engines must not keep the process alive; Submit() refs while a call is pending.
  tsfn_.Unref(env);
  std::thread([this] { Loop(); }).detach();
}

Napi::Promise Engine::Submit(Napi::Env env, std::unique_ptr<Task> task) {
  task->deferred.emplace(Napi::Promise::Deferred::New(env));
  Napi::Promise promise = task->deferred->Promise();
  if (stopped_) {
    Napi::Error err = Napi::Error::New(env, "the collective engine was finalized; no call can run after destroyProcessGroup()");
    err.Set("code", kErrState);
    task->deferred->Reject(err.Value());
    return promise;
  }
  if (pending_++ == 0 && !abandoned_) tsfn_.Ref(env);
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(task.release());
  }
  cv_.notify_one();
  return promise;
}

bool Engine::RunSync(std::unique_ptr<Task> task, int ms) {
  auto signal = std::make_shared<SyncSignal>();
  task->sync = signal;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(task.release());
  }
  cv_.notify_one();
  std::unique_lock<std::mutex> lock(signal->mu);
  return signal->cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return signal->done; });
}

void Engine::Abandon(Napi::Env env) {
  if (!abandoned_ && pending_ > 0) tsfn_.Unref(env);
  abandoned_ = true;
}

void Engine::CallJs(Napi::Env env, Napi::Function, Engine* self, Task* task) {
  if (env == nullptr) return;  // the environment is shutting down: leak the task, its references die with it
  std::unique_ptr<Task> owned(task);
  if (--self->pending_ == 0 && !self->abandoned_) self->tsfn_.Unref(env);
  if (task->status.ok()) {
    Napi::Object result = Napi::Object::New(env);
    result.Set("seconds", task->seconds);
    task->Fill(env, result);
    task->deferred->Resolve(result);
  } else {
    Napi::Error err = Napi::Error::New(env, task->status.message);
    err.Set("code", task->status.code);
    task->deferred->Reject(err.Value());
  }
}

void Engine::Complete(Task* task) {
  task->seconds = SecondsSince(task->started);
  if (task->sync) {
    std::shared_ptr<SyncSignal> signal = task->sync;
    delete task;
    std::lock_guard<std::mutex> lock(signal->mu);
    signal->done = true;
    signal->cv.notify_all();
    return;
  }
  // After env teardown the thread-safe function may be freed: stop calling it (leak the task).
  if (closed_) return;
  if (tsfn_.NonBlockingCall(task) != napi_ok) closed_ = true;
}

void Engine::Loop() {
  // Polling back-off while only in-flight (non-blocking) calls remain: starts short so a
  // point-to-point exchange completes quickly, grows so a long wait costs little CPU.
  auto backoff = std::chrono::microseconds(20);
  for (;;) {
    Task* next = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (queue_.empty()) {
        if (stop_ && inflight_.empty()) {
          stopped_ = true;
          return;
        }
        if (inflight_.empty()) {
          cv_.wait(lock, [&] { return !queue_.empty(); });
        } else {
          cv_.wait_for(lock, backoff, [&] { return !queue_.empty(); });
        }
      }
      if (!queue_.empty()) {
        next = queue_.front();
        queue_.pop_front();
      }
    }
    bool progressed = false;
    if (next) {
      next->started = std::chrono::steady_clock::now();
      if (next->Start()) Complete(next);
      else inflight_.push_back(next);
      progressed = true;
    }
    for (size_t i = 0; i < inflight_.size();) {
      if (inflight_[i]->Poll()) {
        Complete(inflight_[i]);
        inflight_.erase(inflight_.begin() + static_cast<std::ptrdiff_t>(i));
        progressed = true;
      } else {
        ++i;
      }
    }
    backoff = progressed ? std::chrono::microseconds(20) : std::min(backoff * 2, std::chrono::microseconds(1000));
  }
}

void* BufferArg(const Napi::Value& v, const char* what, Task& task, size_t* bytes) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a TypedArray");
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  *bytes = a.ByteLength();
  task.keep.push_back(Napi::Persistent(a.As<Napi::Object>()));
  Napi::ArrayBuffer ab = a.ArrayBuffer();
  return static_cast<uint8_t*>(ab.Data()) + a.ByteOffset();
}

}  // namespace xpu::coll
