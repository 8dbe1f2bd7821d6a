// FCOS's detections from the head's outputs, per image, level by level:
// score the points, keep those above a threshold, the best `topkCandidates`
// of each level, decode and clip their boxes (the candidates), then a
// class-wise NMS and the best `detectionsPerImg`.
//
// Two sets of defaults:
//   'torchvision'  torchvision 0.14's FCOS.postprocess_detections: score
//                  sqrt(σ(cls) · σ(ctrness)), thresholded (score_thresh 0.2) and
//                  top-k'd (topk_candidates 1000) on that score; nms_thresh 0.6,
//                  detections_per_img 100
//   'mmdet'        mmdet 3.x FCOS (configs/fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py
//                  test_cfg; BaseDenseHead._predict_by_feat_single and
//                  _bbox_post_process): σ(cls) thresholded (score_thr 0.05) and
//                  top-k'd (nms_pre 1000), then the score σ(cls) · σ(ctrness) (no
//                  square root); boxes not wider and taller than min_bbox_size 0
//                  dropped; nms iou_threshold 0.5, max_per_img 100
// NMS is given, not built in (`nms`: torchvision's batched_nms semantics: keep
// indices int64, by decreasing score, boxes of different labels never suppress
// each other).
import { Tensor } from '../../torch/tensor.js';
import { cat, stack } from '../../torch/join.js';
import { noGrad } from '../../torch/runtime.js';
import { BoxLinearCoder } from './box_coder.js';

/** torchvision.ops.batched_nms(boxes, scores, idxs, iou_threshold) → keep indices int64, by decreasing score. */
export type BatchedNms = (boxes: Tensor, scores: Tensor, idxs: Tensor, iouThreshold: number) => Tensor;

/** One image's detections: boxes float [M, 4] xyxy in pixels, scores [M], labels int64 [M]. */
export interface FCOSDetections { boxes: Tensor; scores: Tensor; labels: Tensor }

export type FCOSPostprocessPreset = 'torchvision' | 'mmdet';

export interface FCOSPostprocessOptions {
  /** The defaults below come from this preset. Default 'torchvision'. */
  preset?: FCOSPostprocessPreset;
  /** torchvision score_thresh 0.2 (on the combined score); mmdet score_thr 0.05 (on σ(cls)). */
  scoreThresh?: number;
  /** Candidates kept per level before NMS: torchvision topk_candidates 1000, mmdet nms_pre 1000. */
  topkCandidates?: number;
  /** NMS IoU: torchvision nms_thresh 0.6, mmdet 0.5. */
  nmsThresh?: number;
  /** Detections kept per image after NMS: 100 both. */
  detectionsPerImg?: number;
  /** Boxes whose width or height is not above this are dropped before NMS: mmdet min_bbox_size 0; torchvision none (null). */
  minBoxSize?: number | null;
}

interface Resolved { scoring: FCOSPostprocessPreset; scoreThresh: number; topkCandidates: number; nmsThresh: number; detectionsPerImg: number; minBoxSize: number | null }

/** The presets' values. */
export const FCOS_POSTPROCESS_PRESETS: Record<FCOSPostprocessPreset, Omit<Resolved, 'scoring'>> = {
  torchvision: { scoreThresh: 0.2, topkCandidates: 1000, nmsThresh: 0.6, detectionsPerImg: 100, minBoxSize: null },
  mmdet: { scoreThresh: 0.05, topkCandidates: 1000, nmsThresh: 0.5, detectionsPerImg: 100, minBoxSize: 0 },
};

const KEYS = ['preset', 'scoreThresh', 'topkCandidates', 'nmsThresh', 'detectionsPerImg', 'minBoxSize'];

function resolve(who: string, opts: FCOSPostprocessOptions): Resolved {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${who}: options must be an object`);
  for (const k of Object.keys(opts)) if (!KEYS.includes(k)) throw new TypeError(`${who}: unknown option '${k}' (valid: ${KEYS.join(', ')})`);
  const preset = opts.preset ?? 'torchvision';
  if (preset !== 'torchvision' && preset !== 'mmdet') throw new RangeError(`${who}: preset must be 'torchvision' or 'mmdet', got ${JSON.stringify(preset)}`);
  const d = FCOS_POSTPROCESS_PRESETS[preset];
  const o: Resolved = {
    scoring: preset,
    scoreThresh: opts.scoreThresh ?? d.scoreThresh,
    topkCandidates: opts.topkCandidates ?? d.topkCandidates,
    nmsThresh: opts.nmsThresh ?? d.nmsThresh,
    detectionsPerImg: opts.detectionsPerImg ?? d.detectionsPerImg,
    minBoxSize: opts.minBoxSize === undefined ? d.minBoxSize : opts.minBoxSize,
  };
  if (typeof o.scoreThresh !== 'number' || !(o.scoreThresh >= 0 && o.scoreThresh < 1)) throw new RangeError(`${who}: scoreThresh must be in [0, 1), got ${String(o.scoreThresh)}`);
  for (const k of ['topkCandidates', 'detectionsPerImg'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`${who}: ${k} must be a positive integer, got ${String(o[k])}`);
  }
  if (typeof o.nmsThresh !== 'number' || !(o.nmsThresh >= 0 && o.nmsThresh <= 1)) throw new RangeError(`${who}: nmsThresh must be in [0, 1], got ${String(o.nmsThresh)}`);
  if (o.minBoxSize !== null && (typeof o.minBoxSize !== 'number' || !(o.minBoxSize >= 0))) throw new RangeError(`${who}: minBoxSize must be a number >= 0 or null, got ${String(o.minBoxSize)}`);
  return o;
}

/** What postprocessing reads of the model's output (FCOS.forward gives it). */
export interface FCOSPostprocessInput {
  clsLogits: Tensor;
  bboxRegression: Tensor;
  bboxCtrness: Tensor;
  anchors: Tensor;
  numAnchorsPerLevel: readonly number[];
  /** [H, W] of the batch's images (boxes are clipped to it). */
  imageSize: readonly [number, number];
}

/** torchvision's clip_boxes_to_image: x into [0, W], y into [0, H]. */
function clip(boxes: Tensor, [h, w]: readonly [number, number]): Tensor {
  const [x1, y1, x2, y2] = boxes.unbind(-1);
  return stack([x1.clamp(0, w), y1.clamp(0, h), x2.clamp(0, w), y2.clamp(0, h)], -1);
}

function checkInput(who: string, out: FCOSPostprocessInput): void {
  const { clsLogits, bboxRegression, bboxCtrness, anchors, numAnchorsPerLevel, imageSize } = out ?? ({} as FCOSPostprocessInput);
  if (!(clsLogits instanceof Tensor) || clsLogits.dim() !== 3) throw new TypeError(`${who}: expected the model's output (clsLogits [N, A, K], bboxRegression, bboxCtrness, anchors, numAnchorsPerLevel, imageSize)`);
  const [n, a] = clsLogits.shape;
  const same = (t: Tensor, c: number) => t instanceof Tensor && t.shape.join() === [n, a, c].join();
  if (!same(bboxRegression, 4) || !same(bboxCtrness, 1) || !(anchors instanceof Tensor) || anchors.shape.join() !== [a, 4].join())
    throw new RangeError(`${who}: clsLogits [${clsLogits.shape.join(', ')}] needs bboxRegression [${n}, ${a}, 4], bboxCtrness [${n}, ${a}, 1] and anchors [${a}, 4]`);
  if (!Array.isArray(numAnchorsPerLevel) || numAnchorsPerLevel.reduce((s, v) => s + v, 0) !== a) throw new RangeError(`${who}: numAnchorsPerLevel must sum to ${a}`);
  if (!Array.isArray(imageSize) || imageSize.length !== 2) throw new TypeError(`${who}: imageSize must be [H, W]`);
}

/**
 * The candidates before NMS of each image: per level the points scoring above
 * the threshold, the best topkCandidates of them by decreasing score, their
 * boxes decoded and clipped to the image; levels concatenated finest first
 * (torchvision's image_boxes / image_scores / image_labels before batched_nms).
 * With minBoxSize (mmdet), boxes not above it in width and height are dropped.
 */
export function fcosCandidates(out: FCOSPostprocessInput, opts: FCOSPostprocessOptions = {}): FCOSDetections[] {
  const o = resolve('fcosCandidates', opts);
  checkInput('fcosCandidates', out);
  const coder = new BoxLinearCoder(true);
  return noGrad(() => {
    const n = out.clsLogits.shape[0], k = out.clsLogits.shape[2];
    const split = (t: Tensor, dim: number) => t.split([...out.numAnchorsPerLevel], dim);
    const logits = split(out.clsLogits, 1), regs = split(out.bboxRegression, 1), ctrs = split(out.bboxCtrness, 1), anchors = split(out.anchors, 0);
    const dets: FCOSDetections[] = [];
    for (let i = 0; i < n; i++) {
      const boxes: Tensor[] = [], scores: Tensor[] = [], labels: Tensor[] = [];
      for (let l = 0; l < logits.length; l++) {
        const cls = logits[l].select(0, i).sigmoid(); // [A_l, K]
        const ctr = ctrs[l].select(0, i).sigmoid(); // [A_l, 1]
        // torchvision: sqrt(σ(cls) σ(ctr)) filtered and ranked; mmdet: σ(cls) filtered and ranked, × σ(ctr) after.
        const ranked = (o.scoring === 'torchvision' ? cls.mul(ctr).sqrt() : cls).flatten();
        const keep = ranked.gt(o.scoreThresh);
        const idxs = keep.nonzero().reshape(-1);
        const top = ranked.index(keep).topk(Math.min(idxs.shape[0], o.topkCandidates));
        const flat = idxs.index(top.indices);
        const anchorIdx = flat.div(k, 'floor');
        const lab = flat.remainder(k);
        let score = top.values;
        if (o.scoring === 'mmdet') score = score.mul(ctr.reshape(-1).index(anchorIdx));
        const box = clip(coder.decode(regs[l].select(0, i).index(anchorIdx), anchors[l].index(anchorIdx)), out.imageSize);
        boxes.push(box);
        scores.push(score);
        labels.push(lab);
      }
      let det: FCOSDetections = { boxes: cat(boxes, 0), scores: cat(scores, 0), labels: cat(labels, 0) };
      if (o.minBoxSize !== null) {
        const [x1, y1, x2, y2] = det.boxes.unbind(1);
        const ok = x2.sub(x1).gt(o.minBoxSize).logicalAnd(y2.sub(y1).gt(o.minBoxSize));
        det = { boxes: det.boxes.index(ok), scores: det.scores.index(ok), labels: det.labels.index(ok) };
      }
      dets.push(det);
    }
    return dets;
  });
}

/** The detections of each image: the candidates, `nms` (class-wise), the best detectionsPerImg by score. */
export function fcosPostprocess(out: FCOSPostprocessInput, nms: BatchedNms, opts: FCOSPostprocessOptions = {}): FCOSDetections[] {
  if (typeof nms !== 'function') throw new TypeError('fcosPostprocess: nms must be a function (boxes, scores, idxs, iouThreshold) → keep indices (torchvision batched_nms)');
  const o = resolve('fcosPostprocess', opts);
  return fcosCandidates(out, opts).map((c, i) => noGrad(() => {
    if (c.scores.shape[0] === 0) return c;
    const keep = nms(c.boxes, c.scores, c.labels, o.nmsThresh);
    if (!(keep instanceof Tensor) || keep.dim() !== 1 || keep.dtype !== 'int64') throw new TypeError(`fcosPostprocess: nms must return int64 keep indices [M] (image ${i})`);
    const top = keep.narrow(0, 0, Math.min(keep.shape[0], o.detectionsPerImg));
    return { boxes: c.boxes.index(top), scores: c.scores.index(top), labels: c.labels.index(top) };
  }));
}

