# The native addon xpu_native: buildInfo(), the CPU kernels, and collectives through OpenMPI and
# oneCCL, each engine a plugin of its own (xpu_mpi.so, xpu_ccl.so) built only when found. What gets compiled in is decided by
# native/configure.mjs.
# The runtime works without this addon; scripts/setup.sh builds it and tolerates a failure.
{
  'variables': {
    'xpu_mpi%': '<!(node native/configure.mjs mpi)',
    'xpu_ccl_root%': '<!(node native/configure.mjs ccl-root)',
    'xpu_ccl_lib%': '<!(node native/configure.mjs ccl-lib)',
    'xpu_march%': '<!(node native/configure.mjs march)',
    'xpu_dnnl%': '<!(node native/configure.mjs dnnl)',
    # oneMKL (scripts/fetch-mkl.sh puts Intel's PyPI wheels in .cache/mkl): beside oneDNN only.
    'xpu_mkl_root%': '<!(node native/configure.mjs mkl-root)',
    'xpu_mkl_lib%': '<!(node native/configure.mjs mkl-lib)',
    # 1 for `npm run native:prebuild` (scripts/prebuild.mjs): libraries found beside the binary ($ORIGIN).
    'xpu_prebuild%': '<!(node native/configure.mjs prebuild)',
    'xpu_napi_include': "<!(node -p \"require('node-addon-api').include_dir\")",
  },
  'targets': [
    {
      'target_name': 'xpu_native',
      'sources': [
        'native/addon.cc',
        'native/build_info.cc',
        'native/toolchain_info.cc',
        # fd 2 redirected around a synchronous call (Dawn's adapter warnings, src/device/stderr_filter.ts).
        'native/stderr_capture.cc',
        # Collectives: a worker thread per engine (engine.cc), the JS binding shared by the
        # engines (binding.cc), and the loader of the engines' plugins (plugins.cc: xpu_mpi.so and
        # xpu_ccl.so, the targets below), so the addon itself links neither MPI nor oneCCL.
        'native/collectives/engine.cc',
        'native/collectives/binding.cc',
        'native/collectives/plugins.cc',
        # CPU kernels: one compute thread with an ordered queue (queue.cc) and the GEMM on
        # oneDNN's matmul primitive (gemm.cc; without oneDNN only the queue is built). Each kernel
        # family is <family>.cc (the kernels, plain C++ behind <family>.h) and <family>_binding.cc
        # (its JS face), the bindings reading their arguments through napi_args.cc.
        'native/compute/queue.cc',
        'native/compute/inline_team.cc',
        'native/compute/napi_args.cc',
        'native/compute/gemm.cc',
        'native/compute/gemm_binding.cc',
        # float16 weights without a whole f32 copy: the streaming GEMV (F16C + FMA) and the
        # threaded tile conversion for the blocked path.
        'native/compute/gemv.cc',
        # The quantized linear (int8 / int4 / w8a8) and the blocked flash attention, on the same
        # queue; our own intrinsics kernels, threaded with OpenMP (libgomp, oneDNN's pool too).
        'native/compute/qgemm.cc',
        'native/compute/qgemm_binding.cc',
        # GGUF block formats (q4_0, q4_1, q8_0, q4_k, q6_k) read in place: GEMV and tile + sgemm.
        'native/compute/qgemm_gguf.cc',
        'native/compute/qgemm_gguf_binding.cc',
        # ... and llama.cpp's arithmetic for them (int8 activations per 32-block, integer dots).
        'native/compute/qgemm_gguf_q8.cc',
        'native/compute/qgemm_gguf_q8_wide.cc',
        'native/compute/attention.cc',
        'native/compute/attention_binding.cc',
        'native/compute/attention_backward.cc',
        'native/compute/attention_backward_binding.cc',
        # Elementwise maps and row kernels (softmax, norms, reductions, rotary) on float32, vectorised
        # (vexp.h: exp in double with AVX-512) and threaded with OpenMP.
        'native/compute/elementwise.cc',
        'native/compute/elementwise_binding.cc',
        'native/compute/rows.cc',
        'native/compute/rows_binding.cc',
        # The fused optimizer step (SGD, Adam, AdamW) of a parameter group.
        'native/compute/optim.cc',
        'native/compute/optim_binding.cc',
        # The cpu's vector FMA peak and read / copy bandwidth: the benchmarks' roofline ceilings.
        'native/compute/probe.cc',
        'native/compute/probe_binding.cc',
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
      'cflags_cc': ['-O3', '-std=c++17', '-fopenmp'],
      'ldflags': ['-fopenmp'],
      'libraries': ['-ldl'],
      'conditions': [
        ['xpu_prebuild==1', {
          # oneDNN, libgomp and OpenCL's loader ship in lib/ beside the baseline binary and one level
          # up from the ISA variants'. DT_RPATH (not RUNPATH): it also serves libdnnl's own NEEDED.
          'ldflags': ['-Wl,--disable-new-dtags', "-Wl,-rpath,'$$ORIGIN/lib:$$ORIGIN/../lib'"],
        }],
        ['xpu_march!=""', {
          'cflags_cc': ['-march=<(xpu_march)'],
        }],
        ['xpu_dnnl==1', {
          'defines': ['XPU_HAVE_DNNL=1'],
          'libraries': ['-ldnnl', '-lgomp'],
        }],
        ['xpu_dnnl==1 and xpu_mkl_root!=""', {
          # oneMKL's BLAS on GNU OpenMP (libgomp: the pool oneDNN and our kernels use), LP64.
          # DT_RPATH, not RUNPATH: libmkl_core dlopens its per-ISA kernels (libmkl_avx512.so.3, ...),
          # and only an RPATH of the object that loaded it serves such a dlopen.
          'defines': ['XPU_HAVE_MKL=1'],
          'include_dirs': ['<(xpu_mkl_root)/include'],
          'libraries': ['-L<(xpu_mkl_lib)', '-lmkl_gf_lp64', '-lmkl_gnu_thread', '-lmkl_core'],
          'ldflags': ['-Wl,--disable-new-dtags', '-Wl,-rpath,<(xpu_mkl_lib)'],
        }],
      ],
    },
  ],
  'conditions': [
    ['xpu_mpi==1', {
      'targets': [
        {
          # The OpenMPI engine, a plugin the addon dlopens (native/collectives/plugin.h).
          'target_name': 'xpu_mpi',
          # A shared library (build/Release/xpu_mpi.so), not a loadable_module: node-gyp names every
          # loadable module .node, and node-gyp-build takes the first .node in build/Release.
          'type': 'shared_library',
          'product_prefix': '',
          'product_extension': 'so',
          'sources': ['native/collectives/mpi_backend.cc', 'native/collectives/engine.cc', 'native/collectives/agree.cc'],
          'include_dirs': ['<(xpu_napi_include)'],
          # OMPI_SKIP_MPICXX: OpenMPI's deprecated C++ bindings break a Node addon's link.
          'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'XPU_HAVE_MPI=1', 'OMPI_SKIP_MPICXX=1', 'XPU_COLL_PLUGIN=1'],
          'cflags!': ['-fno-exceptions'],
          'cflags_cc!': ['-fno-exceptions'],
          'cflags_cc': ['-O2', '-std=c++17', '<!@(pkg-config --cflags ompi-c)'],
          'libraries': ['<!@(pkg-config --libs ompi-c)', '-ldl'],
        },
        {
          # The plain C++ reference for bench/collectives.ts: MPI_Allreduce timed the way the
          # TypeScript ranks time theirs. Only with MPI; the bench compiles it with mpicxx itself
          # when this binary is absent.
          'target_name': 'allreduce_baseline',
          'type': 'executable',
          'sources': ['native/bench/allreduce_baseline.cc'],
          'defines': ['OMPI_SKIP_MPICXX=1'],
          'cflags_cc': ['-O3', '-std=c++17', '<!@(pkg-config --cflags ompi-c)'],
          'libraries': ['<!@(pkg-config --libs ompi-c)'],
        },
      ],
    }],
    ['xpu_ccl_root!=""', {
      'targets': [
        {
          # The oneCCL engine, a plugin the addon dlopens (native/collectives/plugin.h).
          'target_name': 'xpu_ccl',
          'type': 'shared_library',
          'product_prefix': '',
          'product_extension': 'so',
          'sources': ['native/collectives/ccl_backend.cc', 'native/collectives/engine.cc', 'native/collectives/agree.cc'],
          'include_dirs': ['<(xpu_napi_include)', '<(xpu_ccl_root)/include'],
          'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'XPU_HAVE_CCL=1', 'XPU_CCL_ROOT_DIR="<(xpu_ccl_root)"', 'XPU_COLL_PLUGIN=1'],
          'cflags!': ['-fno-exceptions'],
          'cflags_cc!': ['-fno-exceptions'],
          'cflags_cc': ['-O2', '-std=c++17'],
          'libraries': ['-L<(xpu_ccl_lib)', '-lccl'],
          'conditions': [
            # A source build finds oneCCL where it was built against (oneAPI's lib/ is not on the
            # loader's path unless setvars.sh was sourced). A prebuilt one has no such path: the
            # addon loads libccl.so.1 from XPU_CCL_ROOT / CCL_ROOT first (plugins.cc).
            ['xpu_prebuild!=1', { 'libraries': ['-Wl,-rpath,<(xpu_ccl_lib)'] }],
          ],
        },
      ],
    }],
  ],
}
