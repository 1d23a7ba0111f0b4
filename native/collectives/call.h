// One collective or point-to-point call, as parsed from JS arguments (binding.cc) and run by a
// backend (mpi_backend.cc, ccl_backend.cc). Plain data: it crosses from the JS thread to the worker.
#pragma once

#include <cstddef>
#include <vector>

#include "types.h"

namespace xpu::coll {

// The numbering is also the first field of the cross-rank agreement check, so a rank that calls a
// different collective than its peers is reported by name.
enum class Kind : int {
  kAllReduce = 1,
  kBroadcast = 2,
  kAllGather = 3,
  kAllGatherV = 4,
  kReduceScatter = 5,
  kAllToAllV = 6,
  kBarrier = 7,
  kExchangeCounts = 8,
  kSend = 9,
  kRecv = 10,
};

inline const char* KindName(int k) {
  static const char* names[] = {"?", "allReduce", "broadcast", "allGather", "allGatherV", "reduceScatter",
                                "allToAll", "barrier", "exchangeCounts", "send", "recv"};
  return k >= 1 && k <= 10 ? names[k] : "?";
}

struct Call {
  explicit Call(Kind k) : kind(k) {}
  Kind kind;
  int comm = 0;
  // send == nullptr means in place (allReduce, broadcast): the data is in recv.
  void* send = nullptr;
  size_t sendCount = 0;  // elements
  void* recv = nullptr;
  size_t recvCount = 0;
  DType dtype = DType::kFloat32;
  RedOp op = RedOp::kSum;
  int root = 0;  // broadcast root, or the peer of send/recv
  int tag = 0;
  // Exchange a small header (call, dtype, count, op...) first so that ranks that disagree fail
  // together with a clear error instead of corrupting data or hanging.
  bool check = true;
  // Per-rank element counts: allGatherV/reduceScatter (recvCounts), allToAllV (both).
  // exchangeCounts: mode 0 = all-gather one count per rank, 1 = all-to-all of n counts.
  std::vector<int> sendCounts, recvCounts;
  int mode = 0;
  // Elements per row along dim 0 (the trailing dims' size) for the v-collectives, whose per-rank
  // counts legitimately differ: ranks must still agree on it, and the check compares it.
  long long rowSize = 0;
};

}  // namespace xpu::coll
