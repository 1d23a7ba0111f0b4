// The cpu's ceilings for the benchmarks' roofline (probe.cc) as plain C++: the vector FMA peak and
// the read and copy bandwidth, each measured on every core this process may run on. The JS face
// (addon.probe.fma / read / copy; bench/lib/ceiling.ts) is probe_binding.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xpu::compute {

// `passes` timed passes of `iterations` FMA iterations on every usable core.
struct FmaProbe {
  std::vector<double> seconds;  // one per pass
  double flopsPerPass = 0;
  const char* isa = "";  // the loop chosen at run time from the CPU's features
  int threads = 0;
  float checksum = 0;  // read by nobody; keeps the chains' results alive
};
FmaProbe ProbeFma(uint64_t iterations, int passes);

// `passes` timed passes over a buffer of `bytes` (read: every core sums its share; copy: every
// core memcpy's its share into a second buffer). Throws std::bad_alloc when a buffer cannot be had.
struct BandwidthProbe {
  std::vector<double> seconds;  // one per pass, the untimed first touch left out
  double bytesPerPass = 0;      // copy: read + written
  std::string method;
  int threads = 0;
};
BandwidthProbe ProbeRead(size_t bytes, int passes);
BandwidthProbe ProbeCopy(size_t bytes, int passes);

}  // namespace xpu::compute
