/**
 * xpu.dist: process groups and collectives on tensors (torch.distributed's names, camelCase),
 * through the native addon's engines (OpenMPI, oneCCL). See README's Collectives section.
 */
export { initProcessGroup, destroyProcessGroup, newGroup, getRank, getWorldSize, isInitialized, type InitOptions } from './init.js';
export { allReduce, broadcast, allGather, allGatherV, reduceScatter, allToAll, barrier } from './collectives.js';
export type {
  GroupOptions,
  AllReduceOptions,
  BroadcastOptions,
  OutputOptions,
  ReduceScatterOptions,
  AllToAllOptions,
  AllGatherVResult,
} from './collectives.js';
export { send, recv, type P2POptions } from './p2p.js';
export { DistributedDataParallel, DistributedDataParallelModule, type DistributedDataParallelOptions } from './ddp.js';
export { ProcessGroup } from './process_group.js';
export { lastTiming, type CollectiveTiming } from './timing.js';
export { TcpStore, type StoreConnectOptions } from './store.js';
export { StoreServer, type StoreServerOptions, type StoreStats, type DropReason } from './store_server.js';
export { DEFAULT_STORE_LIMITS, type StoreLimits } from './store_limits.js';
export type { Backend, ReduceOp, DistDType } from './native.js';
