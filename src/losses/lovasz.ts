// Lovász-softmax loss (Berman, Rannen Triki, Blaschko, "The Lovász-Softmax
// loss: a tractable surrogate for the optimization of the intersection-over-
// union measure in neural networks", CVPR 2018; reference code
// `lovasz_losses.py`, which mmseg's LovaszLoss copies). For each class c, the
// errors e_i = |[y_i = c] − p_ic| over the non-ignored pixels sorted in
// decreasing order are dotted with the Lovász extension's gradient of the
// Jaccard loss at the sorted ground truth g (lovasz_grad):
//   J_j = 1 − (Σg − Σ_{i≤j} g_i) / (Σg + Σ_{i≤j} (1 − g_i)),  grad = (J_1, J_2 − J_1, …)
// then the mean over the classes present in the targets ('present', the
// reference's default) or over all K ('all'); perImage takes that per image and
// averages the images (an image with nothing counted scores 0).
//
// Batched: [G, K, P] with G = 1 (the batch as one map) or N (perImage), one sort
// over P for every (group, class). Ignored pixels get error −1 so they sort after
// every counted one (errors are ≥ 0); the prefix sums of the counted pixels are
// then the reference's exactly, and the ignored tail is masked out of the dot.
// Ties in the errors may sort either way: the Lovász extension is continuous and
// its value does not depend on their order.
import * as torch from '../torch/index.js';
import * as F from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { IGNORE_INDEX } from '../data/sample.js';

export interface LovaszOptions {
  /** Classes averaged: those in the (non-ignored) targets, or all K (default 'present'). */
  classes?: 'present' | 'all';
  /** One loss per image, then their mean (default false: the batch as one map). */
  perImage?: boolean;
  /** Target value that counts for nothing (default 255). */
  ignoreIndex?: number;
  /** What the first argument is: 'logits' (softmax taken here, as mmseg's LovaszLoss does; the default) or 'probs'. */
  input?: 'logits' | 'probs';
}

export function lovaszSoftmax(x: Tensor, target: Tensor, o: LovaszOptions = {}): Tensor {
  if (x.ndim !== 4) throw new TypeError(`lovaszSoftmax: input must be [N, K, H, W], got [${x.shape}]`);
  if (!x.isFloatingPoint()) throw new TypeError(`lovaszSoftmax: input must be floating point, got ${x.dtype}`);
  const [n, k, h, w] = x.shape;
  if (k < 2) throw new RangeError(`lovaszSoftmax: input needs K >= 2 classes (softmax), got [${x.shape}]`);
  if (target.ndim !== 3 || target.shape.join() !== [n, h, w].join()) throw new TypeError(`lovaszSoftmax: target must be [N, H, W] = [${[n, h, w]}] for input [${x.shape}], got [${target.shape}]`);
  if (target.isFloatingPoint() || target.dtype === 'bool') throw new TypeError(`lovaszSoftmax: target must be integer class indices, got ${target.dtype}`);
  const classes = o.classes ?? 'present';
  if (classes !== 'present' && classes !== 'all') throw new RangeError(`lovaszSoftmax: classes must be 'present' or 'all', got ${String(classes)}`);
  const input = o.input ?? 'logits';
  if (input !== 'logits' && input !== 'probs') throw new RangeError(`lovaszSoftmax: input must be 'logits' or 'probs', got ${String(input)}`);
  const ignore = o.ignoreIndex ?? IGNORE_INDEX;
  if (!Number.isInteger(ignore)) throw new RangeError(`lovaszSoftmax: ignoreIndex must be an integer, got ${ignore}`);
  const valid = target.ne(ignore);
  const safe = torch.where(valid, target, 0).long();
  if (safe.lt(0).logicalOr(safe.ge(k)).any().item()) throw new RangeError(`lovaszSoftmax: target has class indices outside [0, ${k}) that are not ignoreIndex (${ignore})`);
  if (input === 'probs' && x.lt(0).logicalOr(x.gt(1)).any().item()) throw new RangeError("lovaszSoftmax: input 'probs' must lie in [0, 1] (pass input: 'logits' for raw scores)");

  const p = input === 'logits' ? x.softmax(1) : x;
  const g = o.perImage ? n : 1;
  const probs = p.reshape(n, k, h * w).permute(1, 0, 2).reshape(k, g, -1).permute(1, 0, 2); // [G, K, P]
  const m = valid.reshape(g, 1, -1); // [G, 1, P]
  const fg = F.oneHot(safe, k).reshape(n, h * w, k).permute(2, 0, 1).reshape(k, g, -1).permute(1, 0, 2)
    .logicalAnd(m).to({ dtype: p.dtype }); // [G, K, P], 0 on ignored pixels
  const errors = torch.where(m, fg.sub(probs).abs(), -1);
  const { values, indices } = errors.sort(-1, true);
  const fgSorted = fg.gather(-1, indices);
  const keep = m.expand(fg.shape).gather(-1, indices).to({ dtype: p.dtype });
  const gts = fgSorted.sum(-1, true);
  const inter = gts.sub(fgSorted.cumsum(-1));
  const union = gts.add(fgSorted.rsub(1).cumsum(-1));
  const jaccard = inter.div(union).rsub(1);
  const p1 = jaccard.shape[2];
  const grad = p1 > 1 ? torch.cat([jaccard.narrow(2, 0, 1), jaccard.narrow(2, 1, p1 - 1).sub(jaccard.narrow(2, 0, p1 - 1))], 2) : jaccard;
  const perClass = values.mul(keep).mul(grad).sum(-1); // [G, K]
  let perGroup: Tensor;
  if (classes === 'all') {
    perGroup = perClass.mean(-1);
  } else {
    const present = gts.squeeze(-1).gt(0).to({ dtype: p.dtype });
    perGroup = perClass.mul(present).sum(-1).div(present.sum(-1).clamp(1));
  }
  return perGroup.mean();
}
