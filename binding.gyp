# The native addon xpu_native: build detection and buildInfo() for now; collectives (oneCCL, MPI)
# and CPU kernels come later. What gets compiled in is decided by native/configure.mjs.
# The runtime works without this addon; scripts/setup.sh builds it and tolerates a failure.
{
  'variables': {
    'xpu_mpi%': '<!(node native/configure.mjs mpi)',
    'xpu_ccl_root%': '<!(node native/configure.mjs ccl-root)',
    'xpu_ccl_lib%': '<!(node native/configure.mjs ccl-lib)',
    'xpu_march%': '<!(node native/configure.mjs march)',
  },
  'targets': [
    {
      'target_name': 'xpu_native',
      'sources': [
        'native/addon.cc',
        'native/build_info.cc',
        'native/toolchain_info.cc',
        'native/mpi_info.cc',
        'native/ccl_info.cc',
      ],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': [
        'NAPI_VERSION=8',
        # C++ exceptions on, consistently: oneCCL's C++ API throws, and Napi::Error maps to JS errors.
        'NAPI_CPP_EXCEPTIONS',
        'XPU_NODE_ADDON_API_VERSION="<!(node -p \"require(\'node-addon-api\').version\")"',
      ],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions'],
      'cflags_cc': ['-O3', '-std=c++17'],
      'conditions': [
        ['xpu_march!=""', {
          'cflags_cc': ['-march=<(xpu_march)'],
        }],
        ['xpu_mpi==1', {
          # OMPI_SKIP_MPICXX: OpenMPI's deprecated C++ bindings break a Node addon's link.
          'defines': ['XPU_HAVE_MPI=1', 'OMPI_SKIP_MPICXX=1'],
          'cflags_cc': ['<!@(pkg-config --cflags ompi-c)'],
          'libraries': ['<!@(pkg-config --libs ompi-c)'],
        }],
        ['xpu_ccl_root!=""', {
          'defines': ['XPU_HAVE_CCL=1', 'XPU_CCL_ROOT_DIR="<(xpu_ccl_root)"'],
          'include_dirs': ['<(xpu_ccl_root)/include'],
          # rpath: oneAPI's lib dir is not on the loader's path unless setvars.sh was sourced.
          'libraries': ['-L<(xpu_ccl_lib)', '-lccl', '-Wl,-rpath,<(xpu_ccl_lib)'],
        }],
      ],
    },
  ],
}
