// BatchNorm2d, GroupNorm, LayerNorm (torch/nn/modules/batchnorm.py, normalization.py);
// FrozenBatchNorm2d (torchvision/ops/misc.py).
import { Module, type StateDict } from '../module.js';
import { Parameter, parameter } from '../parameter.js';
import { Tensor } from '../../torch/tensor.js';
import { ones, zeros, scalarTensor } from '../../torch/creation.js';
import * as F from '../../torch/functional.js';
import { noGrad } from '../../torch/runtime.js';

export interface BatchNormOptions { eps?: number; momentum?: number | null; affine?: boolean; trackRunningStats?: boolean }

/**
 * BatchNorm over [N,C,H,W] (or [N,C]). momentum 0.1 as PyTorch; momentum null
 * gives the cumulative moving average. Running variance is unbiased.
 */
export class BatchNorm2d extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly eps: number;
  /** Mutable: updateBn switches it to null (cumulative average) while it recomputes statistics. */
  momentum: number | null;
  readonly trackRunningStats: boolean;
  constructor(readonly numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new RangeError(`BatchNorm2d: numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    const affine = opts.affine ?? true;
    this.weight = affine ? parameter(ones(numFeatures)) : null;
    this.bias = affine ? parameter(zeros(numFeatures)) : null;
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', zeros(numFeatures));
      this.registerBuffer('running_var', ones(numFeatures));
      this.registerBuffer('num_batches_tracked', scalarTensor(0, { dtype: 'int64' }));
    }
  }
  get runningMean(): Tensor | null { return this._buffers.get('running_mean')?.tensor ?? null; }
  get runningVar(): Tensor | null { return this._buffers.get('running_var')?.tensor ?? null; }

  resetRunningStats(): void {
    if (!this.trackRunningStats) return;
    noGrad(() => {
      this.getBuffer('running_mean').zero_();
      this.getBuffer('running_var').fill_(1);
      this.getBuffer('num_batches_tracked').zero_();
    });
  }

  forward(x: Tensor): Tensor {
    let momentum = this.momentum ?? 0;
    if (this.training && this.trackRunningStats) {
      const n = this.getBuffer('num_batches_tracked');
      noGrad(() => n.add_(1));
      if (this.momentum === null) momentum = 1 / n.item();
    }
    const useBatch = this.training || !this.trackRunningStats;
    return F.batchNorm(x, useBatch && !this.trackRunningStats ? null : this.runningMean, useBatch && !this.trackRunningStats ? null : this.runningVar, {
      weight: this.weight, bias: this.bias, training: useBatch, momentum, eps: this.eps,
    });
  }
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}`;
  }
}

/**
 * torchvision.ops.misc.FrozenBatchNorm2d (0.14): BatchNorm2d whose statistics
 * and affine parameters are fixed, the norm a detector's pretrained backbone
 * is fine-tuned with. Its four tensors are buffers, not parameters (no grad,
 * never decayed, never updated): weight, bias, running_mean, running_var, in
 * that order (torchvision's state-dict order), and no num_batches_tracked.
 * forward is torchvision's: x · scale + (bias − running_mean · scale) with
 * scale = weight · rsqrt(running_var + eps), the same in training and eval.
 */
export class FrozenBatchNorm2d extends Module {
  readonly eps: number;
  constructor(readonly numFeatures: number, opts: { eps?: number } = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new RangeError(`FrozenBatchNorm2d: numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = opts.eps ?? 1e-5;
    this.registerBuffer('weight', ones(numFeatures));
    this.registerBuffer('bias', zeros(numFeatures));
    this.registerBuffer('running_mean', zeros(numFeatures));
    this.registerBuffer('running_var', ones(numFeatures));
  }
  get weight(): Tensor { return this.getBuffer('weight'); }
  get bias(): Tensor { return this.getBuffer('bias'); }
  get runningMean(): Tensor { return this.getBuffer('running_mean'); }
  get runningVar(): Tensor { return this.getBuffer('running_var'); }
  forward(x: Tensor): Tensor {
    const shape = [1, this.numFeatures, ...new Array(Math.max(0, x.dim() - 2)).fill(1)];
    const scale = this.weight.mul(this.runningVar.add(this.eps).rsqrt());
    const shift = this.bias.sub(this.runningMean.mul(scale));
    return x.mul(scale.reshape(shape)).add(shift.reshape(shape));
  }
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}`;
  }
}

/**
 * The keys of `sd` a FrozenBatchNorm2d drops when loading (torchvision's
 * FrozenBatchNorm2d._load_from_state_dict deletes `<prefix>num_batches_tracked`,
 * so a BatchNorm2d's state dict loads into it strictly): every
 * `<prefix>num_batches_tracked` that `own` (the model's state dict) lacks while
 * it has `<prefix>running_var` — a frozen norm's, since a BatchNorm2d that
 * tracks statistics has both.
 */
export function frozenBnExtraKeys(own: StateDict, sd: StateDict): string[] {
  const suffix = 'num_batches_tracked';
  return Object.keys(sd).filter((k) => {
    if (!(k === suffix || k.endsWith(`.${suffix}`)) || k in own) return false;
    return `${k.slice(0, k.length - suffix.length)}running_var` in own;
  });
}

export class GroupNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  constructor(readonly numGroups: number, readonly numChannels: number, readonly opts: { eps?: number; affine?: boolean } = {}) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || numChannels % numGroups !== 0)
      throw new RangeError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    const affine = opts.affine ?? true;
    this.weight = affine ? parameter(ones(numChannels)) : null;
    this.bias = affine ? parameter(zeros(numChannels)) : null;
  }
  forward(x: Tensor): Tensor {
    // Under CPU bf16 autocast a conv hands GroupNorm a bf16 input while its affine parameters stay fp32, and
    // libtorch 1.13's group_norm refuses the mix ("expected scalar type BFloat16 but found Float": torchvision's
    // FCOS fails there). Normalise in fp32, as CUDA autocast runs group_norm (its fp32 list); the next conv casts back.
    const low = x.dtype === 'bfloat16' || x.dtype === 'float16';
    const wide = low && (this.weight?.dtype ?? 'float32') === 'float32' ? x.float() : x;
    return F.groupNorm(wide, this.numGroups, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }
}

export class LayerNorm extends Module {
  weight: Parameter | null;
  bias: Parameter | null;
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | number[], readonly opts: { eps?: number; elementwiseAffine?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? parameter(ones(this.normalizedShape)) : null;
    this.bias = affine ? parameter(zeros(this.normalizedShape)) : null;
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.opts.eps ?? 1e-5);
  }
}
