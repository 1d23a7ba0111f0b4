import { isLoopbackAddress } from './env.js';

/**
 * oneCCL reads its settings from the environment at its first call. For ranks that `xpu run`
 * (or torchrun) started, with no launcher of oneCCL's own, these defaults make it work out of the
 * box: no process launcher (the ranks come from RANK/WORLD_SIZE), the OFI transport over
 * libfabric's tcp provider, and the loopback interface when MASTER_ADDR is local. A variable the
 * user set is never changed.
 */
export function setCclEnvDefaults(localRank: number, localSize: number, masterAddr: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  const dflt = (k: string, v: string) => {
    if (env[k] === undefined || env[k] === '') env[k] = v;
  };
  dflt('CCL_PROCESS_LAUNCHER', 'none');
  dflt('CCL_LOCAL_RANK', String(localRank));
  dflt('CCL_LOCAL_SIZE', String(localSize));
  dflt('CCL_ATL_TRANSPORT', 'ofi');
  dflt('FI_PROVIDER', 'tcp');
  if (isLoopbackAddress(masterAddr)) {
    dflt('CCL_KVS_IFACE', 'lo');
    dflt('FI_TCP_IFACE', 'lo');
  }
}
