// torch.distributed on c10d: the default process group and its collectives.
export {
  initProcessGroup, destroyProcessGroup, isInitialized, getRank, getWorldSize, getBackend, parseInitMethod,
  allReduce, broadcast, broadcastCoalesced, allGather, allGatherObject, barrier, store, Work,
  type InitProcessGroupOptions, type CollectiveOptions, type ReduceOp, type Backend,
} from './process_group.js';
export { DistributedDataParallel, type DistributedDataParallelOptions } from './ddp.js';
export { SyncBatchNorm, convertSyncBatchnorm } from './sync_batch_norm.js';
