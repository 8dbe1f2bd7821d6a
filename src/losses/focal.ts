// Focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017).
// sigmoidFocalLoss: torchvision.ops.sigmoid_focal_loss (α 0.25, γ 2, per
// element on logits and 0/1 targets; reduction 'none' by default there, 'mean'
// here as a loss). softmaxFocalLoss: the multi-class form −α_c (1 − p_t)^γ log p_t
// over [N,K] or [N,K,H,W] with class weights α_c and an ignore index; 'mean'
// divides by the summed weights of the counted targets (PyTorch's weighted
// cross-entropy rule), so γ = 0 gives F.cross_entropy exactly. Soft targets
// [N,K] (after MixUp/CutMix or label smoothing) give −Σ_c α_c y_c (1 − p_c)^γ log p_c,
// averaged over samples, as PyTorch's cross_entropy does with probabilities.
import * as torch from '../torch/index.js';
import * as F from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';

/** PyTorch's loss reductions (one type, declared with the functional losses). */
export type { Reduction } from '../torch/ops.js';
import type { Reduction } from '../torch/ops.js';

export function sigmoidFocalLoss(logits: Tensor, targets: Tensor, opts: { alpha?: number; gamma?: number; reduction?: Reduction } = {}): Tensor {
  const alpha = opts.alpha ?? 0.25, gamma = opts.gamma ?? 2;
  if (!(gamma >= 0)) throw new RangeError(`sigmoidFocalLoss: gamma must be >= 0, got ${gamma}`);
  const t = targets.to({ dtype: logits.dtype });
  const p = logits.sigmoid();
  const ce = F.binaryCrossEntropyWithLogits(logits, t, { reduction: 'none' });
  const pt = p.mul(t).add(p.rsub(1).mul(t.rsub(1)));
  let loss = ce.mul(pt.rsub(1).pow(gamma));
  if (alpha >= 0) loss = loss.mul(t.mul(alpha).add(t.rsub(1).mul(1 - alpha)));
  return reduce(loss, opts.reduction ?? 'mean');
}

export interface SoftmaxFocalOptions {
  gamma?: number;
  /** Per-class weights α_c [K] (e.g. from classWeights). */
  weight?: Tensor | number[] | null;
  ignoreIndex?: number;
  reduction?: Reduction;
}

export function softmaxFocalLoss(logits: Tensor, target: Tensor, opts: SoftmaxFocalOptions = {}): Tensor {
  const gamma = opts.gamma ?? 2;
  if (!(gamma >= 0)) throw new RangeError(`softmaxFocalLoss: gamma must be >= 0, got ${gamma}`);
  if (logits.ndim < 2) throw new TypeError(`softmaxFocalLoss: logits must be [N, K, ...], got [${logits.shape}]`);
  const k = logits.shape[1];
  const wt = opts.weight ? (Array.isArray(opts.weight) ? torch.tensor(opts.weight, { dtype: 'float32' }) : opts.weight) : null;
  if (wt && wt.numel() !== k) throw new TypeError(`softmaxFocalLoss: weight must have ${k} values (one per class), got ${wt.numel()}`);
  if (target.shape.join() === logits.shape.join() && target.isFloatingPoint()) {
    const logp = logits.logSoftmax(1);
    let per = logp.exp().rsub(1).pow(gamma).mul(logp).mul(target.to({ dtype: logits.dtype })).neg();
    if (wt) per = per.mul(wt.to({ dtype: per.dtype }).reshape([1, k, ...new Array(logits.ndim - 2).fill(1)]));
    const loss = per.sum(1);
    return reduce(loss, opts.reduction ?? 'mean');
  }
  if (target.ndim !== logits.ndim - 1) throw new TypeError(`softmaxFocalLoss: target must be class indices [N, ...] for logits [${logits.shape}], got [${target.shape}]`);
  const ignore = opts.ignoreIndex ?? -100;
  const valid = target.ne(ignore);
  const safe = torch.where(valid, target, 0).long();
  const bad = safe.lt(0).logicalOr(safe.ge(k)).any().item();
  if (bad) throw new RangeError(`softmaxFocalLoss: target has class indices outside [0, ${k}) that are not ignoreIndex (${ignore})`);
  const logpt = logits.logSoftmax(1).gather(1, safe.unsqueeze(1)).squeeze(1);
  let loss = logpt.exp().rsub(1).pow(gamma).mul(logpt).neg();
  let w = valid.to({ dtype: loss.dtype });
  if (wt) {
    w = w.mul(wt.to({ dtype: loss.dtype }).indexSelect(0, safe.reshape(-1)).reshape(safe.shape));
  }
  loss = loss.mul(w);
  const r = opts.reduction ?? 'mean';
  if (r === 'mean') return loss.sum().div(w.sum());
  return reduce(loss, r);
}

export function reduce(loss: Tensor, r: Reduction): Tensor {
  if (r === 'mean') return loss.mean();
  if (r === 'sum') return loss.sum();
  if (r === 'none') return loss;
  throw new RangeError(`reduction must be 'mean', 'sum' or 'none', got ${String(r)}`);
}
