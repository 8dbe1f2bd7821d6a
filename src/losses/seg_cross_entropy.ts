// Cross-entropy for semantic segmentation: logits [N,K,H,W], class maps int64
// [N,H,W] with an ignore index (255 by default, the sample format's), class
// weights and ignoreIndex together (the combination mmseg issue #3568 crashed
// on). Per pixel ℓ_i = −w_{y_i} log softmax(z_i)_{y_i}, 0 where y_i is ignored;
// what the sum is divided by is named, because the two libraries differ:
//   normaliser 'mmseg' (the default), mmseg 1.x CrossEntropyLoss
//   (mmseg/models/losses/cross_entropy_loss.py: F.cross_entropy(weight=class_weight,
//   reduction='none'), then utils.weight_reduce_loss):
//     avgNonIgnore false (mmseg's default): Σ ℓ_i / (N·H·W) — every pixel,
//       ignored ones included, counts in the denominator;
//     avgNonIgnore true: Σ ℓ_i / (#non-ignored + ε), ε = float32 eps (mmseg's
//       guard, so an all-ignored batch gives 0). Class weights scale ℓ_i
//       but never the denominator.
//   normaliser 'pytorch', F.cross_entropy(weight, ignore_index, reduction='mean'):
//     Σ ℓ_i / Σ_{non-ignored} w_{y_i} (NaN when every pixel is ignored, as in PyTorch).
// The default is mmseg's avg_non_ignore=False because that is what an mmseg
// config that says only `CrossEntropyLoss` trains with, and our audience's
// recipes and learning rates were tuned under it.
import * as torch from '../torch/index.js';
import * as F from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { IGNORE_INDEX } from '../data/sample.js';
import type { Reduction } from './focal.js';

export type SegNormaliser = 'mmseg' | 'pytorch';

export interface SegCrossEntropyOptions {
  /** Per-class weights [K] (e.g. from classWeights). */
  weight?: Tensor | number[] | null;
  /** Target value that counts for nothing (default 255). */
  ignoreIndex?: number;
  /** mmseg's avg_non_ignore (normaliser 'mmseg' only; default false). */
  avgNonIgnore?: boolean;
  /** Which library's mean (default 'mmseg'). */
  normaliser?: SegNormaliser;
  /** 'mean' (by the normaliser), 'sum', or 'none' for the per-pixel [N,H,W] losses (0 where ignored). */
  reduction?: Reduction;
}

// float32 machine epsilon (torch.finfo(torch.float32).eps), mmseg's weight_reduce_loss guard.
const FLOAT32_EPS = 2 ** -23;

interface Checked { weight: Tensor | null; ignore: number; normaliser: SegNormaliser; avgNonIgnore: boolean }

function check(logits: Tensor, target: Tensor, o: SegCrossEntropyOptions): Checked {
  if (logits.ndim !== 4) throw new TypeError(`segCrossEntropy: logits must be [N, K, H, W], got [${logits.shape}]`);
  if (!logits.isFloatingPoint()) throw new TypeError(`segCrossEntropy: logits must be floating point, got ${logits.dtype}`);
  const [n, k, h, w] = logits.shape;
  if (target.ndim !== 3 || target.shape.join() !== [n, h, w].join()) throw new TypeError(`segCrossEntropy: target must be [N, H, W] = [${[n, h, w]}] for logits [${logits.shape}], got [${target.shape}]`);
  if (target.dtype !== 'int64') throw new TypeError(`segCrossEntropy: target must be int64 class indices, got ${target.dtype}`);
  const ignore = o.ignoreIndex ?? IGNORE_INDEX;
  if (!Number.isInteger(ignore)) throw new RangeError(`segCrossEntropy: ignoreIndex must be an integer, got ${ignore}`);
  const normaliser = o.normaliser ?? 'mmseg';
  if (normaliser !== 'mmseg' && normaliser !== 'pytorch') throw new RangeError(`segCrossEntropy: normaliser must be 'mmseg' or 'pytorch', got ${String(normaliser)}`);
  const avgNonIgnore = o.avgNonIgnore ?? false;
  if (typeof avgNonIgnore !== 'boolean') throw new TypeError(`segCrossEntropy: avgNonIgnore must be a boolean, got ${String(avgNonIgnore)}`);
  if (avgNonIgnore && normaliser === 'pytorch') throw new RangeError("segCrossEntropy: avgNonIgnore is mmseg's option; normaliser 'pytorch' always divides by the non-ignored targets' weight sum");
  let weight: Tensor | null = null;
  if (o.weight) {
    if (Array.isArray(o.weight)) {
      o.weight.forEach((v, i) => { if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`segCrossEntropy: weight[${i}] must be a finite number >= 0, got ${v}`); });
      weight = torch.tensor(o.weight, { dtype: logits.dtype });
    } else {
      weight = o.weight.to({ dtype: logits.dtype });
    }
    if (weight.ndim !== 1 || weight.numel() !== k) throw new TypeError(`segCrossEntropy: weight must be [K] = [${k}] (one per class), got [${weight.shape}]`);
  }
  // libtorch would assert on an out-of-range class; say which input is wrong instead.
  const valid = target.ne(ignore);
  if (target.lt(0).logicalOr(target.ge(k)).logicalAnd(valid).any().item()) {
    throw new RangeError(`segCrossEntropy: target has class indices outside [0, ${k}) that are not ignoreIndex (${ignore})`);
  }
  return { weight, ignore, normaliser, avgNonIgnore };
}

/** The denominator of segCrossEntropy's 'mean' for these targets (a 0-d tensor), for data-parallel averaging of the normaliser. */
export function segCrossEntropyNormaliser(logits: Tensor, target: Tensor, o: SegCrossEntropyOptions = {}): Tensor {
  const c = check(logits, target, o);
  return normaliserOf(target, c, logits.dtype);
}

function normaliserOf(target: Tensor, c: Checked, dtype: Tensor['dtype']): Tensor {
  const valid = target.ne(c.ignore);
  if (c.normaliser === 'pytorch') {
    if (!c.weight) return valid.sum().to({ dtype });
    const safe = torch.where(valid, target, 0);
    return c.weight.indexSelect(0, safe.reshape(-1)).mul(valid.reshape(-1).to({ dtype })).sum();
  }
  if (!c.avgNonIgnore) return torch.tensor(target.numel(), { dtype });
  return valid.sum().to({ dtype }).add(FLOAT32_EPS);
}

export function segCrossEntropy(logits: Tensor, target: Tensor, o: SegCrossEntropyOptions = {}): Tensor {
  const c = check(logits, target, o);
  const r = o.reduction ?? 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new RangeError(`segCrossEntropy: reduction must be 'mean', 'sum' or 'none', got ${String(r)}`);
  // PyTorch's own weighted mean is the fused kernel; everything else is the per-pixel map reduced here.
  if (r === 'mean' && c.normaliser === 'pytorch') return F.crossEntropy(logits, target, { weight: c.weight, ignoreIndex: c.ignore });
  const per = F.crossEntropy(logits, target, { weight: c.weight, ignoreIndex: c.ignore, reduction: 'none' });
  if (r === 'none') return per;
  if (r === 'sum') return per.sum();
  return per.sum().div(normaliserOf(target, c, per.dtype));
}
