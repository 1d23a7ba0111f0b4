# The native addon xpu_native: buildInfo(), and collectives through OpenMPI and oneCCL (each
# compiled in only when found); CPU kernels come later. What gets compiled in is decided by
# native/configure.mjs.
# The runtime works without this addon; scripts/setup.sh builds it and tolerates a failure.
{
  'variables': {
    'xpu_mpi%': '<!(node native/configure.mjs mpi)',
    'xpu_ccl_root%': '<!(node native/configure.mjs ccl-root)',
    'xpu_ccl_lib%': '<!(node native/configure.mjs ccl-lib)',
    'xpu_march%': '<!(node native/configure.mjs march)',
    'xpu_dnnl%': '<!(node native/configure.mjs dnnl)',
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
        # fd 2 redirected around a synchronous call (Dawn's adapter warnings, src/device/stderr_filter.ts).
        'native/stderr_capture.cc',
        # Collectives: a worker thread per engine (engine.cc), the JS binding shared by the
        # engines (binding.cc), the cross-rank argument check (agree.cc), and one file per engine,
        # each reducing to a stub when its engine is absent.
        'native/collectives/engine.cc',
        'native/collectives/binding.cc',
        'native/collectives/agree.cc',
        'native/collectives/mpi_backend.cc',
        'native/collectives/ccl_backend.cc',
        # CPU kernels: one compute thread with an ordered queue (queue.cc) and the GEMM on
        # oneDNN's matmul primitive (gemm.cc; without oneDNN only the queue is built).
        'native/compute/queue.cc',
        'native/compute/gemm.cc',
        # float16 weights without a whole f32 copy: the streaming GEMV (F16C + FMA) and the
        # threaded tile conversion for the blocked path.
        'native/compute/gemv.cc',
        # The quantized linear (int8 / int4 / w8a8) and the blocked flash attention, on the same
        # queue; our own intrinsics kernels, threaded with OpenMP (libgomp, oneDNN's pool too).
        'native/compute/qgemm.cc',
        # GGUF block formats (q4_0, q4_1, q8_0, q4_k, q6_k) read in place: GEMV and tile + sgemm.
        'native/compute/qgemm_gguf.cc',
        'native/compute/attention.cc',
        # Elementwise maps and row kernels (softmax, norms, reductions, rotary) on float32, vectorised
        # (vexp.h: exp in double with AVX-512) and threaded with OpenMP.
        'native/compute/elementwise.cc',
        'native/compute/rows.cc',
        # The cpu's vector FMA peak and read / copy bandwidth: the benchmarks' roofline ceilings.
        'native/compute/probe.cc',
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
      'conditions': [
        ['xpu_march!=""', {
          'cflags_cc': ['-march=<(xpu_march)'],
        }],
        ['xpu_dnnl==1', {
          'defines': ['XPU_HAVE_DNNL=1'],
          'libraries': ['-ldnnl', '-lgomp'],
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
  'conditions': [
    ['xpu_mpi==1', {
      'targets': [
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
  ],
}
