// FCOS's training loss as torchvision 0.14 computes it
// (torchvision/models/detection/fcos.py FCOS.compute_loss, FCOSHead.compute_loss).
//
// Matching, per image, all points against all boxes at once ([A, M]):
//   centre sampling   the point lies within radius · anchor size of the box's centre
//                     (Chebyshev distance; radius 1.5, FCOS v2 / torchvision)
//   inside            every distance l, t, r, b to the box's edges is > 0
//   scale range       lower < max(l, t, r, b) < upper with lower = 4 · anchor size
//                     (0 on the first level) and upper = 8 · anchor size (∞ on the
//                     last): with torchvision's sizes 8..128, P3 (0, 64), P4 (64, 128),
//                     P5 (128, 256), P6 (256, 512), P7 (512, ∞) — the paper's m_i
//   ambiguity         the matching box of least area (float32 1e8 − area, torchvision's trick)
// Terms, each summed and divided by max(1, foreground points over the batch):
//   classification    sigmoid focal loss (α 0.25, γ 2) on one-hot targets, all points
//   bboxRegression    GIoU loss of the decoded boxes, foreground points
//   bboxCtrness       BCE-with-logits against sqrt(min(l,r)/max(l,r) · min(t,b)/max(t,b))
//                     of the matched box, foreground points
// Images with no boxes have no foreground (their points are all background).
// The loops are over images only; each image's work is batched tensor ops.
import { Tensor } from '../../torch/tensor.js';
import { arange, full, zeros, tensor } from '../../torch/creation.js';
import { stack } from '../../torch/join.js';
import { noGrad } from '../../torch/runtime.js';
import * as F from '../../torch/functional.js';
import { sigmoidFocalLoss } from '../../losses/focal.js';
import { giouLoss } from '../../losses/box.js';
import { BoxLinearCoder } from './box_coder.js';

/** An image's ground truth: boxes float [M, 4] xyxy in pixels, labels int64 [M] in [0, K). */
export interface FCOSTarget { boxes: Tensor; labels: Tensor }

/** What the loss reads of the model's output (FCOS.forward gives it). */
export interface FCOSLossInput {
  /** [N, A, K] */
  clsLogits: Tensor;
  /** [N, A, 4] */
  bboxRegression: Tensor;
  /** [N, A, 1] */
  bboxCtrness: Tensor;
  /** [A, 4] xyxy, the same for every image of the batch. */
  anchors: Tensor;
  /** Points per level, finest first (Σ = A). */
  numAnchorsPerLevel: readonly number[];
}

export interface FCOSLossOptions {
  /** Centre-sampling radius in anchor sizes. Default 1.5 (torchvision's center_sampling_radius). */
  centerSamplingRadius?: number;
  /** Focal loss α. Default 0.25. */
  alpha?: number;
  /** Focal loss γ. Default 2. */
  gamma?: number;
  /**
   * The foreground count's mean over the processes training together (a
   * LossContext's averageOverProcesses; mmdet's reduce_mean(num_pos)). Default:
   * this process's count, as torchvision.
   */
  averageOverProcesses?: (v: Tensor) => Tensor;
}

/** The three terms, torchvision's 'classification', 'bbox_regression', 'bbox_ctrness'. */
export interface FCOSLosses { classification: Tensor; bboxRegression: Tensor; bboxCtrness: Tensor }

/** Each point's scale range [A] (lower, upper) from its anchor size, as torchvision's compute_loss. */
function scaleRanges(anchors: Tensor, numAnchorsPerLevel: readonly number[]): { sizes: Tensor; lower: Tensor; upper: Tensor } {
  const a = anchors.shape[0];
  const sizes = anchors.select(1, 2).sub(anchors.select(1, 0));
  const idx = arange(0, a, 1, { dtype: 'int64' });
  const lower = sizes.mul(4).maskedFill(idx.lt(numAnchorsPerLevel[0]), 0);
  const upper = sizes.mul(8).maskedFill(idx.ge(a - numAnchorsPerLevel[numAnchorsPerLevel.length - 1]), Infinity);
  return { sizes, lower, upper };
}

/**
 * The index of the box each point is matched to ([A] int64, −1 for
 * background), torchvision's FCOS.compute_loss matching for one image.
 */
export function fcosMatch(anchors: Tensor, numAnchorsPerLevel: readonly number[], boxes: Tensor, centerSamplingRadius = 1.5): Tensor {
  return noGrad(() => {
    const a = anchors.shape[0];
    if (boxes.shape[0] === 0) return full([a], -1, { dtype: 'int64' });
    const { sizes, lower, upper } = scaleRanges(anchors, numAnchorsPerLevel);
    return matchWith(anchors, sizes, lower, upper, boxes, centerSamplingRadius);
  });
}

function matchWith(anchors: Tensor, sizes: Tensor, lower: Tensor, upper: Tensor, boxes: Tensor, radius: number): Tensor {
  const gtCenters = boxes.narrow(1, 0, 2).add(boxes.narrow(1, 2, 2)).div(2); // [M, 2]
  const centers = anchors.narrow(1, 0, 2).add(anchors.narrow(1, 2, 2)).div(2); // [A, 2]
  let match = centers.unsqueeze(1).sub(gtCenters.unsqueeze(0)).abs().amax(2).lt(sizes.unsqueeze(1).mul(radius)); // [A, M]
  const [x, y] = centers.unsqueeze(2).unbind(1); // [A, 1]
  const [x0, y0, x1, y1] = boxes.unsqueeze(0).unbind(2); // [1, M]
  const dist = stack([x.sub(x0), y.sub(y0), x1.sub(x), y1.sub(y)], 2); // [A, M, 4]
  match = match.logicalAnd(dist.amin(2).gt(0));
  const far = dist.amax(2);
  match = match.logicalAnd(far.gt(lower.unsqueeze(1))).logicalAnd(far.lt(upper.unsqueeze(1)));
  const areas = x1.sub(x0).mul(y1.sub(y0)); // [1, M]
  const { values, indices } = match.to({ dtype: 'float32' }).mul(areas.rsub(1e8)).max(1);
  return indices.maskedFill(values.lt(1e-5), -1);
}

function checkTargets(targets: readonly FCOSTarget[], n: number, k: number): void {
  if (!Array.isArray(targets) || targets.length !== n) throw new TypeError(`fcosLoss: expected targets for ${n} images (a list of { boxes, labels }), got ${Array.isArray(targets) ? targets.length : String(targets)}`);
  targets.forEach((t, i) => {
    if (!t || !(t.boxes instanceof Tensor) || !(t.labels instanceof Tensor)) throw new TypeError(`fcosLoss: targets[${i}] must be { boxes: Tensor [M, 4], labels: Tensor [M] }`);
    const m = t.boxes.shape[0];
    if (t.boxes.dim() !== 2 || t.boxes.shape[1] !== 4 || !t.boxes.isFloatingPoint()) throw new RangeError(`fcosLoss: targets[${i}].boxes must be float [M, 4] xyxy, got ${t.boxes.dtype} [${t.boxes.shape.join(', ')}]`);
    if (t.labels.dim() !== 1 || t.labels.shape[0] !== m || t.labels.isFloatingPoint()) throw new RangeError(`fcosLoss: targets[${i}].labels must be integer [${m}], got ${t.labels.dtype} [${t.labels.shape.join(', ')}]`);
    if (m === 0) return;
    // torchvision's forward: "All bounding boxes should have positive height and width".
    const bad = t.boxes.narrow(1, 2, 2).le(t.boxes.narrow(1, 0, 2)).any(1);
    if (bad.any().item()) {
      const j = bad.nonzero().reshape(-1).toArray()[0] as number;
      throw new RangeError(`fcosLoss: targets[${i}].boxes[${j}] = [${(t.boxes.select(0, j).toArray() as number[]).join(', ')}] has no positive width and height (boxes are xyxy with x1 < x2, y1 < y2)`);
    }
    const lo = t.labels.min().item(), hi = t.labels.max().item();
    if (lo < 0 || hi >= k) throw new RangeError(`fcosLoss: targets[${i}].labels must be in [0, ${k}) (the model's classes), got values in [${lo}, ${hi}]`);
  });
}

/** torchvision's FCOS losses for a batch: the matching above, then FCOSHead.compute_loss. */
export function fcosLoss(out: FCOSLossInput, targets: readonly FCOSTarget[], opts: FCOSLossOptions = {}): FCOSLosses {
  const radius = opts.centerSamplingRadius ?? 1.5;
  if (!(radius > 0)) throw new RangeError(`fcosLoss: centerSamplingRadius must be > 0, got ${String(radius)}`);
  const { clsLogits, bboxRegression, bboxCtrness, anchors, numAnchorsPerLevel } = out;
  const [n, a, k] = clsLogits.shape;
  if (anchors.shape[0] !== a || bboxRegression.shape[1] !== a || bboxCtrness.shape[1] !== a)
    throw new RangeError(`fcosLoss: ${a} points in clsLogits but anchors [${anchors.shape.join(', ')}], bboxRegression [${bboxRegression.shape.join(', ')}], bboxCtrness [${bboxCtrness.shape.join(', ')}]`);
  checkTargets(targets, n, k);

  // Per image: each point's class (−1 background) and box (a zero box for an empty image).
  const { classes, boxes } = noGrad(() => {
    const { sizes, lower, upper } = scaleRanges(anchors, numAnchorsPerLevel);
    const cls: Tensor[] = [], bx: Tensor[] = [];
    for (const t of targets) {
      if (t.boxes.shape[0] === 0) {
        cls.push(full([a], -1, { dtype: 'int64' }));
        bx.push(zeros([a, 4], { dtype: clsLogits.dtype }));
        continue;
      }
      const matched = matchWith(anchors, sizes, lower, upper, t.boxes.to({ dtype: 'float32' }), radius);
      const safe = matched.clamp(0);
      cls.push(t.labels.long().indexSelect(0, safe).maskedFill(matched.lt(0), -1));
      bx.push(t.boxes.to({ dtype: clsLogits.dtype }).indexSelect(0, safe));
    }
    return { classes: stack(cls), boxes: stack(bx) }; // [N, A], [N, A, 4]
  });

  const fg = classes.ge(0); // [N, A]
  let numFg = fg.sum().to({ dtype: 'float32' });
  if (opts.averageOverProcesses) numFg = opts.averageOverProcesses(numFg);
  const norm = numFg.clamp(1);

  const oneHot = noGrad(() => F.oneHot(classes.clamp(0), k).to({ dtype: clsLogits.dtype }).mul(fg.unsqueeze(2)));
  const lossCls = sigmoidFocalLoss(clsLogits, oneHot, { alpha: opts.alpha ?? 0.25, gamma: opts.gamma ?? 2, reduction: 'sum' });

  const coder = new BoxLinearCoder(true);
  const predBoxes = coder.decode(bboxRegression, anchors); // [N, A, 4]
  const lossBox = giouLoss(predBoxes.index(fg), boxes.index(fg), { reduction: 'sum' });

  const ctrTargets = noGrad(() => {
    const reg = coder.encode(anchors, boxes); // [N, A, 4]
    const lr = reg.indexSelect(2, tensor([0, 2], { dtype: 'int64' }));
    const tb = reg.indexSelect(2, tensor([1, 3], { dtype: 'int64' }));
    return lr.amin(2).div(lr.amax(2)).mul(tb.amin(2).div(tb.amax(2))).sqrt();
  });
  const lossCtr = F.binaryCrossEntropyWithLogits(bboxCtrness.squeeze(2).index(fg), ctrTargets.index(fg), { reduction: 'sum' });

  return { classification: lossCls.div(norm), bboxRegression: lossBox.div(norm), bboxCtrness: lossCtr.div(norm) };
}
