// The boundary between the addon and its collective engines. Each engine lives in a plugin of its
// own, a shared object beside the addon (build/Release/xpu_mpi.so, xpu_ccl.so; lib/ in a
// prebuilt package) that links the engine's library (libmpi, libccl). The addon links neither: it
// dlopens the plugins when it loads (plugins.cc), so it loads, and its CPU kernels work, on a
// machine without OpenMPI or oneCCL, and it reports which engines it found and why not.
//
// A plugin exports one C symbol, kPluginSymbol, returning its Backend (backend.h). The addon and
// its plugins are built together from the same headers; kPluginAbi guards against a plugin left
// from another build, whose Task, Call or Engine layout may differ.
#pragma once

#include "backend.h"

namespace xpu::coll {

inline constexpr int kPluginAbi = 1;
inline constexpr const char* kPluginSymbol = "xpu_coll_plugin";

struct PluginInfo {
  int abi = 0;
  const char* version = "";  // what the plugin was compiled against ("Open MPI 4.1.4 (MPI 3.1)")
  const char* library = "";  // the library it loaded, when it can tell before starting it
  const char* root = "";     // oneCCL: the install it was built against
};

using PluginEntry = Backend* (*)(PluginInfo* info);

}  // namespace xpu::coll

// In a plugin (XPU_COLL_PLUGIN): defines the exported entry point around `backend` and `fill`.
#define XPU_COLL_DEFINE_PLUGIN(backend_fn, fill_fn)                                                  \
  extern "C" __attribute__((visibility("default"))) xpu::coll::Backend* xpu_coll_plugin(            \
      xpu::coll::PluginInfo* info) {                                                                 \
    info->abi = xpu::coll::kPluginAbi;                                                               \
    fill_fn(info);                                                                                   \
    return backend_fn();                                                                             \
  }
