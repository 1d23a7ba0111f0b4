// The JS face of the roofline probes (probe.h): addon.probe = { fma(iterations, passes),
// read(bytes, passes), copy(bytes, passes) } (bench/lib/ceiling.ts).
#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "kernels.h"
#include "probe.h"

namespace xpu::compute {
namespace {

Napi::Array Seconds(Napi::Env env, const std::vector<double>& seconds) {
  Napi::Array s = Napi::Array::New(env, seconds.size());
  for (size_t i = 0; i < seconds.size(); i++) s.Set(i, seconds[i]);
  return s;
}

// fma(iterations = 1e7, passes = 3) -> { seconds: number[], flopsPerPass, isa, threads, checksum }
Napi::Value Fma(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double itersArg = info.Length() > 0 ? info[0].As<Napi::Number>().DoubleValue() : 1e7;
  const int passes = info.Length() > 1 ? std::max(1, info[1].As<Napi::Number>().Int32Value()) : 3;
  FmaProbe r = ProbeFma(static_cast<uint64_t>(std::max(1.0, itersArg)), passes);
  Napi::Object o = Napi::Object::New(env);
  o.Set("seconds", Seconds(env, r.seconds));
  o.Set("flopsPerPass", r.flopsPerPass);
  o.Set("isa", r.isa);
  o.Set("threads", r.threads);
  o.Set("checksum", r.checksum);
  return o;
}

// read / copy(bytes, passes) -> { seconds, bytesPerPass, method, threads }
template <BandwidthProbe (*Probe)(size_t, int)>
Napi::Value Bandwidth(const Napi::CallbackInfo& info, const char* name) {
  Napi::Env env = info.Env();
  const double bytes = info[0].As<Napi::Number>().DoubleValue();
  const int passes = std::max(1, info[1].As<Napi::Number>().Int32Value());
  BandwidthProbe r;
  try {
    r = Probe(static_cast<size_t>(bytes), passes);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, std::string(name) + ": out of memory");
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("seconds", Seconds(env, r.seconds));
  o.Set("bytesPerPass", r.bytesPerPass);
  o.Set("method", r.method);
  o.Set("threads", r.threads);
  return o;
}

Napi::Value Read(const Napi::CallbackInfo& info) { return Bandwidth<ProbeRead>(info, "probeRead"); }
Napi::Value Copy(const Napi::CallbackInfo& info) { return Bandwidth<ProbeCopy>(info, "probeCopy"); }

}  // namespace

void ExportProbe(Napi::Env env, Napi::Object target) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("fma", Napi::Function::New(env, Fma, "fma"));
  o.Set("read", Napi::Function::New(env, Read, "read"));
  o.Set("copy", Napi::Function::New(env, Copy, "copy"));
  target.Set("probe", o);
}

}  // namespace xpu::compute
