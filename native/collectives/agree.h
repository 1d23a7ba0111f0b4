// The cross-rank agreement check: before a collective, every rank contributes a fixed header
// (call, dtype, count, op, root, row size) and one all-reduce of [h, -h] with MAX gives each field's
// maximum and minimum on every rank. Every rank sees the same answer, so when ranks disagree
// they all fail together with the same message instead of hanging or mixing data. The engine-
// specific part is only that one all-reduce (AgreeFn).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "call.h"
#include "engine.h"

namespace xpu::coll {

inline constexpr int kHeaderFields = 6;

// Runs an in-place MAX all-reduce over `n` int64 values on the call's communicator.
using AgreeFn = std::function<Status(int64_t* values, int n)>;

// The header of `c` (kind, dtype, count, op, root, row size); fields a call does not constrain are 0.
void HeaderOf(const Call& c, int64_t out[kHeaderFields]);

// OK when all ranks sent the same header, else a kErrMismatch Status naming the first field
// that differs and its range across ranks.
Status Agree(const Call& c, const AgreeFn& allreduceMax);

}  // namespace xpu::coll
