// The oneCCL backend: the same calls as mpi_backend.cc through oneCCL's C++ API, on the engine's
// worker thread (create_communicator and event.wait() block). Built as the plugin xpu_ccl.so,
// which links libccl (plugin.h); binding.gyp builds it only when it found oneCCL (XPU_HAVE_CCL).
//
// Rendezvous, as PyTorch's XCCL backend: rank 0 creates the main KVS (createMainKvs) and shares
// its address through the TypeScript store; every rank then calls init({rank, size, address}).
// Differences from MPI, documented in README: float16 reductions are oneCCL's own; reduceScatter
// with unequal parts is an all-reduce followed by a copy of this rank's part; point-to-point has
// no probe, so a recv cannot tell a message of another size or dtype from its own.
#include "backend.h"
#include "plugin.h"

#ifdef XPU_HAVE_CCL
#include <oneapi/ccl.hpp>
#include <oneapi/ccl/config.h>

#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <string>
#include <vector>

#include "agree.h"

namespace xpu::coll {
namespace {

struct State {
  bool initialized = false;
  bool finalized = false;
  std::shared_ptr<ccl::kvs> kvs;
  std::vector<std::unique_ptr<ccl::communicator>> comms;  // by id; nullptr once freed
};
State g;  // worker thread only

ccl::datatype TypeOf(DType d) {
  switch (d) {
    case DType::kFloat32: return ccl::datatype::float32;
    case DType::kFloat16: return ccl::datatype::float16;
    case DType::kInt32: return ccl::datatype::int32;
    case DType::kInt8: return ccl::datatype::int8;
    case DType::kUint8: return ccl::datatype::uint8;
  }
  return ccl::datatype::float32;
}

ccl::reduction OpOf(RedOp o) {
  switch (o) {
    case RedOp::kMax: return ccl::reduction::max;
    case RedOp::kMin: return ccl::reduction::min;
    case RedOp::kProd: return ccl::reduction::prod;
    default: return ccl::reduction::sum;  // AVG is SUM, then a division
  }
}

// Runs `fn` and turns oneCCL's exceptions into a Status.
template <typename F>
Status Guard(const char* what, F fn) {
  try {
    fn();
    return Status{};
  } catch (const std::exception& e) {
    return Status::Error(kErrEngine, std::string(what) + " failed: " + e.what());
  }
}

Status Ready(int id, ccl::communicator** comm) {
  if (!g.initialized) return Status::Error(kErrState, "oneCCL is not initialised in this process");
  if (g.finalized) return Status::Error(kErrState, "oneCCL was finalised (destroyProcessGroup) in this process");
  if (id < 0 || id >= static_cast<int>(g.comms.size()) || !g.comms[id]) {
    return Status::Error(kErrState, "communicator " + std::to_string(id) + " does not exist (destroyed group?)");
  }
  *comm = g.comms[id].get();
  return Status{};
}

Status ArgError(const Call& c, const std::string& what) {
  return Status::Error(kErrState, std::string(KindName(static_cast<int>(c.kind))) + ": " + what);
}

std::vector<size_t> Sizes(const std::vector<int>& v) { return std::vector<size_t>(v.begin(), v.end()); }

size_t Sum(const std::vector<int>& v) {
  size_t s = 0;
  for (int x : v) s += static_cast<size_t>(x);
  return s;
}

Status RunCollective(Call& c) {
  ccl::communicator* comm = nullptr;
  Status s = Ready(c.comm, &comm);
  if (!s.ok()) return s;
  const int n = comm->size(), me = comm->rank();
  if (c.check) {
    s = Agree(c, [comm](int64_t* v, int k) {
      return Guard("ccl::allreduce (agreement check)", [&] { ccl::allreduce(v, v, k, ccl::datatype::int64, ccl::reduction::max, *comm).wait(); });
    });
    if (!s.ok()) return s;
  }
  const ccl::datatype t = TypeOf(c.dtype);
  const size_t item = ItemSize(c.dtype);
  switch (c.kind) {
    case Kind::kAllReduce:
      s = Guard("ccl::allreduce", [&] { ccl::allreduce(c.send ? c.send : c.recv, c.recv, c.recvCount, t, OpOf(c.op), *comm).wait(); });
      if (s.ok() && c.op == RedOp::kAvg) DivideInPlace(c.recv, c.recvCount, c.dtype, n);
      return s;
    case Kind::kBroadcast:
      if (c.root < 0 || c.root >= n) return ArgError(c, "root " + std::to_string(c.root) + " is not a rank of a group of " + std::to_string(n));
      return Guard("ccl::broadcast", [&] { ccl::broadcast(c.recv, c.recvCount, t, c.root, *comm).wait(); });
    case Kind::kAllGather:
      if (c.recvCount != c.sendCount * n) return ArgError(c, "output must hold world size x input elements");
      return Guard("ccl::allgatherv", [&] { ccl::allgatherv(c.send, c.sendCount, c.recv, std::vector<size_t>(n, c.sendCount), t, *comm).wait(); });
    case Kind::kExchangeCounts:
      if (c.mode == 0) {
        if (c.sendCount != 1 || static_cast<int>(c.recvCount) != n) return ArgError(c, "bad count exchange buffers");
        return Guard("ccl::allgatherv (counts)", [&] { ccl::allgatherv(c.send, 1, c.recv, std::vector<size_t>(n, 1), ccl::datatype::int32, *comm).wait(); });
      }
      if (static_cast<int>(c.sendCount) != n || static_cast<int>(c.recvCount) != n) return ArgError(c, "bad count exchange buffers");
      return Guard("ccl::alltoall (counts)", [&] { ccl::alltoall(c.send, c.recv, 1, ccl::datatype::int32, *comm).wait(); });
    case Kind::kAllGatherV:
      if (static_cast<int>(c.recvCounts.size()) != n || Sum(c.recvCounts) != c.recvCount || static_cast<size_t>(c.recvCounts[me]) != c.sendCount) {
        return ArgError(c, "counts do not match the buffers");
      }
      return Guard("ccl::allgatherv", [&] { ccl::allgatherv(c.send, c.sendCount, c.recv, Sizes(c.recvCounts), t, *comm).wait(); });
    case Kind::kReduceScatter: {
      if (static_cast<int>(c.recvCounts.size()) != n || Sum(c.recvCounts) != c.sendCount || static_cast<size_t>(c.recvCounts[me]) != c.recvCount) {
        return ArgError(c, "counts do not match the buffers");
      }
      bool equal = true;
      for (int x : c.recvCounts) equal = equal && x == c.recvCounts[0];
      if (equal) {
        s = Guard("ccl::reduce_scatter", [&] { ccl::reduce_scatter(c.send, c.recv, c.recvCount, t, OpOf(c.op), *comm).wait(); });
      } else {
        // oneCCL's reduce_scatter takes one count for every rank: reduce all, keep this rank's part.
        std::vector<uint8_t> full(c.sendCount * item);
        s = Guard("ccl::allreduce (reduceScatter)", [&] { ccl::allreduce(c.send, full.data(), c.sendCount, t, OpOf(c.op), *comm).wait(); });
        size_t offset = 0;
        for (int r = 0; r < me; r++) offset += static_cast<size_t>(c.recvCounts[r]);
        if (s.ok()) std::memcpy(c.recv, full.data() + offset * item, c.recvCount * item);
      }
      if (s.ok() && c.op == RedOp::kAvg) DivideInPlace(c.recv, c.recvCount, c.dtype, n);
      return s;
    }
    case Kind::kAllToAllV: {
      if (static_cast<int>(c.sendCounts.size()) != n || static_cast<int>(c.recvCounts.size()) != n || Sum(c.sendCounts) != c.sendCount || Sum(c.recvCounts) != c.recvCount) {
        return ArgError(c, "splits do not add up to the buffers");
      }
      if (c.check) {
        // Each peer's count for me must be what I expect; all ranks learn the verdict together.
        std::vector<int> incoming(n);
        s = Guard("ccl::alltoall (split check)", [&] { ccl::alltoall(c.sendCounts.data(), incoming.data(), 1, ccl::datatype::int32, *comm).wait(); });
        if (!s.ok()) return s;
        int bad = -1;
        for (int j = 0; j < n && bad < 0; j++) if (incoming[j] != c.recvCounts[j]) bad = j;
        int32_t verdict = bad >= 0 ? n - me : 0;
        s = Guard("ccl::allreduce (split check)", [&] { ccl::allreduce(&verdict, &verdict, 1, ccl::datatype::int32, ccl::reduction::max, *comm).wait(); });
        if (!s.ok()) return s;
        if (verdict != 0) {
          return Status::Error(kErrMismatch, bad >= 0 ? "allToAll: rank " + std::to_string(bad) + " sends " + std::to_string(incoming[bad]) + " elements to rank " + std::to_string(me) +
                                                            ", which expects " + std::to_string(c.recvCounts[bad]) + " (outputSplits)"
                                                      : "allToAll: split sizes disagree between ranks (rank " + std::to_string(n - verdict) + " receives a different count than its peer sends)");
        }
      }
      return Guard("ccl::alltoallv", [&] { ccl::alltoallv(c.send, Sizes(c.sendCounts), c.recv, Sizes(c.recvCounts), t, *comm).wait(); });
    }
    case Kind::kBarrier:
      return Guard("ccl::barrier", [&] { ccl::barrier(*comm).wait(); });
    default:
      return ArgError(c, "not a collective");
  }
}

class CollectiveTask : public Task {
 public:
  explicit CollectiveTask(Call c) : c_(std::move(c)) {}
  bool Start() override {
    status = RunCollective(c_);
    return true;
  }

 private:
  Call c_;
};

// Point-to-point is started and then polled (event.test()), so a rank may send and receive at
// once on the single worker thread.
//
// oneCCL's send/recv have no tag, and with several transfers in flight between the same two ranks
// it does not pair them in the order they were issued: a 3-element recv got a 100003-element
// message, libfabric reported truncation, and oneCCL aborted the process (a 4-rank ring of three
// sends and three recvs at once). So per (communicator, peer, direction) one transfer is in flight
// at a time, in the order issued (a ticket each): the k-th send to a peer meets the k-th recv there,
// which is the order xpu.dist promises (same-tag messages arrive in the order sent; with oneCCL the
// tag itself is not matched). Sends and recvs in the two directions still overlap (no deadlock).
struct P2pLine {
  uint64_t issued = 0, served = 0;
};
std::map<std::tuple<int, int, bool>, P2pLine> g_p2pLines;  // worker thread only

class PointToPointTask : public Task {
 public:
  explicit PointToPointTask(Call c) : c_(std::move(c)) {}
  bool Start() override {
    if (!(status = Ready(c_.comm, &comm_)).ok()) return true;
    key_ = {c_.comm, c_.root, c_.kind == Kind::kSend};
    ticket_ = g_p2pLines[key_].issued++;
    ticketed_ = true;
    return Poll();
  }
  bool Poll() override {
    if (!ev_) {
      if (g_p2pLines[key_].served != ticket_) return false;  // an earlier transfer on this line first
      const bool isSend = c_.kind == Kind::kSend;
      status = Guard(isSend ? "ccl::send" : "ccl::recv", [&] {
        ev_ = std::make_unique<ccl::event>(isSend ? ccl::send(c_.send, c_.sendCount, TypeOf(c_.dtype), c_.root, *comm_)
                                                  : ccl::recv(c_.recv, c_.recvCount, TypeOf(c_.dtype), c_.root, *comm_));
      });
      if (!status.ok()) return Done();
    }
    bool done = false;
    status = Guard("ccl::event::test", [&] { done = ev_->test(); });
    return done || !status.ok() ? Done() : false;
  }
  void Fill(Napi::Env, Napi::Object& out) override {
    if (c_.kind != Kind::kRecv) return;
    out.Set("source", c_.root);
    out.Set("count", static_cast<double>(c_.recvCount));
  }

 private:
  // The transfer is over: the next one on this line may start.
  bool Done() {
    if (ticketed_) {
      ticketed_ = false;
      auto it = g_p2pLines.find(key_);
      if (it != g_p2pLines.end() && ++it->second.served == it->second.issued) g_p2pLines.erase(it);
    }
    return true;
  }

  Call c_;
  ccl::communicator* comm_ = nullptr;
  std::tuple<int, int, bool> key_{};
  uint64_t ticket_ = 0;
  bool ticketed_ = false;
  std::unique_ptr<ccl::event> ev_;
};

class CreateMainKvsTask : public Task {
 public:
  bool Start() override {
    status = Guard("ccl::create_main_kvs", [&] {
      ccl::init();
      g.kvs = ccl::create_main_kvs();
      address_ = g.kvs->get_address();
    });
    return true;
  }
  void Fill(Napi::Env env, Napi::Object& out) override {
    out.Set("address", Napi::Buffer<char>::Copy(env, address_.data(), address_.size()));
  }

 private:
  ccl::kvs::address_type address_{};
};

class InitTask : public Task {
 public:
  InitTask(int rank, int size, const ccl::kvs::address_type& address) : rank_(rank), size_(size), address_(address) {}
  bool Start() override {
    if (g.initialized || g.finalized) {
      status = Status::Error(kErrState, "oneCCL was already initialised in this process");
      return true;
    }
    status = Guard("ccl::create_communicator", [&] {
      ccl::init();
      if (rank_ != 0 || !g.kvs) g.kvs = ccl::create_kvs(address_);
      g.comms.clear();
      g.comms.push_back(std::make_unique<ccl::communicator>(ccl::create_communicator(size_, rank_, g.kvs)));
    });
    if (status.ok()) g.initialized = true;
    return true;
  }
  void Fill(Napi::Env, Napi::Object& out) override {
    out.Set("rank", g.comms.empty() ? -1 : g.comms[0]->rank());
    out.Set("size", g.comms.empty() ? 0 : g.comms[0]->size());
    out.Set("library", "oneCCL " + std::to_string(ccl::get_library_version().major) + "." + std::to_string(ccl::get_library_version().minor) + "." +
                           std::to_string(ccl::get_library_version().update));
  }

 private:
  int rank_, size_;
  ccl::kvs::address_type address_;
};

// oneCCL changed communicator::split: 2021.14 takes a comm_split_attr (color only; ranks keep
// their parent order), 2021.16 (Intel's PyPI wheel) takes (color, key). Whichever the headers
// have is used; the other overload is never instantiated.
template <typename Comm>
auto SplitComm(Comm& parent, int color, int key, int) -> decltype(parent.split(color, key)) {
  return parent.split(color, key);
}
template <typename Comm>
ccl::communicator SplitComm(Comm& parent, int color, int, long) {
  return parent.split(ccl::preview::create_comm_split_attr(ccl::attr_val<ccl::comm_split_attr_id::color>(color)));
}

class SplitTask : public Task {
 public:
  SplitTask(int comm, int color, int key) : comm_(comm), color_(color), key_(key) {}
  bool Start() override {
    ccl::communicator* parent = nullptr;
    if (!(status = Ready(comm_, &parent)).ok()) return true;
    // oneCCL orders a split's ranks by their parent rank (newGroup sorts ranks the same way), and
    // every rank gets a communicator: non-members share one of their own, which is dropped.
    const int color = color_ < 0 ? (1 << 24) : color_;
    std::unique_ptr<ccl::communicator> sub;
    status = Guard("ccl::communicator::split", [&] {
      sub = std::make_unique<ccl::communicator>(SplitComm(*parent, color, key_, 0));
    });
    if (status.ok() && color_ >= 0) {
      id_ = static_cast<int>(g.comms.size());
      g.comms.push_back(std::move(sub));
    }
    return true;
  }
  void Fill(Napi::Env, Napi::Object& out) override { out.Set("comm", id_); }

 private:
  int comm_, color_, key_, id_ = -1;
};

class FreeTask : public Task {
 public:
  explicit FreeTask(int comm) : comm_(comm) {}
  bool Start() override {
    ccl::communicator* c = nullptr;
    if (comm_ == 0 || !(status = Ready(comm_, &c)).ok()) return true;
    g.comms[comm_].reset();
    return true;
  }

 private:
  int comm_;
};

class FinalizeTask : public Task {
 public:
  bool Start() override {
    if (g.initialized && !g.finalized) {
      // No collective here: destroyProcessGroup() runs a checked barrier first, and at process
      // exit a collective could pair with a call still pending on another rank.
      g.comms.clear();
      g.kvs.reset();
    }
    g.finalized = true;
    CclBackend()->engine->StopAfterQueue();
    return true;
  }
};

class Ccl : public Backend {
 public:
  const char* name() const override { return "xpu-dist-ccl"; }
  std::unique_ptr<Task> MakeInit(const Napi::Object& o) override {
    ccl::kvs::address_type address{};
    if (o.Has("address") && o.Get("address").IsTypedArray()) {
      Napi::TypedArray a = o.Get("address").As<Napi::TypedArray>();
      const uint8_t* p = static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
      std::memcpy(address.data(), p, std::min(address.size(), a.ByteLength()));
    }
    auto num = [&](const char* k) { return o.Get(k).IsNumber() ? o.Get(k).As<Napi::Number>().Int32Value() : -1; };
    return std::make_unique<InitTask>(num("rank"), num("size"), address);
  }
  std::unique_ptr<Task> MakeCall(Call call) override {
    if (call.kind == Kind::kSend || call.kind == Kind::kRecv) return std::make_unique<PointToPointTask>(std::move(call));
    return std::make_unique<CollectiveTask>(std::move(call));
  }
  std::unique_ptr<Task> MakeSplit(int comm, int color, int key) override { return std::make_unique<SplitTask>(comm, color, key); }
  std::unique_ptr<Task> MakeFree(int comm) override { return std::make_unique<FreeTask>(comm); }
  std::unique_ptr<Task> MakeFinalize() override { return std::make_unique<FinalizeTask>(); }
  void AddExtras(Napi::Env env, Napi::Object& o) override {
    o.Set("createMainKvs", Napi::Function::New(env, [this](const Napi::CallbackInfo& info) {
      if (!engine) engine = new Engine(info.Env(), name());
      return engine->Submit(info.Env(), std::make_unique<CreateMainKvsTask>());
    }, "createMainKvs"));
  }
};

}  // namespace

Backend* CclBackend() {
  static Ccl backend;
  return &backend;
}

namespace {
// What plugins.cc reports as buildInfo().ccl: the headers' version and the install built against.
void FillInfo(PluginInfo* info) {
#ifdef CCL_PRODUCT_FULL
  info->version = CCL_PRODUCT_FULL;
#endif
#ifdef XPU_CCL_ROOT_DIR
  info->root = XPU_CCL_ROOT_DIR;
#endif
}
}  // namespace

}  // namespace xpu::coll

XPU_COLL_DEFINE_PLUGIN(xpu::coll::CclBackend, xpu::coll::FillInfo)

#else

namespace xpu::coll {
Backend* CclBackend() { return nullptr; }
}  // namespace xpu::coll

#endif
