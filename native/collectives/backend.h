// What a collective engine (MPI, oneCCL) provides to the generic JS binding (binding.cc): tasks
// for each kind of call. Tasks are built on the JS thread and run on the engine's worker thread.
#pragma once

#include <napi.h>

#include <memory>

#include "call.h"
#include "engine.h"

namespace xpu::coll {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // init(options): the engine's own start-up (MPI_Init, or oneCCL's communicator from a KVS).
  virtual std::unique_ptr<Task> MakeInit(const Napi::Object& options) = 0;
  virtual std::unique_ptr<Task> MakeCall(Call call) = 0;
  // A sub-communicator of `comm` holding the ranks that pass the same non-negative color, ordered
  // by key; -1 (color < 0) for ranks outside it. Every rank of `comm` must call it.
  virtual std::unique_ptr<Task> MakeSplit(int comm, int color, int key) = 0;
  virtual std::unique_ptr<Task> MakeFree(int comm) = 0;
  virtual std::unique_ptr<Task> MakeFinalize() = 0;
  // Backend-specific functions added to its JS object (oneCCL's createMainKvs).
  virtual void AddExtras(Napi::Env, Napi::Object&) {}

  // Created by the binding on the first call, from the JS thread; never deleted (see engine.h).
  Engine* engine = nullptr;
};

// The JS object for one backend: init, allReduce, ..., finalize, finalizeSync, abandon.
Napi::Object ExportBackend(Napi::Env env, Backend* backend);

// The engines compiled into this addon (nullptr when not built).
Backend* MpiBackend();
Backend* CclBackend();

}  // namespace xpu::coll
