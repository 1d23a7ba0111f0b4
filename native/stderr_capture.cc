// Dawn prints warnings with fprintf(stderr) while it enumerates adapters (two "artificially
// reduced" lines for lavapipe's limits, in every process that opens the GPU), inside the
// synchronous part of requestAdapter. Node cannot point fd 2 elsewhere (it has no dup2), so this
// does: begin() sends fd 2 to an unlinked temporary file, end() puts the original back and
// returns what was written meanwhile. src/device/stderr_filter.ts drops Dawn's known lines and
// writes the rest to process.stderr, so nothing else a native library prints is lost.
#include "stderr_capture.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace xpu {
namespace {

int saved_fd = -1;        // the original fd 2 while a capture runs, else -1
std::FILE* sink = nullptr;

// Returns false (nothing changed) when a capture already runs or fd 2 cannot be redirected.
Napi::Value Begin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (saved_fd >= 0) return Napi::Boolean::New(env, false);
  std::fflush(stderr);
  sink = std::tmpfile();
  if (!sink) return Napi::Boolean::New(env, false);
  saved_fd = dup(2);
  if (saved_fd < 0 || dup2(fileno(sink), 2) < 0) {
    if (saved_fd >= 0) close(saved_fd);
    saved_fd = -1;
    std::fclose(sink);
    sink = nullptr;
    return Napi::Boolean::New(env, false);
  }
  return Napi::Boolean::New(env, true);
}

// Restores fd 2 and returns the captured text (null when no capture runs).
Napi::Value End(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (saved_fd < 0) return env.Null();
  std::fflush(stderr);
  dup2(saved_fd, 2);
  close(saved_fd);
  saved_fd = -1;
  std::string text;
  std::rewind(sink);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, sink)) > 0;) text.append(buf, n);
  std::fclose(sink);
  sink = nullptr;
  return Napi::String::New(env, text);
}

}  // namespace

void ExportStderrCapture(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("begin", Napi::Function::New(env, Begin, "begin"));
  o.Set("end", Napi::Function::New(env, End, "end"));
  exports.Set("stderrCapture", o);
}

}  // namespace xpu
