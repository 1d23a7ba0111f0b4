// oneCCL: compiled in when binding.gyp found an install root (XPU_CCL_ROOT, CCL_ROOT or
// /opt/intel/oneapi/ccl/latest) and defined XPU_HAVE_CCL and XPU_CCL_ROOT_DIR.
#include "build_info.h"

#if defined(XPU_HAVE_CCL) && __has_include(<oneapi/ccl/config.h>)
#include <oneapi/ccl/config.h>
#endif

namespace xpu {

Napi::Object CclInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
#ifdef XPU_HAVE_CCL
  o.Set("built", true);
  o.Set("root", XPU_CCL_ROOT_DIR);
#ifdef CCL_PRODUCT_FULL
  o.Set("version", CCL_PRODUCT_FULL);
#endif
#else
  o.Set("built", false);
#endif
  return o;
}

}  // namespace xpu
