// OpenMPI: compiled in when binding.gyp defined XPU_HAVE_MPI (pkg-config ompi-c was found).
#include "build_info.h"

#ifdef XPU_HAVE_MPI
#include <mpi.h>

#include <string>
#endif

namespace xpu {

Napi::Object MpiInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
#ifdef XPU_HAVE_MPI
  o.Set("built", true);
  std::string version = "MPI " + std::to_string(MPI_VERSION) + "." + std::to_string(MPI_SUBVERSION);
#ifdef OMPI_MAJOR_VERSION
  version = "Open MPI " + std::to_string(OMPI_MAJOR_VERSION) + "." + std::to_string(OMPI_MINOR_VERSION) +
            "." + std::to_string(OMPI_RELEASE_VERSION) + " (" + version + ")";
#endif
  o.Set("version", version);
  // The library actually loaded; MPI allows this call before MPI_Init, so it starts nothing.
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(lib, &len) == MPI_SUCCESS) {
    std::string s(lib, len);
    o.Set("library", s.substr(0, s.find_first_of("\r\n,")));
  }
#else
  o.Set("built", false);
#endif
  return o;
}

}  // namespace xpu
