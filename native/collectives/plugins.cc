// Finds and loads the collective engines' plugins (plugin.h) when the addon loads, and reports
// each as buildInfo().mpi / .ccl: { built, version?, library?, root?, plugin?, error? }. `built`
// means the engine can be used in this process: its plugin exists and loaded, which needs the
// engine's own library (libmpi.so.40, libccl.so.1) on this machine. A plugin that exists but does
// not load says why in `error`; an addon built without an engine has no plugin for it.
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "../build_info.h"
#include "plugin.h"

namespace xpu::coll {
namespace {

struct Loaded {
  bool tried = false;
  Backend* backend = nullptr;
  PluginInfo info;
  std::string path;   // the plugin file found, if any
  std::string error;  // why it did not load
};

std::string Dirname(const std::string& p) {
  const size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

// Where plugins live relative to the addon: beside it (build/Release/), or in lib/ beside it or
// one level up (prebuilds/linux-x64/lib/, shared by the ISA variants in the folders below it).
std::vector<std::string> PluginDirs() {
  Dl_info self;
  std::string dir = ".";
  if (dladdr(reinterpret_cast<void*>(&PluginDirs), &self) && self.dli_fname) dir = Dirname(self.dli_fname);
  return {dir, dir + "/lib", dir + "/../lib"};
}

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

// oneCCL: its library may sit where the loader does not look (oneAPI's lib/ without setvars.sh,
// the project's .cache/oneccl for a prebuilt addon). Loading it first by full path makes the
// plugin's NEEDED libccl.so.1 resolve to it (the loader matches an already loaded soname).
void PreloadCcl() {
  std::vector<std::string> roots;
  for (const char* env : {"XPU_CCL_ROOT", "CCL_ROOT"}) {
    const char* v = std::getenv(env);
    if (v && *v) roots.emplace_back(v);
  }
  roots.emplace_back("/opt/intel/oneapi/ccl/latest");
  for (const std::string& r : roots) {
    for (const char* sub : {"/lib/libccl.so.1", "/lib/intel64/libccl.so.1"}) {
      if (Exists(r + sub) && dlopen((r + sub).c_str(), RTLD_NOW | RTLD_LOCAL)) return;
    }
  }
}

Loaded& Load(Loaded& l, const char* engine) {
  if (l.tried) return l;
  l.tried = true;
  const std::string file = std::string("xpu_") + engine + ".so";
  for (const std::string& d : PluginDirs()) {
    if (Exists(d + "/" + file)) {
      // Reported as found, without the variants' "x86-64-v4/../lib" detour.
      char real[PATH_MAX];
      l.path = realpath((d + "/" + file).c_str(), real) ? real : d + "/" + file;
      break;
    }
  }
  if (l.path.empty()) return l;  // built without this engine
  if (std::string(engine) == "ccl") PreloadCcl();
  // RTLD_LOCAL, as Node loads addons: the MPI plugin promotes libmpi itself before MPI_Init.
  void* h = dlopen(l.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    l.error = std::string("its plugin ") + l.path + " did not load: " + (e ? e : "unknown error");
    return l;
  }
  auto entry = reinterpret_cast<PluginEntry>(dlsym(h, kPluginSymbol));
  if (!entry) {
    l.error = l.path + " is not an xpu collectives plugin (no " + kPluginSymbol + ")";
    return l;
  }
  Backend* b = entry(&l.info);
  if (l.info.abi != kPluginAbi) {
    l.error = l.path + " is from another build of the addon (plugin ABI " + std::to_string(l.info.abi) + ", expected " + std::to_string(kPluginAbi) + "): rebuild";
    return l;
  }
  l.backend = b;
  return l;
}

Loaded g_mpi, g_ccl;

Napi::Object Info(Napi::Env env, const Loaded& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("built", l.backend != nullptr);
  if (l.backend) {
    if (*l.info.version) o.Set("version", l.info.version);
    if (*l.info.library) o.Set("library", l.info.library);
    if (*l.info.root) o.Set("root", l.info.root);
  }
  if (!l.path.empty()) o.Set("plugin", l.path);
  if (!l.error.empty()) o.Set("error", l.error);
  return o;
}

}  // namespace

Backend* MpiBackend() { return Load(g_mpi, "mpi").backend; }
Backend* CclBackend() { return Load(g_ccl, "ccl").backend; }

}  // namespace xpu::coll

namespace xpu {

Napi::Object MpiInfo(Napi::Env env) {
  coll::MpiBackend();
  return coll::Info(env, coll::g_mpi);
}

Napi::Object CclInfo(Napi::Env env) {
  coll::CclBackend();
  return coll::Info(env, coll::g_ccl);
}

}  // namespace xpu
