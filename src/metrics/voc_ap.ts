// Pascal VOC mAP as mmdet 3.x computes it (mmdet/evaluation/functional/mean_ap.py:
// eval_map with tpfp_default and average_precision; bbox_overlaps.py), as a
// streaming meter: each image's detections are marked true or false positive
// when it is added, and only their scores and marks are held.
//
// Per class and image (tpfp_default): the `difficult` gts go after the others
// (mmdet's gt_bboxes_ignore, stacked last); each detection, highest score first,
// takes the gt of largest IoU (the first of equal ones); IoU ≥ iouThr → a true
// positive if that gt is not difficult and not yet covered, a false positive if
// it is covered, neither if it is difficult; below iouThr a false positive.
// Per class over the dataset (eval_map): detections sorted by score, cumulative
// tp and fp, recall = tp / #non-difficult gts, precision = tp / (tp + fp), then
//   'area'     (VOC2010+): the area under the precision envelope over recall
//              (the devkit's VOCap), AP = Σ (r[i+1] - r[i]) · p_env[i+1];
//   '11points' (VOC2007): the mean of max{precision | recall ≥ t}, t = 0, .1, …, 1.
// mAP is the mean over the classes that have a non-difficult gt (0 if none).
//
// mmdet's arithmetic, kept: boxes and scores in float32 (bbox_overlaps casts,
// the detections come as float32 arrays), IoU in float32 with union clamped at
// 1e-6, precision float32 (tp, fp are float32 cumsums), AP and mAP float32;
// `legacyCoordinate` (w = x2 - x1 + 1, default true: mmdet's VOCMetric passes
// use_legacy_coordinate=True, as the devkit's pixel convention).
// Difference on purpose: detections of equal score keep their input order
// (images in the order added); mmdet's np.argsort (quicksort) leaves it unspecified.
import { argsortDescStable, groupByLabel, readBoxes, readFlags, readLabels, readValues, type DetectionTruth, type Detections } from './detection_input.js';
import { pairwiseSum } from './numpy_compat.js';

export type VocApMode = 'area' | '11points';

export interface VocMeterOptions {
  /** IoU at which a detection matches (mmdet VOCMetric iou_thrs default 0.5). */
  iouThr?: number;
  /** 'area' (VOC2010+, mmdet default) or '11points' (VOC2007). */
  mode?: VocApMode;
  /** Widths and heights as x2 - x1 + 1 (mmdet VOCMetric: true; eval_map's default false). */
  legacyCoordinate?: boolean;
}

export interface VocClassRow { class: number; numGts: number; numDets: number; recall: number; ap: number }

/** Plain data: per class the detections' scores and marks (1 tp, 2 fp, 0 neither), and the gt counts. */
export interface VocMeterState {
  numClasses: number; iouThr: number; mode: VocApMode; legacyCoordinate: boolean;
  numGts: number[];
  scores: number[][];
  marks: number[][];
}

const f32 = Math.fround;
const EPS32 = f32(1.1920928955078125e-7);   // np.finfo(np.float32).eps
const UNION_EPS = f32(1e-6);                 // bbox_overlaps eps
const NONE = 0, TP = 1, FP = 2;

/**
 * average_precision(recalls, precisions, mode) of one class, in mmdet's dtypes:
 * recalls float64, precisions float32 values, the result float32.
 */
export function averagePrecision(recalls: ArrayLike<number>, precisions: ArrayLike<number>, mode: VocApMode = 'area'): number {
  const n = recalls.length;
  if (precisions.length !== n) throw new RangeError(`averagePrecision: ${n} recalls and ${precisions.length} precisions`);
  if (mode === 'area') {
    const mrec = new Float64Array(n + 2), mpre = new Float64Array(n + 2);
    mrec[n + 1] = 1;
    for (let i = 0; i < n; i++) { mrec[i + 1] = recalls[i]; mpre[i + 1] = precisions[i]; }
    for (let i = n + 1; i > 0; i--) mpre[i - 1] = Math.max(mpre[i - 1], mpre[i]);
    const terms: number[] = [];
    for (let i = 0; i < n + 1; i++) if (mrec[i + 1] !== mrec[i]) terms.push((mrec[i + 1] - mrec[i]) * mpre[i + 1]);
    return f32(pairwiseSum(terms));
  }
  if (mode === '11points') {
    let ap = 0;
    for (let i = 0; i <= 10; i++) {
      const thr = i * 0.1;   // np.arange(0, 1 + 1e-3, 0.1): 0.30000000000000004, …
      let prec = -Infinity;
      for (let j = 0; j < n; j++) if (recalls[j] >= thr && precisions[j] > prec) prec = precisions[j];
      ap = f32(ap + (prec === -Infinity ? 0 : prec));
    }
    return f32(ap / 11);
  }
  throw new RangeError(`averagePrecision: mode must be 'area' or '11points', got ${String(mode)}`);
}

export class VocMeter {
  readonly iouThr: number;
  readonly mode: VocApMode;
  readonly legacyCoordinate: boolean;
  private numGts: Float64Array;
  private scores: number[][];
  private marks: number[][];

  constructor(readonly numClasses: number, opts: VocMeterOptions = {}) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`VocMeter: numClasses must be a positive integer, got ${numClasses}`);
    this.iouThr = opts.iouThr ?? 0.5;
    this.mode = opts.mode ?? 'area';
    this.legacyCoordinate = opts.legacyCoordinate ?? true;
    if (typeof this.iouThr !== 'number' || !(this.iouThr > 0 && this.iouThr <= 1)) throw new RangeError(`VocMeter: iouThr must be in (0, 1], got ${String(opts.iouThr)}`);
    if (this.mode !== 'area' && this.mode !== '11points') throw new RangeError(`VocMeter: mode must be 'area' or '11points', got ${String(opts.mode)}`);
    if (typeof this.legacyCoordinate !== 'boolean') throw new TypeError(`VocMeter: legacyCoordinate must be a boolean, got ${String(opts.legacyCoordinate)}`);
    this.numGts = new Float64Array(numClasses);
    this.scores = Array.from({ length: numClasses }, () => []);
    this.marks = Array.from({ length: numClasses }, () => []);
  }

  /** One image: its detections and its ground truth (`difficult` optional). */
  add(det: Detections, gt: DetectionTruth): void {
    const K = this.numClasses;
    const who = 'VocMeter.add';
    if (!det || typeof det !== 'object') throw new TypeError(`${who}: detections must be { boxes, scores, labels }, got ${String(det)}`);
    if (!gt || typeof gt !== 'object') throw new TypeError(`${who}: ground truth must be { boxes, labels, difficult? }, got ${String(gt)}`);
    const g = readBoxes(gt.boxes, `${who}: gt.boxes`);
    const gLabels = readLabels(gt.labels, g.n, K, `${who}: gt.labels`);
    const gDifficult = readFlags(gt.difficult, g.n, `${who}: gt.difficult`);
    const d = readBoxes(det.boxes, `${who}: detections.boxes`);
    const dScores = readValues(det.scores, d.n, `${who}: detections.scores`);
    const dLabels = readLabels(det.labels, d.n, K, `${who}: detections.labels`);
    const gBy = groupByLabel(gLabels), dBy = groupByLabel(dLabels);
    for (const [k, gi] of gBy) for (const r of gi) if (!gDifficult[r]) this.numGts[k]++;
    for (const [k, di] of dBy) {
      // get_cls_results + tpfp_default: regular gts, then the ignored (difficult) ones
      const gi = gBy.get(k) ?? [];
      const gOrder = [...gi.filter((r) => !gDifficult[r]), ...gi.filter((r) => gDifficult[r])];
      const G = gOrder.length, D = di.length;
      const scores = di.map((r) => f32(dScores[r]));
      const marks = new Array<number>(D).fill(FP);
      if (G > 0) {
        const e = this.legacyCoordinate ? 1 : 0;
        const box = (b: Float64Array, r: number): number[] => [f32(b[r * 4]), f32(b[r * 4 + 1]), f32(b[r * 4 + 2]), f32(b[r * 4 + 3])];
        const area = (b: number[]): number => f32(f32(f32(b[2] - b[0]) + e) * f32(f32(b[3] - b[1]) + e));
        const gb = gOrder.map((r) => box(g.boxes, r)), ga = gb.map(area);
        const best = new Float64Array(D), arg = new Int32Array(D);
        for (let j = 0; j < D; j++) {
          const b = box(d.boxes, di[j]), ba = area(b);
          best[j] = -Infinity;
          for (let c = 0; c < G; c++) {
            // bbox_overlaps, float32: overlap / max(area1 + area2 - overlap, 1e-6)
            const q = gb[c];
            const w = Math.max(f32(f32(Math.min(b[2], q[2]) - Math.max(b[0], q[0])) + e), 0);
            const h = Math.max(f32(f32(Math.min(b[3], q[3]) - Math.max(b[1], q[1])) + e), 0);
            const overlap = f32(w * h);
            const union = Math.max(f32(f32(ba + ga[c]) - overlap), UNION_EPS);
            const iou = f32(overlap / union);
            if (iou > best[j]) { best[j] = iou; arg[j] = c; }   // ious.max / argmax: the first maximum
          }
        }
        const covered = new Uint8Array(G);
        for (const j of argsortDescStable(scores)) {
          if (best[j] >= this.iouThr) {
            const c = arg[j];
            if (gDifficult[gOrder[c]]) marks[j] = NONE;
            else if (!covered[c]) { covered[c] = 1; marks[j] = TP; } else marks[j] = FP;
          }
        }
      }
      for (let j = 0; j < D; j++) { this.scores[k].push(scores[j]); this.marks[k].push(marks[j]); }
    }
  }

  /** A batch: one Detections and one DetectionTruth per image. */
  update(predictions: readonly Detections[], targets: readonly DetectionTruth[]): void {
    if (!Array.isArray(predictions) || !Array.isArray(targets) || predictions.length !== targets.length) {
      throw new TypeError(`VocMeter.update: predictions and targets must be arrays of one entry per image, got ${Array.isArray(predictions) ? predictions.length : String(predictions)} and ${Array.isArray(targets) ? targets.length : String(targets)}`);
    }
    for (let i = 0; i < predictions.length; i++) this.add(predictions[i], targets[i]);
  }

  /** eval_map's per-class results: gts, detections, the final recall and the AP of the meter's mode. */
  perClass(): VocClassRow[] {
    const rows: VocClassRow[] = [];
    for (let k = 0; k < this.numClasses; k++) {
      const s = this.scores[k], mk = this.marks[k], n = s.length, numGts = this.numGts[k];
      const order = argsortDescStable(s);
      const recalls = new Float64Array(n), precisions = new Float64Array(n);
      let tp = 0, fp = 0;
      for (let i = 0; i < n; i++) {
        const m = mk[order[i]];
        if (m === TP) tp++; else if (m === FP) fp++;
        recalls[i] = tp / Math.max(numGts, EPS32);
        precisions[i] = f32(tp / Math.max(tp + fp, EPS32));
      }
      rows.push({ class: k, numGts, numDets: n, recall: n ? recalls[n - 1] : 0, ap: averagePrecision(recalls, precisions, this.mode) });
    }
    return rows;
  }

  /** mAP: the (float32) mean AP over classes with a non-difficult gt; 0 if none has one (eval_map). */
  compute(): { mAP: number } {
    const aps = this.perClass().filter((r) => r.numGts > 0).map((r) => r.ap);
    return { mAP: aps.length ? f32(pairwiseSum(aps, 0, aps.length, f32) / aps.length) : 0 };
  }

  state(): VocMeterState {
    return {
      numClasses: this.numClasses, iouThr: this.iouThr, mode: this.mode, legacyCoordinate: this.legacyCoordinate,
      numGts: Array.from(this.numGts), scores: this.scores.map((s) => [...s]), marks: this.marks.map((m) => [...m]),
    };
  }

  /** Adds another meter's detections after this meter's, and its gt counts. */
  merge(s: VocMeterState): void {
    const K = this.numClasses;
    if (s?.numClasses !== K) throw new TypeError(`VocMeter.merge: a state of ${s?.numClasses} classes into a meter of ${K}`);
    if (s.iouThr !== this.iouThr || s.mode !== this.mode || s.legacyCoordinate !== this.legacyCoordinate) {
      throw new TypeError(`VocMeter.merge: a state of iouThr ${s.iouThr}, mode ${s.mode}, legacyCoordinate ${s.legacyCoordinate} into a meter of ${this.iouThr}, ${this.mode}, ${this.legacyCoordinate}`);
    }
    const ok = Array.isArray(s.numGts) && s.numGts.length === K && Array.isArray(s.scores) && s.scores.length === K && Array.isArray(s.marks) && s.marks.length === K
      && s.scores.every((x, k) => Array.isArray(x) && Array.isArray(s.marks[k]) && s.marks[k].length === x.length);
    if (!ok) throw new TypeError(`VocMeter.merge: numGts, scores and marks must hold ${K} classes, scores and marks of equal lengths`);
    for (let k = 0; k < K; k++) {
      this.numGts[k] += s.numGts[k];
      for (let j = 0; j < s.scores[k].length; j++) { this.scores[k].push(s.scores[k][j]); this.marks[k].push(s.marks[k][j]); }
    }
  }

  reset(): void {
    this.numGts.fill(0);
    for (let k = 0; k < this.numClasses; k++) { this.scores[k] = []; this.marks[k] = []; }
  }
}
