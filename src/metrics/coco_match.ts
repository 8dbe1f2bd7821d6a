// pycocotools' per-image, per-category evaluation (cocoeval.py COCOeval.computeIoU
// and evaluateImg, cocoapi 8c9bcc3c; the unmodified reference is
// /work/shared/reference-tools/pycocotools), on typed arrays.
//
// Boxes come xyxy; pycocotools' are xywh and maskApi.c bbIou computes
//   w = min(Dx+Dw, Gx+Gw) - max(Dx, Gx)  (0 when ≤ 0), h likewise, i = w·h,
//   u = crowd ? Dw·Dh : Dw·Dh + Gw·Gh - i,  iou = i / u
// Here x+w is the box's x2 itself and w = x2 - x1 (no +1), so the intersection
// is bbIou's whenever x2 was computed as x + w.
import { linspace } from './numpy_compat.js';
import { argsortDescStable } from './detection_input.js';

/** Params.setDetParams: iouThrs .50:.05:.95 and recThrs 0:.01:1 as np.linspace makes them (not rounded). */
export const COCO_IOU_THRS: Float64Array = linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1);
export const COCO_REC_THRS: Float64Array = linspace(0.0, 1.0, Math.round((1.0 - 0.0) / 0.01) + 1);
/** Sorted, as evaluate() sorts them. */
export const COCO_MAX_DETS: readonly number[] = [1, 10, 100];
/** all, small, medium, large, on the ground truth's annotation `area` (bounds inclusive). */
export const COCO_AREA_RANGES: readonly (readonly [number, number])[] = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]];
export const COCO_AREA_LABELS: readonly string[] = ['all', 'small', 'medium', 'large'];

/** A detection's outcome at one (area range, IoU threshold). */
export const FP = 0, TP = 1, IGNORED = 2;

/** One image and category: the kept detections, highest score first, and their outcomes. */
export interface CocoImageResult {
  scores: Float64Array;
  /** [D, A, T]: per detection, per area range and IoU threshold, FP, TP or IGNORED. */
  status: Uint8Array;
  /** Ground truths not ignored, per area range [A] (accumulate's npig). */
  numGt: Int32Array;
}

/** Boxes of one image and category (xyxy rows) with what evaluateImg reads of them. */
export interface CocoCategoryInput {
  gtBoxes: Float64Array; gtCrowd: Uint8Array; gtArea: Float64Array;
  dtBoxes: Float64Array; dtScores: Float64Array;
}

/** maskApi.c bbIou on xyxy boxes: [D, G] row-major, crowd columns over the detection's area. */
export function boxIou(dt: Float64Array, gt: Float64Array, crowd: Uint8Array): Float64Array {
  const D = dt.length / 4, G = gt.length / 4;
  const o = new Float64Array(D * G);
  for (let g = 0; g < G; g++) {
    const gx1 = gt[g * 4], gy1 = gt[g * 4 + 1], gx2 = gt[g * 4 + 2], gy2 = gt[g * 4 + 3];
    const ga = (gx2 - gx1) * (gy2 - gy1);
    for (let d = 0; d < D; d++) {
      const dx1 = dt[d * 4], dy1 = dt[d * 4 + 1], dx2 = dt[d * 4 + 2], dy2 = dt[d * 4 + 3];
      const da = (dx2 - dx1) * (dy2 - dy1);
      const w = Math.min(dx2, gx2) - Math.max(dx1, gx1);
      if (w <= 0) continue;
      const h = Math.min(dy2, gy2) - Math.max(dy1, gy1);
      if (h <= 0) continue;
      const i = w * h;
      const u = crowd[g] ? da : da + ga - i;
      o[d * G + g] = i / u;
    }
  }
  return o;
}

/**
 * evaluateImg(imgId, catId, aRng, maxDets[-1]) for every area range at once.
 * Detections sorted by score (stable) and cut to `maxDet`; per area range the
 * ground truths ignored (crowd, or area outside the range) go last (stable);
 * per IoU threshold each detection in turn takes the best gt still free (a crowd
 * gt stays free), stopping at the ignored ones once it holds a regular one; a
 * detection matched to an ignored gt, or unmatched with its box area outside the
 * range, is ignored.
 */
export function evaluateImageCategory(x: CocoCategoryInput, maxDet: number): CocoImageResult {
  const T = COCO_IOU_THRS.length, A = COCO_AREA_RANGES.length;
  const G = x.gtArea.length;
  const order = argsortDescStable(x.dtScores);
  const D = Math.min(order.length, maxDet);
  const dt = new Float64Array(D * 4), scores = new Float64Array(D), dtArea = new Float64Array(D);
  for (let d = 0; d < D; d++) {
    const j = order[d];
    for (let c = 0; c < 4; c++) dt[d * 4 + c] = x.dtBoxes[j * 4 + c];
    scores[d] = x.dtScores[j];
    dtArea[d] = (dt[d * 4 + 2] - dt[d * 4]) * (dt[d * 4 + 3] - dt[d * 4 + 1]);   // loadRes: bb[2]*bb[3]
  }
  const ious = boxIou(dt, x.gtBoxes, x.gtCrowd);
  const status = new Uint8Array(A * T * D);
  const numGt = new Int32Array(A);
  const gtind = new Int32Array(G), gtIg = new Uint8Array(G), crowd = new Uint8Array(G), taken = new Uint8Array(G);
  for (let a = 0; a < A; a++) {
    const [lo, hi] = COCO_AREA_RANGES[a];
    // _prepare: ignore = iscrowd; evaluateImg: _ignore also outside the area range; argsort(_ignore, mergesort).
    let n = 0;
    for (let g = 0; g < G; g++) if (!(x.gtCrowd[g] || x.gtArea[g] < lo || x.gtArea[g] > hi)) gtind[n++] = g;
    numGt[a] = n;
    for (let g = 0; g < G; g++) if (x.gtCrowd[g] || x.gtArea[g] < lo || x.gtArea[g] > hi) gtind[n++] = g;
    for (let k = 0; k < G; k++) { gtIg[k] = k < numGt[a] ? 0 : 1; crowd[k] = x.gtCrowd[gtind[k]]; }
    for (let t = 0; t < T; t++) {
      taken.fill(0);
      for (let d = 0; d < D; d++) {
        let iou = Math.min(COCO_IOU_THRS[t], 1 - 1e-10);
        let m = -1;
        for (let k = 0; k < G; k++) {
          if (taken[k] && !crowd[k]) continue;
          if (m > -1 && gtIg[m] === 0 && gtIg[k] === 1) break;
          const v = ious[d * G + gtind[k]];
          if (v < iou) continue;
          iou = v;
          m = k;
        }
        if (m === -1) {
          status[(d * A + a) * T + t] = dtArea[d] < lo || dtArea[d] > hi ? IGNORED : FP;
        } else {
          taken[m] = 1;
          status[(d * A + a) * T + t] = gtIg[m] ? IGNORED : TP;
        }
      }
    }
  }
  return { scores, status, numGt };
}
