// Soft Dice loss for segmentation (Milletari et al., V-Net 2016), with MONAI's
// `DiceLoss` semantics: per sample and class, 1 − (2·Σ p·t + smoothNr) /
// (Σ p + Σ t + smoothDr) over the spatial positions (Σ p² + Σ t² with
// squaredPred), then the mean over classes and samples; `batch: true` sums over
// the batch first. Multi-class: softmax over [N,K,...] logits and one-hot
// targets from class indices; binary: sigmoid over [N,1,...] logits and 0/1
// targets. Positions whose target is ignoreIndex count for nothing;
// includeBackground false leaves class 0 out. Classification logits [N,K] are
// scored as one map whose positions are the batch's samples (a batch soft
// Dice, as in Li et al., "Dice Loss for Data-imbalanced NLP Tasks", 2020).
import * as torch from '../torch/index.js';
import * as F from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { reduce, type Reduction } from './focal.js';

export interface DiceOptions {
  includeBackground?: boolean;
  squaredPred?: boolean;
  smoothNr?: number;
  smoothDr?: number;
  ignoreIndex?: number;
  batch?: boolean;
  /** 'mean' over samples and classes, or 'none' for [N, K] (or [K] with batch). */
  reduction?: Reduction;
}

export function diceLoss(logits: Tensor, target: Tensor, o: DiceOptions = {}): Tensor {
  if (logits.ndim === 2) {
    // [N,K] → one sample of N positions: [1,K,N,1]; targets [N] → [1,N,1], soft [N,K] → their argmax is not Dice's business: refuse.
    if (target.ndim !== 1) throw new TypeError(`diceLoss: classification targets must be class indices [N], got [${target.shape}]`);
    return diceLoss(logits.t().unsqueeze(0).unsqueeze(3), target.reshape(1, -1, 1), o);
  }
  if (logits.ndim < 3) throw new TypeError(`diceLoss: logits must be [N, K, ...spatial], got [${logits.shape}]`);
  const [n, k] = logits.shape;
  const t = target.ndim === logits.ndim ? target.squeeze(1) : target;
  if (t.ndim !== logits.ndim - 1 || t.shape[0] !== n || t.shape.slice(1).join() !== logits.shape.slice(2).join()) {
    throw new TypeError(`diceLoss: target must be [N, ...spatial] = [${[n, ...logits.shape.slice(2)]}] for logits [${logits.shape}], got [${target.shape}]`);
  }
  const ignore = o.ignoreIndex ?? -100;
  const valid = t.ne(ignore).unsqueeze(1).to({ dtype: logits.dtype });
  let p: Tensor, onehot: Tensor;
  if (k === 1) {
    p = logits.sigmoid();
    onehot = torch.where(t.ne(ignore), t, 0).unsqueeze(1).to({ dtype: logits.dtype });
  } else {
    p = logits.softmax(1);
    const safe = torch.where(t.ne(ignore), t, 0).long();
    if (safe.lt(0).logicalOr(safe.ge(k)).any().item()) throw new RangeError(`diceLoss: target has class indices outside [0, ${k}) that are not ignoreIndex (${ignore})`);
    const dims = [0, t.ndim, ...Array.from({ length: t.ndim - 1 }, (_, i) => i + 1)];
    onehot = F.oneHot(safe, k).permute(...dims).to({ dtype: logits.dtype });
  }
  p = p.mul(valid);
  onehot = onehot.mul(valid);
  if (o.includeBackground === false && k > 1) { p = p.narrow(1, 1, k - 1); onehot = onehot.narrow(1, 1, k - 1); }
  const spatial = Array.from({ length: logits.ndim - 2 }, (_, i) => i + 2);
  const axes = o.batch ? [0, ...spatial] : spatial;
  const inter = p.mul(onehot).sum(axes);
  const denom = o.squaredPred ? p.square().sum(axes).add(onehot.square().sum(axes)) : p.sum(axes).add(onehot.sum(axes));
  const f = inter.mul(2).add(o.smoothNr ?? 1e-5).div(denom.add(o.smoothDr ?? 1e-5)).rsub(1);
  return reduce(f, o.reduction ?? 'mean');
}
