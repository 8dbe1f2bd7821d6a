// Weighted boxes fusion (Solovyev et al. 2019) as ZFTurbo's ensemble_boxes
// weighted_boxes_fusion, in the native addon (native/src/detection.cc): the
// boxes of several models (or TTA views) are clustered per label — each box,
// highest score first, joins the fused box it overlaps most if that IoU is
// > iouThr — and each cluster becomes one box whose corners are the
// score-weighted mean of its members'.
import * as torch from '../torch/index.js';
import * as kernels from '../torch/detection.js';
import type { Tensor } from '../torch/tensor.js';
import { arr, bool, num, obj, oneOf, opt } from '../util/schema.js';
import { boxesArg, floatArg, integerArg, tensorArg } from './check.js';

/** One model's detections on one image: boxes [N, 4] xyxy, scores [N], labels [N] (integers). */
export interface Detections {
  boxes: Tensor;
  scores: Tensor;
  labels: Tensor;
}

export type WbfConfType = 'avg' | 'max' | 'box_and_model_avg' | 'absent_model_aware_avg';

export interface WbfOptions {
  /** One weight per model; scores count × weight. Default all 1. */
  weights?: number[];
  /** A box joins a cluster when its IoU with the fused box is > this. Default 0.55 (ensemble_boxes). */
  iouThr?: number;
  /** Boxes scoring below this are dropped first. Default 1e-4 (ensemble_boxes' README; its function's default is 0). */
  skipBoxThr?: number;
  /**
   * The fused score (ensemble_boxes' conf_type). Default 'avg': the mean of the
   * members' score × weight, times min(models, members) / Σ weights.
   * 'max': the best member's score × weight / max weight; 'box_and_model_avg':
   * mean × members / Σ member weights × Σ weights of the models present / Σ weights;
   * 'absent_model_aware_avg': mean × members / (Σ member weights + Σ weights of the absent models).
   */
  confType?: WbfConfType;
  /** 'avg' only: members / Σ weights instead of min(models, members) / Σ weights, so a score may exceed 1. Default false. */
  allowsOverflow?: boolean;
  /**
   * [height, width] when the boxes are in pixels: they are clipped to the
   * image. Without it they must be normalised to [0, 1] and are clipped to it,
   * as ensemble_boxes does (it warns; this clips silently).
   */
  imageSize?: [number, number];
}

const CONF_TYPES: Record<WbfConfType, 0 | 1 | 2 | 3> = { avg: 0, max: 1, box_and_model_avg: 2, absent_model_aware_avg: 3 };
const WBF = obj({
  weights: opt(arr(num(0))), iouThr: opt(num(0, 1)), skipBoxThr: opt(num()), confType: opt(oneOf('avg', 'max', 'box_and_model_avg', 'absent_model_aware_avg')),
  allowsOverflow: opt(bool), imageSize: opt(arr(num(Number.MIN_VALUE), 2)),
});

/**
 * Fuses the detections of several models on one image. Inside the fusion, as
 * ensemble_boxes: corners are put in order (x1 ≤ x2, y1 ≤ y2), clipped, and
 * zero-area boxes dropped; a fused box's corners are kept to float32
 * precision. Returns the fused boxes highest score first (ties: the later
 * one first, as numpy's argsort()[::-1] on short lists), in the first model's
 * boxes dtype, with int64 labels. Differences from ensemble_boxes: wrong
 * input throws (it prints and exits, or silently resets the weights to 1).
 */
export function weightedBoxesFusion(detections: Detections[], opts: WbfOptions = {}): Detections {
  const who = 'weightedBoxesFusion';
  if (!Array.isArray(detections) || detections.length === 0) throw new TypeError(`${who}: detections must be a non-empty array of { boxes, scores, labels }, one per model`);
  WBF(opts, who);
  const weights = opts.weights ?? detections.map(() => 1);
  if (weights.length !== detections.length) throw new TypeError(`${who}: weights must have one value per model (${detections.length}), got ${weights.length}`);
  if (!(weights.reduce((a, b) => a + b, 0) > 0)) throw new RangeError(`${who}: weights must not all be 0`);
  let dtype: 'float32' | 'float64' = 'float32';
  detections.forEach((d, i) => {
    if (typeof d !== 'object' || d === null) throw new TypeError(`${who}: detections[${i}] must be { boxes, scores, labels }`);
    const b = boxesArg(d.boxes, who, `detections[${i}].boxes`, 2);
    floatArg(b, who, `detections[${i}].boxes`);
    if (i === 0) dtype = b.dtype as 'float32' | 'float64';
    const n = b.shape[0];
    for (const k of ['scores', 'labels'] as const) {
      const t = tensorArg(d[k], who, `detections[${i}].${k}`);
      if (t.ndim !== 1 || t.shape[0] !== n) throw new TypeError(`${who}: detections[${i}].${k} must be [${n}] (one per box), got [${t.shape}]`);
    }
    floatArg(d.scores, who, `detections[${i}].scores`);
    integerArg(d.labels, who, `detections[${i}].labels`);
  });
  const [h, w] = opts.imageSize ?? [1, 1];
  const fused = torch.scope(() => {
    const boxes = torch.cat(detections.map((d) => d.boxes.to({ dtype })), 0);
    const scores = torch.cat(detections.map((d) => d.scores.to({ dtype })), 0);
    const labels = torch.cat(detections.map((d) => d.labels.to({ dtype: 'int64' })), 0);
    const models = torch.cat(detections.map((d, i) => torch.full([d.boxes.shape[0]], i, { dtype: 'int64' })), 0);
    return kernels.weightedBoxesFusion(boxes, scores, labels, models, weights, opts.iouThr ?? 0.55, opts.skipBoxThr ?? 1e-4, CONF_TYPES[opts.confType ?? 'avg'],
      opts.allowsOverflow ?? false, w, h);
  });
  return { boxes: fused[0], scores: fused[1], labels: fused[2] };
}
