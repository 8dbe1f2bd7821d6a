// torch.nn.SyncBatchNorm on the CPU (native/src/distributed.cc): in training,
// with a process group of more than one rank, the batch statistics are those
// of every rank's batch together (an all-reduce of per-channel sums), so 2
// processes × B/2 normalise as 1 process × B does; otherwise it is
// BatchNorm2d. The same parameters and buffers under the same names, so its
// state dict is a BatchNorm2d's. convertSyncBatchnorm(model) swaps every
// BatchNorm2d of a model for one (PyTorch's SyncBatchNorm.convert_sync_batchnorm),
// keeping its tensors.
import { Module } from '../nn/module.js';
import { BatchNorm2d } from '../nn/layers/norm.js';
import { noGrad } from '../torch/runtime.js';
import { native } from '../torch/native.js';
import { Tensor, handle } from '../torch/tensor.js';
import { currentGroup, getWorldSize, isInitialized } from './process_group.js';

export class SyncBatchNorm extends BatchNorm2d {
  override forward(x: Tensor): Tensor {
    if (!this.training || !isInitialized() || getWorldSize() === 1) return super.forward(x);
    let momentum = this.momentum ?? 0;
    if (this.trackRunningStats) {
      const n = this.getBuffer('num_batches_tracked');
      noGrad(() => n.add_(1));
      if (this.momentum === null) momentum = 1 / n.item(); // cumulative average, as BatchNorm2d
    }
    const opt = (t: Tensor | null, what: string) => (t ? handle(t, `SyncBatchNorm: ${what}`) : null);
    return new Tensor(native.distSyncBatchNorm(currentGroup('SyncBatchNorm').h, handle(x, 'SyncBatchNorm: input'), opt(this.weight, 'weight'), opt(this.bias, 'bias'),
      opt(this.runningMean, 'running_mean'), opt(this.runningVar, 'running_var'), this.eps, momentum));
  }
}

/**
 * Replaces every BatchNorm2d of `module` (not FrozenBatchNorm2d, which has no
 * batch statistics) by a SyncBatchNorm holding the same parameters and
 * buffers; returns the module (or the SyncBatchNorm, when `module` is itself a
 * BatchNorm2d). The replaced count is module.modules() before and after.
 */
export function convertSyncBatchnorm<M extends Module>(module: M): M {
  const swap = (bn: BatchNorm2d): SyncBatchNorm => {
    const s = new SyncBatchNorm(bn.numFeatures, { eps: bn.eps, momentum: bn.momentum ?? undefined, affine: bn.weight !== null, trackRunningStats: bn.trackRunningStats });
    if (bn.momentum === null) s.momentum = null;
    // The same tensors: the optimizer, EMA and checkpoints see no difference.
    s.dispose();
    s.weight = bn.weight;
    s.bias = bn.bias;
    for (const name of ['running_mean', 'running_var', 'num_batches_tracked']) {
      const b = (bn as unknown as { _buffers: Map<string, { tensor: Tensor | null; persistent: boolean }> })._buffers.get(name);
      if (b) (s as unknown as { _buffers: Map<string, unknown> })._buffers.set(name, b);
    }
    s.training = bn.training;
    return s;
  };
  if (module instanceof BatchNorm2d && !(module instanceof SyncBatchNorm)) return swap(module) as unknown as M;
  for (const m of module.modules()) {
    for (const [key, child] of [...m.namedChildren()]) {
      if (child instanceof BatchNorm2d && !(child instanceof SyncBatchNorm)) (m as unknown as Record<string, Module>)[key] = swap(child);
    }
  }
  return module;
}
