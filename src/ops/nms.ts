// Non-maximum suppression in the native addon (native/src/detection.cc):
// torchvision 0.14's nms and batched_nms, and mmcv's Soft-NMS (Bodla et al.
// 2017). Boxes are [N, 4] xyxy, float32 or float64, scores [N] of their dtype.
import * as kernels from '../torch/detection.js';
import type { Tensor } from '../torch/tensor.js';
import { num, obj, oneOf, opt } from '../util/schema.js';
import { boxesArg, floatArg, integerArg, scoresArg, tensorArg, thresholdArg } from './check.js';

function boxesAndScores(boxes: unknown, scores: unknown, who: string): [Tensor, Tensor] {
  const b = boxesArg(boxes, who, 'boxes', 2);
  floatArg(b, who, 'boxes');
  return [b, scoresArg(scores, b, who)];
}

/**
 * torchvision.ops.nms: greedily keeps the highest-scoring box and drops every
 * box whose IoU with it is > iouThreshold. Returns int64 indices in decreasing
 * score order; tied scores in index order (torchvision's CPU kernel sorts with
 * stable=True), so of two equal boxes with equal scores the first is kept.
 * Two zero-area boxes never suppress each other (their IoU is 0/0).
 */
export function nms(boxes: Tensor, scores: Tensor, iouThreshold: number): Tensor {
  const [b, s] = boxesAndScores(boxes, scores, 'nms');
  return kernels.nms(b, s, thresholdArg(iouThreshold, 'nms', 'iouThreshold'));
}

/**
 * torchvision.ops.batched_nms: NMS within each category of idxs [N] (integers),
 * never across. As torchvision: up to 1000 boxes one NMS over boxes offset by
 * category (idx × (max coordinate + 1)); above that one NMS per category, the
 * kept boxes then ordered by libtorch's unstable descending sort (tied scores
 * in the order torchvision gives on the same libtorch).
 */
export function batchedNms(boxes: Tensor, scores: Tensor, idxs: Tensor, iouThreshold: number): Tensor {
  const [b, s] = boxesAndScores(boxes, scores, 'batchedNms');
  const i = tensorArg(idxs, 'batchedNms', 'idxs');
  if (i.ndim !== 1 || i.shape[0] !== b.shape[0]) throw new TypeError(`batchedNms: idxs must be [${b.shape[0]}] (one per box), got [${i.shape}]`);
  integerArg(i, 'batchedNms', 'idxs');
  return kernels.batchedNms(b, s, i, thresholdArg(iouThreshold, 'batchedNms', 'iouThreshold'));
}

export interface SoftNmsOptions {
  /** linear: boxes with IoU ≥ this are decayed (gaussian ignores it). Default 0.3 (mmcv). */
  iouThreshold?: number;
  /** gaussian: score × exp(−IoU² / sigma). Default 0.5 (mmcv, the paper). */
  sigma?: number;
  /** Boxes whose decayed score falls below this are dropped. Default 1e-3 (mmcv). */
  minScore?: number;
  /** 'linear': score × (1 − IoU) above iouThreshold; 'gaussian'. Default 'linear' (mmcv). */
  method?: 'linear' | 'gaussian';
}

const SOFT_NMS = obj({ iouThreshold: opt(num(0, 1)), sigma: opt(num(Number.MIN_VALUE)), minScore: opt(num(0)), method: opt(oneOf('linear', 'gaussian')) });

/**
 * Soft-NMS (Bodla et al., ICCV 2017) as mmcv.ops.soft_nms (offset 0): instead
 * of dropping the boxes that overlap the best one, their scores decay. Returns
 * the kept indices (int64) in the order they were picked and their decayed
 * scores, highest first.
 */
export function softNms(boxes: Tensor, scores: Tensor, opts: SoftNmsOptions = {}): { keep: Tensor; scores: Tensor } {
  const [b, s] = boxesAndScores(boxes, scores, 'softNms');
  SOFT_NMS(opts, 'softNms');
  const [keep, kept] = kernels.softNms(b, s, opts.iouThreshold ?? 0.3, opts.sigma ?? 0.5, opts.minScore ?? 1e-3, (opts.method ?? 'linear') === 'linear' ? 1 : 2);
  return { keep, scores: kept };
}
