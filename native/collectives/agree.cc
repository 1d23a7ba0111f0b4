// See agree.h.
#include "agree.h"

namespace xpu::coll {

void HeaderOf(const Call& c, int64_t h[kHeaderFields]) {
  for (int i = 0; i < kHeaderFields; i++) h[i] = 0;
  // exchangeCounts is the first half of allGatherV / allToAll: it carries their kind, so a rank
  // calling allGatherV beside one calling allReduce is caught at this first step.
  Kind kind = c.kind == Kind::kExchangeCounts ? (c.mode == 0 ? Kind::kAllGatherV : Kind::kAllToAllV) : c.kind;
  h[0] = static_cast<int>(kind);
  if (kind == Kind::kAllGatherV || kind == Kind::kAllToAllV || kind == Kind::kReduceScatter) h[5] = c.rowSize;
  if (c.kind == Kind::kBarrier || c.kind == Kind::kExchangeCounts) return;
  h[1] = static_cast<int>(c.dtype);
  switch (c.kind) {
    case Kind::kAllReduce: h[2] = static_cast<int64_t>(c.recvCount); h[3] = static_cast<int>(c.op); break;
    case Kind::kBroadcast: h[2] = static_cast<int64_t>(c.recvCount); h[4] = c.root; break;
    case Kind::kAllGather: h[2] = static_cast<int64_t>(c.sendCount); break;
    case Kind::kAllGatherV: h[2] = static_cast<int64_t>(c.recvCount); break;
    case Kind::kReduceScatter: h[2] = static_cast<int64_t>(c.sendCount); h[3] = static_cast<int>(c.op); break;
    default: break;  // allToAll: per-rank totals differ legitimately; its splits are checked apart
  }
}

namespace {

std::string Describe(int field, int64_t lo, int64_t hi) {
  switch (field) {
    case 0:
      if (lo < 1 || hi > 10) return "a rank's data is not an xpu.dist call header: a peer joined with another operation (finalising, or a program using the engine directly?)";
      return std::string("ranks called different collectives at the same point (") + KindName(static_cast<int>(lo)) + " and " + KindName(static_cast<int>(hi)) + ")";
    case 1: return std::string("ranks disagree on the dtype (") + DTypeName(static_cast<DType>(lo)) + " and " + DTypeName(static_cast<DType>(hi)) + ")";
    case 2: return "ranks disagree on the element count (from " + std::to_string(lo) + " to " + std::to_string(hi) + ")";
    case 3: return std::string("ranks disagree on the reduction (") + RedOpName(static_cast<RedOp>(lo)) + " and " + RedOpName(static_cast<RedOp>(hi)) + ")";
    case 4: return "ranks disagree on the root rank (from " + std::to_string(lo) + " to " + std::to_string(hi) + ")";
    default: return "ranks disagree on the size of the dims after the first (from " + std::to_string(lo) + " to " + std::to_string(hi) + " elements per row)";
  }
}

}  // namespace

Status Agree(const Call& c, const AgreeFn& allreduceMax) {
  int64_t h[kHeaderFields];
  HeaderOf(c, h);
  int64_t buf[2 * kHeaderFields];
  for (int i = 0; i < kHeaderFields; i++) {
    buf[i] = h[i];
    buf[kHeaderFields + i] = -h[i];
  }
  Status s = allreduceMax(buf, 2 * kHeaderFields);
  if (!s.ok()) return s;
  for (int i = 0; i < kHeaderFields; i++) {
    const int64_t hi = buf[i], lo = -buf[kHeaderFields + i];
    if (hi != lo) {
      Kind mine = static_cast<Kind>(h[0]);
      return Status::Error(kErrMismatch, std::string(KindName(static_cast<int>(mine))) + ": " + Describe(i, lo, hi) +
                                             "; every rank of the group must make the same call with the same arguments");
    }
  }
  return Status{};
}

}  // namespace xpu::coll
