// The OpenMPI backend: each Call becomes the matching MPI collective, run on the engine's worker
// thread (the only thread that ever calls MPI, hence MPI_THREAD_FUNNELED). Built as the plugin
// xpu_mpi.so, which links libmpi (plugin.h); binding.gyp builds it only when it found MPI.
#include "backend.h"
#include "plugin.h"

#ifdef XPU_HAVE_MPI
#include <dlfcn.h>
#include <mpi.h>

#include <climits>
#include <map>
#include <tuple>
#include <numeric>
#include <string>
#include <vector>

#include "agree.h"

namespace xpu::coll {
namespace {

// Worker-thread state. MPI can be initialised once per process, so this is process-wide.
struct State {
  bool initialized = false;
  bool finalized = false;
  std::vector<MPI_Comm> comms;  // by id; 0 is MPI_COMM_WORLD; MPI_COMM_NULL once freed
  MPI_Op half[5] = {MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL};  // by RedOp
};
State g;

Status MpiStatus(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return Status{};
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return Status::Error(kErrEngine, std::string(what) + " failed: " + std::string(text, len));
}

MPI_Datatype TypeOf(DType d) {
  switch (d) {
    case DType::kFloat32: return MPI_FLOAT;
    case DType::kFloat16: return MPI_UINT16_T;  // raw bits; reduced by the user ops below
    case DType::kInt32: return MPI_INT32_T;
    case DType::kInt8: return MPI_INT8_T;
    case DType::kUint8: return MPI_UINT8_T;
  }
  return MPI_DATATYPE_NULL;
}

// MPI has no half type. float16 reductions use user-defined ops over the raw 16-bit words: each
// pairwise step widens both operands to float, applies the op and rounds back to half (to
// nearest even), which is also what a GPU does with half arithmetic. AVG is SUM, then a division.
template <typename F>
void HalfReduce(void* in, void* inout, int* len, F f) {
  const uint16_t* a = static_cast<const uint16_t*>(in);
  uint16_t* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *len; i++) b[i] = FloatToHalf(f(HalfToFloat(a[i]), HalfToFloat(b[i])));
}
void HalfSum(void* in, void* io, int* len, MPI_Datatype*) { HalfReduce(in, io, len, [](float x, float y) { return x + y; }); }
void HalfProd(void* in, void* io, int* len, MPI_Datatype*) { HalfReduce(in, io, len, [](float x, float y) { return x * y; }); }
void HalfMax(void* in, void* io, int* len, MPI_Datatype*) { HalfReduce(in, io, len, [](float x, float y) { return x > y || x != x ? x : y; }); }
void HalfMin(void* in, void* io, int* len, MPI_Datatype*) { HalfReduce(in, io, len, [](float x, float y) { return x < y || x != x ? x : y; }); }

MPI_Op OpOf(RedOp o, DType d) {
  if (d == DType::kFloat16) return g.half[static_cast<int>(o == RedOp::kAvg ? RedOp::kSum : o)];
  switch (o) {
    case RedOp::kSum:
    case RedOp::kAvg: return MPI_SUM;
    case RedOp::kMax: return MPI_MAX;
    case RedOp::kMin: return MPI_MIN;
    case RedOp::kProd: return MPI_PROD;
  }
  return MPI_OP_NULL;
}

Status Ready(int id, MPI_Comm* comm) {
  if (!g.initialized) return Status::Error(kErrState, "MPI is not initialised in this process");
  if (g.finalized) return Status::Error(kErrState, "MPI was finalised (destroyProcessGroup) in this process");
  if (id < 0 || id >= static_cast<int>(g.comms.size()) || g.comms[id] == MPI_COMM_NULL) {
    return Status::Error(kErrState, "communicator " + std::to_string(id) + " does not exist (destroyed group?)");
  }
  *comm = g.comms[id];
  return Status{};
}

Status ArgError(const Call& c, const std::string& what) {
  return Status::Error(kErrState, std::string(KindName(static_cast<int>(c.kind))) + ": " + what);
}

// Element displacements for a v-collective, and the check that counts fit MPI's int.
Status Displacements(const Call& c, const std::vector<int>& counts, int n, std::vector<int>* displs) {
  if (static_cast<int>(counts.size()) != n) return ArgError(c, "expected " + std::to_string(n) + " counts, got " + std::to_string(counts.size()));
  displs->assign(n, 0);
  long long at = 0;
  for (int i = 0; i < n; i++) {
    if (counts[i] < 0) return ArgError(c, "negative count");
    (*displs)[i] = static_cast<int>(at);
    at += counts[i];
    if (at > INT_MAX) return ArgError(c, "more than 2^31-1 elements in one call");
  }
  return Status{};
}

long long Sum(const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), 0LL); }

// allToAll splits: what each peer sends me must be what I expect from it. Every rank learns the
// verdict (the lowest rank that found a mismatch), so all fail together.
Status CheckSplits(const Call& c, MPI_Comm comm, int n, int me) {
  std::vector<int> incoming(n);
  Status s = MpiStatus(MPI_Alltoall(c.sendCounts.data(), 1, MPI_INT, incoming.data(), 1, MPI_INT, comm), "MPI_Alltoall (split check)");
  if (!s.ok()) return s;
  int bad = -1;
  for (int j = 0; j < n && bad < 0; j++) if (incoming[j] != c.recvCounts[j]) bad = j;
  int verdict[2] = {bad >= 0 ? n - me : 0, 0};  // MAX of (n - rank) picks the lowest reporting rank
  s = MpiStatus(MPI_Allreduce(MPI_IN_PLACE, verdict, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce (split check)");
  if (!s.ok()) return s;
  if (verdict[0] == 0) return Status{};
  if (bad >= 0) {
    return Status::Error(kErrMismatch, "allToAll: rank " + std::to_string(bad) + " sends " + std::to_string(incoming[bad]) + " elements to rank " +
                                           std::to_string(me) + ", which expects " + std::to_string(c.recvCounts[bad]) + " (outputSplits)");
  }
  return Status::Error(kErrMismatch, "allToAll: split sizes disagree between ranks (rank " + std::to_string(n - verdict[0]) +
                                         " receives a different count than its peer sends)");
}

Status RunCollective(Call& c) {
  MPI_Comm comm;
  Status s = Ready(c.comm, &comm);
  if (!s.ok()) return s;
  int n = 0, me = 0;
  MPI_Comm_size(comm, &n);
  MPI_Comm_rank(comm, &me);
  if (c.sendCount > INT_MAX || c.recvCount > INT_MAX) return ArgError(c, "more than 2^31-1 elements in one call");
  if (c.check) {
    s = Agree(c, [comm](int64_t* v, int k) { return MpiStatus(MPI_Allreduce(MPI_IN_PLACE, v, k, MPI_INT64_T, MPI_MAX, comm), "MPI_Allreduce (agreement check)"); });
    if (!s.ok()) return s;
  }
  const MPI_Datatype t = TypeOf(c.dtype);
  const int sendCount = static_cast<int>(c.sendCount), recvCount = static_cast<int>(c.recvCount);
  switch (c.kind) {
    case Kind::kAllReduce:
      s = MpiStatus(MPI_Allreduce(c.send ? c.send : MPI_IN_PLACE, c.recv, recvCount, t, OpOf(c.op, c.dtype), comm), "MPI_Allreduce");
      if (s.ok() && c.op == RedOp::kAvg) DivideInPlace(c.recv, c.recvCount, c.dtype, n);
      return s;
    case Kind::kBroadcast:
      if (c.root < 0 || c.root >= n) return ArgError(c, "root " + std::to_string(c.root) + " is not a rank of a group of " + std::to_string(n));
      return MpiStatus(MPI_Bcast(c.recv, recvCount, t, c.root, comm), "MPI_Bcast");
    case Kind::kAllGather:
      if (c.recvCount != c.sendCount * n) return ArgError(c, "output must hold world size x input elements");
      return MpiStatus(MPI_Allgather(c.send, sendCount, t, c.recv, sendCount, t, comm), "MPI_Allgather");
    case Kind::kExchangeCounts:
      if (c.mode == 0) {
        if (c.sendCount != 1 || recvCount != n) return ArgError(c, "bad count exchange buffers");
        return MpiStatus(MPI_Allgather(c.send, 1, MPI_INT, c.recv, 1, MPI_INT, comm), "MPI_Allgather (counts)");
      }
      if (sendCount != n || recvCount != n) return ArgError(c, "bad count exchange buffers");
      return MpiStatus(MPI_Alltoall(c.send, 1, MPI_INT, c.recv, 1, MPI_INT, comm), "MPI_Alltoall (counts)");
    case Kind::kAllGatherV: {
      std::vector<int> displs;
      if (!(s = Displacements(c, c.recvCounts, n, &displs)).ok()) return s;
      if (Sum(c.recvCounts) != recvCount || c.recvCounts[me] != sendCount) return ArgError(c, "counts do not match the buffers");
      return MpiStatus(MPI_Allgatherv(c.send, sendCount, t, c.recv, c.recvCounts.data(), displs.data(), t, comm), "MPI_Allgatherv");
    }
    case Kind::kReduceScatter: {
      std::vector<int> displs;
      if (!(s = Displacements(c, c.recvCounts, n, &displs)).ok()) return s;
      if (Sum(c.recvCounts) != sendCount || c.recvCounts[me] != recvCount) return ArgError(c, "counts do not match the buffers");
      s = MpiStatus(MPI_Reduce_scatter(c.send, c.recv, c.recvCounts.data(), t, OpOf(c.op, c.dtype), comm), "MPI_Reduce_scatter");
      if (s.ok() && c.op == RedOp::kAvg) DivideInPlace(c.recv, c.recvCount, c.dtype, n);
      return s;
    }
    case Kind::kAllToAllV: {
      std::vector<int> sdispls, rdispls;
      if (!(s = Displacements(c, c.sendCounts, n, &sdispls)).ok()) return s;
      if (!(s = Displacements(c, c.recvCounts, n, &rdispls)).ok()) return s;
      if (Sum(c.sendCounts) != sendCount || Sum(c.recvCounts) != recvCount) return ArgError(c, "splits do not add up to the buffers");
      if (c.check && !(s = CheckSplits(c, comm, n, me)).ok()) return s;
      return MpiStatus(MPI_Alltoallv(c.send, c.sendCounts.data(), sdispls.data(), t, c.recv, c.recvCounts.data(), rdispls.data(), t, comm),
                       "MPI_Alltoallv");
    }
    case Kind::kBarrier:
      return MpiStatus(MPI_Barrier(comm), "MPI_Barrier");
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

// Point-to-point runs non-blocking and is polled by the worker, so a recv waiting for its peer
// does not hold up the calls queued after it.
//
// Order: messages between two ranks with the same tag are received in the order they were sent,
// whatever their dtypes (MPI's non-overtaking rule, which holds only within one (source, tag,
// communicator)). So the MPI tag is the user's tag alone, and the dtype and element count travel in
// a 16-byte header sent just before the data, on the same tag: the receiver matches the header
// (MPI_Improbe + MPI_Mrecv), checks it against its tensor, and posts the data's MPI_Irecv right
// away, before any other recv can probe that tag, so the data that follows the header is its own.
// (The tag once carried the dtype: tag * 8 + dtype. A recv then probed its own dtype's tag before
// the others', and could take a later int8 message ahead of an earlier float32 one on the "same"
// tag; tests/dist.test.ts failed that way under load.) A mismatched message is still received, into
// scratch memory, so it does not stay queued for a later recv, and is reported as a mismatch
// without touching the tensor.
//
// Two recvs on the same (communicator, source, tag) take their headers in the order they were
// issued: each draws a ticket when it starts, and only the oldest unserved ticket may probe.
struct P2pHeader {
  uint32_t magic;
  uint32_t dtype;
  uint64_t count;
};
constexpr uint32_t kP2pMagic = 0x78707531;  // "xpu1"

struct RecvLine {
  uint64_t issued = 0;  // tickets handed out
  uint64_t served = 0;  // tickets whose header was taken (or that gave up)
};
std::map<std::tuple<int, int, int>, RecvLine> g_recvLines;  // worker thread only

class SendTask : public Task {
 public:
  explicit SendTask(Call c) : c_(std::move(c)) {}
  bool Start() override {
    MPI_Comm comm;
    if (!(status = Ready(c_.comm, &comm)).ok()) return true;
    if (c_.sendCount > INT_MAX) return (status = ArgError(c_, "more than 2^31-1 elements")), true;
    header_ = P2pHeader{kP2pMagic, static_cast<uint32_t>(c_.dtype), static_cast<uint64_t>(c_.sendCount)};
    // Both posted back to back from this one thread, so they keep this order on the wire.
    status = MpiStatus(MPI_Isend(&header_, sizeof header_, MPI_BYTE, c_.root, c_.tag, comm, &req_[0]), "MPI_Isend (header)");
    if (!status.ok()) return true;
    status = MpiStatus(MPI_Isend(c_.send, static_cast<int>(c_.sendCount), TypeOf(c_.dtype), c_.root, c_.tag, comm, &req_[1]), "MPI_Isend");
    return !status.ok();
  }
  bool Poll() override {
    int done = 0;
    status = MpiStatus(MPI_Testall(2, req_, &done, MPI_STATUSES_IGNORE), "MPI_Testall (send)");
    return done || !status.ok();
  }

 private:
  Call c_;
  P2pHeader header_{};
  MPI_Request req_[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
};

class RecvTask : public Task {
 public:
  explicit RecvTask(Call c) : c_(std::move(c)) {}
  bool Start() override {
    if (!(status = Ready(c_.comm, &comm_)).ok()) return true;
    if (c_.recvCount > INT_MAX) return (status = ArgError(c_, "more than 2^31-1 elements")), true;
    key_ = {c_.comm, c_.root, c_.tag};
    ticket_ = g_recvLines[key_].issued++;
    ticketed_ = true;
    return Poll();
  }
  bool Poll() override {
    if (!matched_) {
      const bool found = Probe();
      if (!status.ok()) return Serve(), true;
      if (!found) return false;
    }
    int done = 0;
    status = MpiStatus(MPI_Test(&req_, &done, MPI_STATUS_IGNORE), "MPI_Test (recv)");
    if (!status.ok()) return true;
    if (!done) return false;
    if (!mismatch_.empty()) status = Status::Error(kErrMismatch, mismatch_);
    return true;
  }
  void Fill(Napi::Env, Napi::Object& out) override {
    out.Set("source", c_.root);
    out.Set("count", static_cast<double>(c_.recvCount));
  }

 private:
  // Our turn on this (communicator, source, tag) is over: the next recv there may probe. Called on
  // the worker thread on every way out of the probing stage (tasks are deleted on the JS thread).
  void Serve() {
    if (!ticketed_ || served_) return;
    served_ = true;
    auto it = g_recvLines.find(key_);
    if (it == g_recvLines.end()) return;
    it->second.served++;
    if (it->second.served == it->second.issued) g_recvLines.erase(it);
  }

  // Takes our header when it is our turn and it has come, and posts the data's receive.
  bool Probe() {
    if (g_recvLines[key_].served != ticket_) return false;  // an older recv on this line goes first
    int found = 0;
    MPI_Message msg;
    MPI_Status st;
    status = MpiStatus(MPI_Improbe(c_.root, c_.tag, comm_, &found, &msg, &st), "MPI_Improbe");
    if (!status.ok() || !found) return false;
    int bytes = 0;
    MPI_Get_count(&st, MPI_BYTE, &bytes);
    P2pHeader h{};
    // The header is 16 bytes, always sent eagerly: receiving a matched one does not wait.
    if (bytes != static_cast<int>(sizeof h)) {
      std::vector<uint8_t> junk(static_cast<size_t>(bytes));
      MPI_Mrecv(junk.data(), bytes, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
      status = Status::Error(kErrEngine, "recv from rank " + std::to_string(c_.root) + " (tag " + std::to_string(c_.tag) + "): a message of " + std::to_string(bytes) +
                                             " bytes that xpu.dist's send() did not make (another MPI program on this communicator?)");
      return false;
    }
    status = MpiStatus(MPI_Mrecv(&h, sizeof h, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (header)");
    if (!status.ok()) return false;
    if (h.magic != kP2pMagic || h.dtype > static_cast<uint32_t>(DType::kUint8) || h.count > INT_MAX) {
      status = Status::Error(kErrEngine, "recv from rank " + std::to_string(c_.root) + " (tag " + std::to_string(c_.tag) + "): a message that xpu.dist's send() did not make");
      return false;
    }
    const DType d = static_cast<DType>(h.dtype);
    matched_ = true;
    if (d == c_.dtype && h.count == c_.recvCount) {
      status = MpiStatus(MPI_Irecv(c_.recv, static_cast<int>(c_.recvCount), TypeOf(d), c_.root, c_.tag, comm_, &req_), "MPI_Irecv");
    } else {
      mismatch_ = "recv from rank " + std::to_string(c_.root) + " (tag " + std::to_string(c_.tag) + "): expected " + std::to_string(c_.recvCount) + " " +
                  DTypeName(c_.dtype) + " elements, the sender sent " + std::to_string(h.count) + " " + DTypeName(d);
      scratch_.resize(static_cast<size_t>(h.count) * ItemSize(d));
      status = MpiStatus(MPI_Irecv(scratch_.data(), static_cast<int>(h.count), TypeOf(d), c_.root, c_.tag, comm_, &req_), "MPI_Irecv");
    }
    // Posted: the data that follows our header can only match this receive. Now the next recv on
    // this line may take the next header.
    Serve();
    return status.ok();
  }

  Call c_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::tuple<int, int, int> key_{};
  uint64_t ticket_ = 0;
  bool ticketed_ = false, served_ = false;
  bool matched_ = false;
  MPI_Request req_ = MPI_REQUEST_NULL;
  std::vector<uint8_t> scratch_;
  std::string mismatch_;
};

class InitTask : public Task {
 public:
  bool Start() override {
    int already = 0;
    MPI_Initialized(&already);
    if (already || g.finalized) {
      status = Status::Error(kErrState, "MPI can be initialised once per process, and this process already did (and may have finalised it)");
      return true;
    }
    // Node loads addons RTLD_LOCAL, so libmpi (a dependency of this addon) is not in the global
    // symbol scope; OpenMPI dlopen()s its components, which expect to find libmpi's symbols
    // there. Promote the already-loaded library (found by address, so no soname is hardcoded).
    Dl_info dl;
    if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &dl) && dl.dli_fname) dlopen(dl.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    int provided = 0;
    if (!(status = MpiStatus(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread")).ok()) return true;
    g.initialized = true;
    if (provided < MPI_THREAD_FUNNELED) {
      status = Status::Error(kErrEngine, "MPI provides no MPI_THREAD_FUNNELED support; the worker-thread design needs it");
      return true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    g.comms = {MPI_COMM_WORLD};
    MPI_Op_create(&HalfSum, 1, &g.half[static_cast<int>(RedOp::kSum)]);
    MPI_Op_create(&HalfMax, 1, &g.half[static_cast<int>(RedOp::kMax)]);
    MPI_Op_create(&HalfMin, 1, &g.half[static_cast<int>(RedOp::kMin)]);
    MPI_Op_create(&HalfProd, 1, &g.half[static_cast<int>(RedOp::kProd)]);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    provided_ = provided;
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    library_ = std::string(lib, len);
    library_ = library_.substr(0, library_.find_first_of("\r\n,"));
    return true;
  }
  void Fill(Napi::Env, Napi::Object& out) override {
    out.Set("rank", rank_);
    out.Set("size", size_);
    static const char* levels[] = {"single", "funneled", "serialized", "multiple"};
    out.Set("threadLevel", provided_ >= 0 && provided_ <= 3 ? levels[provided_] : "?");
    out.Set("library", library_);
  }

 private:
  int rank_ = -1, size_ = 0, provided_ = -1;
  std::string library_;
};

class SplitTask : public Task {
 public:
  SplitTask(int comm, int color, int key) : comm_(comm), color_(color), key_(key) {}
  bool Start() override {
    MPI_Comm parent, out = MPI_COMM_NULL;
    if (!(status = Ready(comm_, &parent)).ok()) return true;
    status = MpiStatus(MPI_Comm_split(parent, color_ < 0 ? MPI_UNDEFINED : color_, key_, &out), "MPI_Comm_split");
    if (status.ok() && out != MPI_COMM_NULL) {
      MPI_Comm_set_errhandler(out, MPI_ERRORS_RETURN);
      id_ = static_cast<int>(g.comms.size());
      g.comms.push_back(out);
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
    MPI_Comm c;
    if (comm_ == 0 || !(status = Ready(comm_, &c)).ok()) return true;
    status = MpiStatus(MPI_Comm_free(&g.comms[comm_]), "MPI_Comm_free");
    g.comms[comm_] = MPI_COMM_NULL;
    return true;
  }

 private:
  int comm_;
};

class FinalizeTask : public Task {
 public:
  bool Start() override {
    if (!g.initialized || g.finalized) return true;
    for (size_t i = 1; i < g.comms.size(); i++) if (g.comms[i] != MPI_COMM_NULL) MPI_Comm_free(&g.comms[i]);
    for (MPI_Op& op : g.half) if (op != MPI_OP_NULL) MPI_Op_free(&op);
    status = MpiStatus(MPI_Finalize(), "MPI_Finalize");
    g.finalized = true;
    MpiBackend()->engine->StopAfterQueue();
    return true;
  }
};

class Mpi : public Backend {
 public:
  const char* name() const override { return "xpu-dist-mpi"; }
  std::unique_ptr<Task> MakeInit(const Napi::Object&) override { return std::make_unique<InitTask>(); }
  std::unique_ptr<Task> MakeCall(Call call) override {
    if (call.kind == Kind::kSend) return std::make_unique<SendTask>(std::move(call));
    if (call.kind == Kind::kRecv) return std::make_unique<RecvTask>(std::move(call));
    return std::make_unique<CollectiveTask>(std::move(call));
  }
  std::unique_ptr<Task> MakeSplit(int comm, int color, int key) override { return std::make_unique<SplitTask>(comm, color, key); }
  std::unique_ptr<Task> MakeFree(int comm) override { return std::make_unique<FreeTask>(comm); }
  std::unique_ptr<Task> MakeFinalize() override { return std::make_unique<FinalizeTask>(); }
};

}  // namespace

Backend* MpiBackend() {
  static Mpi backend;
  return &backend;
}

namespace {
// What plugins.cc reports as buildInfo().mpi: the headers' version, and the library loaded (MPI
// allows MPI_Get_library_version before MPI_Init, so this starts nothing).
void FillInfo(PluginInfo* info) {
  static std::string version, library;
  version = "MPI " + std::to_string(MPI_VERSION) + "." + std::to_string(MPI_SUBVERSION);
#ifdef OMPI_MAJOR_VERSION
  version = "Open MPI " + std::to_string(OMPI_MAJOR_VERSION) + "." + std::to_string(OMPI_MINOR_VERSION) + "." + std::to_string(OMPI_RELEASE_VERSION) + " (" + version + ")";
#endif
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(lib, &len) == MPI_SUCCESS) {
    library.assign(lib, len);
    library = library.substr(0, library.find_first_of("\r\n,"));
  }
  info->version = version.c_str();
  info->library = library.c_str();
}
}  // namespace

}  // namespace xpu::coll

XPU_COLL_DEFINE_PLUGIN(xpu::coll::MpiBackend, xpu::coll::FillInfo)

#else

namespace xpu::coll {
Backend* MpiBackend() { return nullptr; }
}  // namespace xpu::coll

#endif
