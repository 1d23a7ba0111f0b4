// The JS face of a collective backend: parses arguments on the JS thread into a Call, hands the
// backend's Task to the engine's worker thread, and returns its Promise. The same object shape is
// exported for every backend (addon.mpi, addon.ccl), so src/distributed/ drives them the same way.
#include <napi.h>

#include <string>

#include "backend.h"

namespace xpu::coll {
namespace {

int IntArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

bool BoolArg(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

DType DTypeArg(const Napi::CallbackInfo& info, size_t i) {
  int d = IntArg(info, i, "dtype");
  if (!ValidDType(d)) throw Napi::RangeError::New(info.Env(), "dtype code out of range: " + std::to_string(d));
  return static_cast<DType>(d);
}

RedOp OpArg(const Napi::CallbackInfo& info, size_t i) {
  int o = IntArg(info, i, "op");
  if (!ValidRedOp(o)) throw Napi::RangeError::New(info.Env(), "reduction code out of range: " + std::to_string(o));
  return static_cast<RedOp>(o);
}

// A data buffer of `dt` elements: pointer and element count, referenced by the task.
void* DataArg(const Napi::CallbackInfo& info, size_t i, const char* what, DType dt, Task& task, size_t* count) {
  size_t bytes = 0;
  void* p = BufferArg(info[i], what, task, &bytes);
  if (bytes % ItemSize(dt) != 0) {
    throw Napi::RangeError::New(info.Env(), std::string(what) + ": " + std::to_string(bytes) + " bytes is not a whole number of " + DTypeName(dt));
  }
  *count = bytes / ItemSize(dt);
  return p;
}

std::vector<int> CountsArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an Int32Array");
  }
  Napi::Int32Array a = info[i].As<Napi::Int32Array>();
  return std::vector<int>(a.Data(), a.Data() + a.ElementLength());
}

Engine& EngineOf(Napi::Env env, Backend* b) {
  if (!b->engine) b->engine = new Engine(env, b->name());  // never deleted: see engine.h
  return *b->engine;
}

using Method = Napi::Value (*)(const Napi::CallbackInfo&, Backend*);

// Submits the task for `call` after its buffers were attached to `task` by the parser.
Napi::Value SubmitCall(const Napi::CallbackInfo& info, Backend* b, Call call, std::unique_ptr<Task> holder) {
  std::unique_ptr<Task> task = b->MakeCall(std::move(call));
  task->keep = std::move(holder->keep);
  return EngineOf(info.Env(), b).Submit(info.Env(), std::move(task));
}

// A scratch task that only collects buffer references while arguments are parsed.
struct Holder : Task {
  bool Start() override { return true; }
};

Napi::Value Init(const Napi::CallbackInfo& info, Backend* b) {
  Napi::Object opts = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(info.Env());
  return EngineOf(info.Env(), b).Submit(info.Env(), b->MakeInit(opts));
}

Napi::Value AllReduce(const Napi::CallbackInfo& info, Backend* b) {
  auto h = std::make_unique<Holder>();
  Call c{Kind::kAllReduce};
  c.comm = IntArg(info, 0, "comm");
  c.dtype = DTypeArg(info, 3);
  c.op = OpArg(info, 4);
  c.check = BoolArg(info, 5);
  if (!info[1].IsNull()) c.send = DataArg(info, 1, "send", c.dtype, *h, &c.sendCount);
  c.recv = DataArg(info, 2, "recv", c.dtype, *h, &c.recvCount);
  if (c.send && c.sendCount != c.recvCount) throw Napi::RangeError::New(info.Env(), "allReduce: send and recv differ in length");
  return SubmitCall(info, b, std::move(c), std::move(h));
}

Napi::Value Broadcast(const Napi::CallbackInfo& info, Backend* b) {
  auto h = std::make_unique<Holder>();
  Call c{Kind::kBroadcast};
  c.comm = IntArg(info, 0, "comm");
  c.dtype = DTypeArg(info, 2);
  c.root = IntArg(info, 3, "root");
  c.check = BoolArg(info, 4);
  c.recv = DataArg(info, 1, "buf", c.dtype, *h, &c.recvCount);
  return SubmitCall(info, b, std::move(c), std::move(h));
}

Napi::Value AllGather(const Napi::CallbackInfo& info, Backend* b) {
  auto h = std::make_unique<Holder>();
  Call c{Kind::kAllGather};
  c.comm = IntArg(info, 0, "comm");
  c.dtype = DTypeArg(info, 3);
  c.check = BoolArg(info, 4);
  c.send = DataArg(info, 1, "send", c.dtype, *h, &c.sendCount);
  c.recv = DataArg(info, 2, "recv", c.dtype, *h, &c.recvCount);
  return SubmitCall(info, b, std::move(c), std::move(h));
}

Napi::Value ExchangeCounts(const Napi::CallbackInfo& info, Backend* b) {
  auto h = std::make_unique<Holder>();
  Call c{Kind::kExchangeCounts};
  c.comm = IntArg(info, 0, "comm");
  c.mode = IntArg(info, 1, "mode");
  c.dtype = DType::kInt32;
  c.send = DataArg(info, 2, "counts", c.dtype, *h, &c.sendCount);
  c.recv = DataArg(info, 3, "out", c.dtype, *h, &c.recvCount);
  c.check = BoolArg(info, 4);
  c.rowSize = IntArg(info, 5, "rowSize");
  return SubmitCall(info, b, std::move(c), std::move(h));
}

Napi::Value AllGatherV(const Napi::CallbackInfo& info, Backend* b) {
  auto h = std::make_unique<Holder>();
  Call c{Kind::kAllGatherV};
  c.comm = IntArg(info, 0, "comm");
  c.recvCounts = CountsArg(info, 3, "recvCounts");
  c.dtype = DTypeArg(info, 4);
  c.check = BoolArg(info, 5);
  c.rowSize = IntArg(info, 6, "rowSize");
  c.send = DataArg(info, 1, "send", c.dtype, *h, &c.sendCount);
  c.recv = DataArg(info, 2, "recv", c.dtype, *h, &c.recvCount);
  return SubmitCall(info, b, std::move(c), std::move(h));
}

Napi::Value ReduceScatter(const Napi::CallbackInfo& info, Backend* b) {
  auto h = std::make_unique<Holder>();
  Call c{Kind::kReduceScatter};
  c.comm = IntArg(info, 0, "comm");
  c.recvCounts = CountsArg(info, 3, "recvCounts");
  c.dtype = DTypeArg(info, 4);
  c.op = OpArg(info, 5);
  c.check = BoolArg(info, 6);
  c.rowSize = IntArg(info, 7, "rowSize");
  c.send = DataArg(info, 1, "send", c.dtype, *h, &c.sendCount);
  c.recv = DataArg(info, 2, "recv", c.dtype, *h, &c.recvCount);
  return SubmitCall(info, b, std::move(c), std::move(h));
}

Napi::Value AllToAllV(const Napi::CallbackInfo& info, Backend* b) {
  auto h = std::make_unique<Holder>();
  Call c{Kind::kAllToAllV};
  c.comm = IntArg(info, 0, "comm");
  c.sendCounts = CountsArg(info, 2, "sendCounts");
  c.recvCounts = CountsArg(info, 4, "recvCounts");
  c.dtype = DTypeArg(info, 5);
  c.check = BoolArg(info, 6);
  c.rowSize = IntArg(info, 7, "rowSize");
  c.send = DataArg(info, 1, "send", c.dtype, *h, &c.sendCount);
  c.recv = DataArg(info, 3, "recv", c.dtype, *h, &c.recvCount);
  return SubmitCall(info, b, std::move(c), std::move(h));
}

Napi::Value Barrier(const Napi::CallbackInfo& info, Backend* b) {
  Call c{Kind::kBarrier};
  c.comm = IntArg(info, 0, "comm");
  c.check = BoolArg(info, 1);
  return SubmitCall(info, b, std::move(c), std::make_unique<Holder>());
}

// send(comm, buf, dtype, peer, tag) and recv(comm, buf, dtype, peer, tag).
Napi::Value PointToPoint(const Napi::CallbackInfo& info, Backend* b, Kind kind) {
  auto h = std::make_unique<Holder>();
  Call c{kind};
  c.comm = IntArg(info, 0, "comm");
  c.dtype = DTypeArg(info, 2);
  c.root = IntArg(info, 3, "peer");
  c.tag = IntArg(info, 4, "tag");
  if (kind == Kind::kSend) c.send = DataArg(info, 1, "buf", c.dtype, *h, &c.sendCount);
  else c.recv = DataArg(info, 1, "buf", c.dtype, *h, &c.recvCount);
  return SubmitCall(info, b, std::move(c), std::move(h));
}

Napi::Value Send(const Napi::CallbackInfo& info, Backend* b) { return PointToPoint(info, b, Kind::kSend); }
Napi::Value Recv(const Napi::CallbackInfo& info, Backend* b) { return PointToPoint(info, b, Kind::kRecv); }

Napi::Value Split(const Napi::CallbackInfo& info, Backend* b) {
  auto task = b->MakeSplit(IntArg(info, 0, "comm"), IntArg(info, 1, "color"), IntArg(info, 2, "key"));
  return EngineOf(info.Env(), b).Submit(info.Env(), std::move(task));
}

Napi::Value FreeComm(const Napi::CallbackInfo& info, Backend* b) {
  return EngineOf(info.Env(), b).Submit(info.Env(), b->MakeFree(IntArg(info, 0, "comm")));
}

Napi::Value Finalize(const Napi::CallbackInfo& info, Backend* b) {
  return EngineOf(info.Env(), b).Submit(info.Env(), b->MakeFinalize());
}

// finalizeSync(ms): for process exit, when the event loop no longer runs. True when finalized.
Napi::Value FinalizeSync(const Napi::CallbackInfo& info, Backend* b) {
  if (!b->engine || b->engine->stopped()) return Napi::Boolean::New(info.Env(), false);
  return Napi::Boolean::New(info.Env(), b->engine->RunSync(b->MakeFinalize(), IntArg(info, 0, "ms")));
}

Napi::Value Abandon(const Napi::CallbackInfo& info, Backend* b) {
  if (b->engine) b->engine->Abandon(info.Env());
  return info.Env().Undefined();
}

Napi::Value Pending(const Napi::CallbackInfo& info, Backend* b) {
  return Napi::Number::New(info.Env(), b->engine ? b->engine->pending() : 0);
}

}  // namespace

Napi::Object ExportBackend(Napi::Env env, Backend* backend) {
  Napi::Object o = Napi::Object::New(env);
  const std::pair<const char*, Method> methods[] = {
      {"init", Init},
      {"allReduce", AllReduce},
      {"broadcast", Broadcast},
      {"allGather", AllGather},
      {"exchangeCounts", ExchangeCounts},
      {"allGatherV", AllGatherV},
      {"reduceScatter", ReduceScatter},
      {"allToAllV", AllToAllV},
      {"barrier", Barrier},
      {"send", Send},
      {"recv", Recv},
      {"split", Split},
      {"freeComm", FreeComm},
      {"finalize", Finalize},
      {"finalizeSync", FinalizeSync},
      {"abandon", Abandon},
      {"pending", Pending},
  };
  for (const auto& [name, fn] : methods) {
    Method m = fn;
    o.Set(name, Napi::Function::New(env, [backend, m](const Napi::CallbackInfo& info) { return m(info, backend); }, name));
  }
  backend->AddExtras(env, o);
  return o;
}

}  // namespace xpu::coll
