import { isLoopbackAddress } from './env.js';

/**
 * oneCCL reads its settings from the environment at its first call. For ranks that `xpu run`
 * (or torchrun) started, with no launcher of oneCCL's own, these defaults make it work out of the
 * box: no process launcher (the ranks come from RANK/WORLD_SIZE), the OFI transport over
 * libfabric's tcp provider, and the loopback interface when MASTER_ADDR is local. A variable the
 * user set is never changed.
 */
export function setCclEnvDefaults(
  localRank: number,
  localSize: number,
  masterAddr: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const dflt = (k: string, v: string) => {
    if (env[k] === undefined || env[k] === '') env[k] = v;
  };
  dflt('CCL_PROCESS_LAUNCHER', 'none');
  dflt('CCL_LOCAL_RANK', String(localRank));
  dflt('CCL_LOCAL_SIZE', String(localSize));
  dflt('CCL_ATL_TRANSPORT', 'ofi');
  dflt('FI_PROVIDER', 'tcp');
  // oneCCL looks for libfabric under I_MPI_ROOT or its own root, then dlopens the unversioned
  // "libfabric.so", which on Debian only libfabric-dev provides. The soname every libfabric install
  // has (Debian's libfabric1, oneAPI's own once setvars.sh put it on the loader's path) works.
  // Not with Intel MPI's environment, whose own libfabric oneCCL finds by itself.
  if (env.I_MPI_ROOT === undefined) dflt('CCL_OFI_LIBRARY_PATH', 'libfabric.so.1');
  // The settings above are what oneCCL then warns about, once per variable and rank ("value of
  // CCL_... changed"), along with a missing libmpi.so.12 it does not need for OFI: errors only.
  dflt('CCL_LOG_LEVEL', 'error');
  if (isLoopbackAddress(masterAddr)) {
    dflt('CCL_KVS_IFACE', 'lo');
    dflt('FI_TCP_IFACE', 'lo');
  }
}
