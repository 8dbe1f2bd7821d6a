// Detections of TTA views and ensemble members, image by image: a view's
// boxes mapped back to the original frame (View.invertBoxes: mirrored,
// shifted, scaled back and clipped; boxes left with no area lay wholly outside
// the image and are dropped), and several predictions of the same images
// merged into one:
//   'nms'       every box of every view / member, one class-wise NMS
//               (torchvision batched_nms) — mmdet's TTA (merge_aug_bboxes, then
//               multiclass_nms) without its box averaging;
//   'wbf'       weighted boxes fusion (Solovyev et al. 2019; ensemble_boxes):
//               overlapping boxes of a class become their score-weighted mean;
//   'soft-nms'  mmcv's Soft-NMS per class: overlapping boxes' scores decay
//               instead of the boxes going.
// Each merge keeps the best detectionsPerImg. Weights: WBF's own model
// weights; for 'nms' and 'soft-nms' each prediction's scores are multiplied by
// its weight / the largest weight.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { batchedNms, softNms } from '../../ops/nms.js';
import { weightedBoxesFusion } from '../../ops/wbf.js';
import type { View } from '../../infer/tta.js';
import type { Detections } from '../task.js';
import type { DetBoxMergeConfig } from './config.js';

export type DetMerge = 'nms' | 'wbf' | 'soft-nms';

export interface BoxMergeOptions {
  how?: DetMerge;
  weights?: number[];
  /** Each merge's options (config boxMerge). */
  boxMerge?: DetBoxMergeConfig;
  /** NMS IoU of 'nms' when boxMerge.nms.iouThr is not given (the config's postprocess nmsThresh). Default 0.6 (torchvision's). */
  nmsThresh?: number;
  /** Detections kept per image. Default 100. */
  detectionsPerImg?: number;
}

/** Boxes of a prediction on a view, back in the original frame; boxes with no area left are dropped. */
export function invertDetections(view: View, dets: Detections[]): Detections[] {
  return dets.map((d) => {
    const boxes = view.invertBoxes(d.boxes);
    const [x1, y1, x2, y2] = boxes.unbind(1);
    const keep = x2.gt(x1).logicalAnd(y2.gt(y1)).nonzero().reshape(-1);
    return { boxes: boxes.indexSelect(0, keep), scores: d.scores.indexSelect(0, keep), labels: d.labels.indexSelect(0, keep) };
  });
}

const take = (d: Detections, idx: Tensor): Detections => ({ boxes: d.boxes.indexSelect(0, idx), scores: d.scores.indexSelect(0, idx), labels: d.labels.indexSelect(0, idx) });
const first = (d: Detections, n: number): Detections => (d.scores.shape[0] <= n ? d : { boxes: d.boxes.narrow(0, 0, n), scores: d.scores.narrow(0, 0, n), labels: d.labels.narrow(0, 0, n) });
const cat = (ds: Detections[]): Detections => ({
  boxes: torch.cat(ds.map((d) => d.boxes.float()), 0), scores: torch.cat(ds.map((d) => d.scores.float()), 0), labels: torch.cat(ds.map((d) => d.labels.long()), 0),
});

/** One image's predictions (one per view or member) merged; by decreasing score. */
function mergeImage(ds: Detections[], how: DetMerge, weights: number[] | undefined, o: BoxMergeOptions): Detections {
  const top = o.detectionsPerImg ?? 100;
  if (how === 'wbf') {
    const w = o.boxMerge?.wbf ?? {};
    const all = cat(ds);
    if (all.scores.shape[0] === 0) return all;
    // Boxes are in pixels and already inside the image (postprocessing and invertBoxes clip them): a frame that
    // holds them all makes WBF's clipping a no-op, and its IoUs and weighted means do not depend on the frame.
    const [, , x2, y2] = all.boxes.unbind(1);
    const frame: [number, number] = [Math.max(1, y2.max().item()), Math.max(1, x2.max().item())];
    return first(weightedBoxesFusion(ds.map((d) => ({ boxes: d.boxes.float(), scores: d.scores.float(), labels: d.labels.long() })), {
      weights, iouThr: w.iouThr ?? 0.55, skipBoxThr: w.skipBoxThr ?? 1e-4, confType: w.confType ?? 'avg', imageSize: frame,
    }), top);
  }
  const max = weights ? Math.max(...weights) : 1;
  const all = cat(weights ? ds.map((d, i) => ({ ...d, scores: d.scores.float().mul(weights[i] / max) })) : ds);
  if (all.scores.shape[0] === 0) return all;
  if (how === 'nms') return first(take(all, batchedNms(all.boxes, all.scores, all.labels, o.boxMerge?.nms?.iouThr ?? o.nmsThresh ?? 0.6)), top);
  // Soft-NMS within each class: boxes moved apart by class (torchvision batched_nms's offset trick), so boxes of different classes never overlap.
  const s = o.boxMerge?.softNms ?? {};
  const offset = all.labels.float().mul(all.boxes.max().item() + 1).unsqueeze(1);
  const r = softNms(all.boxes.add(offset), all.scores, { iouThreshold: s.iouThr ?? 0.3, sigma: s.sigma ?? 0.5, minScore: s.minScore ?? 1e-3, method: s.method ?? 'linear' });
  return first({ boxes: all.boxes.indexSelect(0, r.keep), scores: r.scores, labels: all.labels.indexSelect(0, r.keep) }, top);
}

/** Several predictions of the same images (TTA views, ensemble members) merged image by image. */
export function mergeDetections(preds: Detections[][], o: BoxMergeOptions = {}): Detections[] {
  const how = o.how ?? 'nms';
  if (how !== 'nms' && how !== 'wbf' && how !== 'soft-nms') throw new RangeError(`detection merge: how must be 'nms', 'wbf' or 'soft-nms', got ${JSON.stringify(how)}`);
  if (!Array.isArray(preds) || preds.length === 0 || !preds.every(Array.isArray)) throw new TypeError('detection merge: expected a non-empty list of predictions, each a list of Detections per image');
  const n = preds[0].length;
  if (preds.some((p) => p.length !== n)) throw new RangeError(`detection merge: the predictions cover different numbers of images (${preds.map((p) => p.length).join(', ')})`);
  const w = o.weights;
  if (w !== undefined && (w.length !== preds.length || !w.every((x) => x >= 0) || !(Math.max(...w) > 0))) {
    throw new RangeError(`detection merge: weights must be ${preds.length} non-negative numbers, not all 0 (one per prediction), got [${w.join(', ')}]`);
  }
  if (preds.length === 1 && w === undefined) return preds[0]; // one view or member: nothing to merge
  return Array.from({ length: n }, (_, i) => mergeImage(preds.map((p) => p[i]), how, w, o));
}
