// Captures what native code writes to file descriptor 2 during a synchronous call
// (stderr_capture.cc): addon.stderrCapture { begin(), end() }.
#pragma once

#include <napi.h>

namespace xpu {

void ExportStderrCapture(Napi::Env env, Napi::Object exports);

}  // namespace xpu
