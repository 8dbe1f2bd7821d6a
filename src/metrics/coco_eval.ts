// COCO bbox mAP as pycocotools computes it (cocoeval.py COCOeval with
// iouType 'bbox' and the default Params, cocoapi 8c9bcc3c), as a streaming meter:
// each image is matched when it is added (coco_match.ts: evaluateImg), and only
// the kept detections' scores and outcomes are held — not the boxes — until
// compute() runs accumulate() and summarize()'s twelve numbers.
//
// What decides a value, as in pycocotools:
// - classes are the meter's [0, K) (pycocotools: the gt file's sorted catIds,
//   every category listed even with no annotation); a class with no gt that is
//   not ignored has precision and recall -1, left out of every mean; a stat with
//   no value at all is -1;
// - images are taken in imageId order when the targets carry one (pycocotools
//   sorts imgIds), else in the order they were added; this matters only for
//   detections of equal score in different images (the accumulation's
//   mergesort keeps the concatenation order);
// - the gt's own `area` (COCO's segment area) sorts it into small/medium/large,
//   the detection's box area w·h decides whether an unmatched one is ignored;
// - a gt's `ignore` field has no effect in pycocotools (`_prepare` overwrites it
//   with iscrowd), so there is none here.
// The means are NumPy's (pairwise summation), so values equal pycocotools' to the bit
// when the boxes are the same doubles (test/metrics-detection.test.ts).
import { COCO_AREA_LABELS, COCO_AREA_RANGES, COCO_IOU_THRS, COCO_MAX_DETS, COCO_REC_THRS, IGNORED, TP, evaluateImageCategory } from './coco_match.js';
import { argsortDescStable, boxAreas, groupByLabel, readBoxes, readFlags, readLabels, readValues, type DetectionTruth, type Detections } from './detection_input.js';
import { formatFixed3, npMean } from './numpy_compat.js';

/** summarize()'s twelve stats, in its order (the names of /work/shared/reference-tools/coco_stats.py). */
export const COCO_STAT_NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const;
export type CocoStatName = typeof COCO_STAT_NAMES[number];
export type CocoStats = Record<CocoStatName, number>;

/** Plain data: per image and class with a gt or a detection, the kept scores and their outcomes [D, A, T] (0 FP, 1 TP, 2 ignored). */
export interface CocoMeterState {
  numClasses: number;
  /** Images added, in order; their ids when the targets carried them. */
  images: number;
  imageIds: number[] | null;
  entries: { image: number; label: number; scores: number[]; status: number[] }[];
  /** Ground truths not ignored, [K, A]. */
  numGt: number[];
}

/** accumulate()'s arrays: precision [T, R, K, A, M] and recall [T, K, A, M], row-major, -1 where undefined. */
export interface CocoAccumulation {
  precision: Float64Array;
  recall: Float64Array;
  shape: { T: number; R: number; K: number; A: number; M: number };
}

interface Entry { image: number; label: number; scores: Float64Array; status: Uint8Array }

const T = COCO_IOU_THRS.length, R = COCO_REC_THRS.length, A = COCO_AREA_RANGES.length, M = COCO_MAX_DETS.length;
const MAX_DET = COCO_MAX_DETS[M - 1];
const EPS = 2.220446049250313e-16;   // np.spacing(1)

export class CocoMeter {
  private entries: Entry[] = [];
  private images = 0;
  private imageIds: number[] | null = null;
  private readonly seenIds = new Set<number>();
  private readonly numGt: Float64Array;

  constructor(readonly numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`CocoMeter: numClasses must be a positive integer, got ${numClasses}`);
    this.numGt = new Float64Array(numClasses * A);
  }

  /** One image: its detections and its ground truth. */
  add(det: Detections, gt: DetectionTruth): void {
    const K = this.numClasses;
    const who = `CocoMeter.add (image ${this.images})`;
    if (!det || typeof det !== 'object') throw new TypeError(`${who}: detections must be { boxes, scores, labels }, got ${String(det)}`);
    if (!gt || typeof gt !== 'object') throw new TypeError(`${who}: ground truth must be { boxes, labels, iscrowd?, area? }, got ${String(gt)}`);
    const g = readBoxes(gt.boxes, `${who}: gt.boxes`);
    const gLabels = readLabels(gt.labels, g.n, K, `${who}: gt.labels`);
    const gCrowd = readFlags(gt.iscrowd, g.n, `${who}: gt.iscrowd`);
    const gArea = gt.area === undefined ? boxAreas(g) : readValues(gt.area, g.n, `${who}: gt.area`);
    for (let i = 0; i < g.n; i++) if (gArea[i] < 0) throw new RangeError(`${who}: gt.area[${i}] = ${gArea[i]} is negative`);
    const d = readBoxes(det.boxes, `${who}: detections.boxes`);
    const dScores = readValues(det.scores, d.n, `${who}: detections.scores`);
    const dLabels = readLabels(det.labels, d.n, K, `${who}: detections.labels`);
    this.registerImage(gt.imageId, who);

    const gBy = groupByLabel(gLabels), dBy = groupByLabel(dLabels);
    const labels = [...new Set([...gBy.keys(), ...dBy.keys()])].sort((a, b) => a - b);
    for (const k of labels) {
      const gi = gBy.get(k) ?? [], di = dBy.get(k) ?? [];
      const gtBoxes = new Float64Array(gi.length * 4), gtCrowd = new Uint8Array(gi.length), gtArea = new Float64Array(gi.length);
      gi.forEach((r, j) => { gtBoxes.set(g.boxes.subarray(r * 4, r * 4 + 4), j * 4); gtCrowd[j] = gCrowd[r]; gtArea[j] = gArea[r]; });
      const dtBoxes = new Float64Array(di.length * 4), dtScores = new Float64Array(di.length);
      di.forEach((r, j) => { dtBoxes.set(d.boxes.subarray(r * 4, r * 4 + 4), j * 4); dtScores[j] = dScores[r]; });
      const res = evaluateImageCategory({ gtBoxes, gtCrowd, gtArea, dtBoxes, dtScores }, MAX_DET);
      for (let a = 0; a < A; a++) this.numGt[k * A + a] += res.numGt[a];
      this.entries.push({ image: this.images, label: k, scores: res.scores, status: res.status });
    }
    this.images++;
  }

  /** A batch: one Detections and one DetectionTruth per image. */
  update(predictions: readonly Detections[], targets: readonly DetectionTruth[]): void {
    if (!Array.isArray(predictions) || !Array.isArray(targets) || predictions.length !== targets.length) {
      throw new TypeError(`CocoMeter.update: predictions and targets must be arrays of one entry per image, got ${Array.isArray(predictions) ? predictions.length : String(predictions)} and ${Array.isArray(targets) ? targets.length : String(targets)}`);
    }
    for (let i = 0; i < predictions.length; i++) this.add(predictions[i], targets[i]);
  }

  private registerImage(id: number | undefined, who: string): void {
    if (id !== undefined && !Number.isFinite(id)) throw new TypeError(`${who}: gt.imageId must be a number, got ${String(id)}`);
    if (this.images === 0 && this.imageIds === null && id !== undefined) this.imageIds = [];
    if ((id !== undefined) !== (this.imageIds !== null)) {
      throw new TypeError(`${who}: gt.imageId must be given for every image or for none (${this.imageIds ? 'the first images had one' : 'the first images had none'})`);
    }
    if (id === undefined) return;
    if (this.seenIds.has(id)) throw new RangeError(`${who}: image id ${id} was added before`);
    this.seenIds.add(id);
    this.imageIds!.push(id);
  }

  /** accumulate(): precision at the 101 recall thresholds and the final recall, per IoU threshold, class, area range and maxDets. */
  accumulate(): CocoAccumulation {
    const K = this.numClasses;
    const precision = new Float64Array(T * R * K * A * M).fill(-1);
    const recall = new Float64Array(T * K * A * M).fill(-1);
    // Entries per class in image order (pycocotools: evalImgs over the sorted imgIds).
    const key = this.imageIds ? (e: Entry): number => this.imageIds![e.image] : (e: Entry): number => e.image;
    const byClass: Entry[][] = Array.from({ length: K }, () => []);
    for (const e of this.entries) byClass[e.label].push(e);
    for (const list of byClass) list.sort((p, q) => key(p) - key(q));

    const AT = A * T;
    for (let k = 0; k < K; k++) {
      const E = byClass[k];
      if (E.length === 0) continue;
      // All kept detections of the class, images in order: dtScores = concatenate(e['dtScores'][0:maxDet]),
      // inds = argsort(-dtScores, kind='mergesort'). Sorted once: a smaller maxDet keeps a subset in the same order.
      let N = 0;
      for (const e of E) N += e.scores.length;
      const scores = new Float64Array(N), rank = new Int32Array(N), outcome = new Uint8Array(N * AT);
      let j = 0;
      for (const e of E) {
        scores.set(e.scores, j); outcome.set(e.status, j * AT);
        for (let d = 0; d < e.scores.length; d++) rank[j + d] = d;
        j += e.scores.length;
      }
      const inds = argsortDescStable(scores);
      const st = new Uint8Array(N * AT), pos = new Int32Array(N);   // [N, A, T] in score order
      for (let i = 0; i < N; i++) {
        const src = inds[i] * AT;
        for (let at = 0; at < AT; at++) st[i * AT + at] = outcome[src + at];
        pos[i] = rank[inds[i]];
      }
      const rc = new Float64Array(N), pr = new Float64Array(N);
      for (let m = 0; m < M; m++) {
        const maxDet = COCO_MAX_DETS[m];
        for (let a = 0; a < A; a++) {
          const npig = this.numGt[k * A + a];
          if (npig === 0) continue;
          for (let t = 0; t < T; t++) {
            let tp = 0, fp = 0, nd = 0;
            for (let i = 0; i < N; i++) {
              if (pos[i] >= maxDet) continue;
              const s = st[i * AT + a * T + t];
              if (s === TP) tp++; else if (s !== IGNORED) fp++;
              rc[nd] = tp / npig;
              pr[nd] = tp / (fp + tp + EPS);
              nd++;
            }
            recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1] : 0;
            for (let i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
            // np.searchsorted(rc, recThrs, side='left'); precision 0 past the last detection
            let i = 0;
            for (let r = 0; r < R; r++) {
              while (i < nd && rc[i] < COCO_REC_THRS[r]) i++;
              precision[(((t * R + r) * K + k) * A + a) * M + m] = i < nd ? pr[i] : 0;
            }
          }
        }
      }
    }
    return { precision, recall, shape: { T, R, K, A, M } };
  }

  /** summarize()'s twelve stats in its order (AP, AP50, …, ARl); -1 where nothing is defined. */
  stats(acc: CocoAccumulation = this.accumulate()): number[] {
    const s = (ap: boolean, iouThr: number | null, area: string, maxDets: number): number => summarize(acc, ap, iouThr, COCO_AREA_LABELS.indexOf(area), COCO_MAX_DETS.indexOf(maxDets));
    const [m0, m1, m2] = COCO_MAX_DETS;
    // _summarizeDets
    return [
      s(true, null, 'all', 100), s(true, 0.5, 'all', m2), s(true, 0.75, 'all', m2),
      s(true, null, 'small', m2), s(true, null, 'medium', m2), s(true, null, 'large', m2),
      s(false, null, 'all', m0), s(false, null, 'all', m1), s(false, null, 'all', m2),
      s(false, null, 'small', m2), s(false, null, 'medium', m2), s(false, null, 'large', m2),
    ];
  }

  /** AP per class (area all, maxDets 100, over IoU .50:.95), -1 for a class with no gt not ignored. */
  perClassAP(acc: CocoAccumulation = this.accumulate()): number[] {
    const out: number[] = [];
    const vals: number[] = [];
    for (let k = 0; k < this.numClasses; k++) {
      vals.length = 0;
      for (let t = 0; t < T; t++) for (let r = 0; r < R; r++) {
        const v = acc.precision[(((t * R + r) * this.numClasses + k) * A + 0) * M + (M - 1)];
        if (v > -1) vals.push(v);
      }
      out.push(vals.length ? npMean(vals) : -1);
    }
    return out;
  }

  /** The twelve stats by name (pycocotools' fractions; -1 where undefined). */
  compute(): CocoStats {
    const st = this.stats();
    return Object.fromEntries(COCO_STAT_NAMES.map((n, i) => [n, st[i]])) as CocoStats;
  }

  state(): CocoMeterState {
    return {
      numClasses: this.numClasses, images: this.images, imageIds: this.imageIds ? [...this.imageIds] : null,
      entries: this.entries.map((e) => ({ image: e.image, label: e.label, scores: Array.from(e.scores), status: Array.from(e.status) })),
      numGt: Array.from(this.numGt),
    };
  }

  /** Adds another meter's images (after this meter's; by imageId when the images carry ids). */
  merge(s: CocoMeterState): void {
    const K = this.numClasses;
    if (s?.numClasses !== K) throw new TypeError(`CocoMeter.merge: a state of ${s?.numClasses} classes into a meter of ${K}`);
    if (!Number.isInteger(s.images) || s.images < 0) throw new TypeError(`CocoMeter.merge: images must be a count, got ${String(s.images)}`);
    if (!Array.isArray(s.numGt) || s.numGt.length !== K * A || s.numGt.some((x) => !Number.isInteger(x) || x < 0)) throw new TypeError(`CocoMeter.merge: numGt must be ${K * A} counts`);
    if (!Array.isArray(s.entries)) throw new TypeError('CocoMeter.merge: entries must be an array');
    if (s.imageIds !== null && (!Array.isArray(s.imageIds) || s.imageIds.length !== s.images)) throw new TypeError(`CocoMeter.merge: imageIds must be null or ${s.images} ids`);
    if (s.images > 0 && this.images > 0 && (s.imageIds !== null) !== (this.imageIds !== null)) {
      throw new TypeError('CocoMeter.merge: one meter\'s images carry imageIds and the other\'s do not');
    }
    for (const e of s.entries) {
      const D = e?.scores?.length;
      if (!Number.isInteger(e?.image) || e.image < 0 || e.image >= s.images || !Number.isInteger(e.label) || e.label < 0 || e.label >= K
        || !Array.isArray(e.scores) || D > MAX_DET || !Array.isArray(e.status) || e.status.length !== A * T * D) {
        throw new TypeError(`CocoMeter.merge: a bad entry (image ${String(e?.image)}, label ${String(e?.label)})`);
      }
    }
    if (s.imageIds) for (const id of s.imageIds) if (this.seenIds.has(id)) throw new RangeError(`CocoMeter.merge: image id ${id} is in both meters`);
    const offset = this.images;
    if (s.imageIds && s.images > 0) {
      this.imageIds ??= [];
      for (const id of s.imageIds) { this.imageIds.push(id); this.seenIds.add(id); }
    }
    for (const e of s.entries) this.entries.push({ image: e.image + offset, label: e.label, scores: Float64Array.from(e.scores), status: Uint8Array.from(e.status) });
    for (let i = 0; i < K * A; i++) this.numGt[i] += s.numGt[i];
    this.images += s.images;
  }

  reset(): void {
    this.entries = [];
    this.images = 0;
    this.imageIds = null;
    this.seenIds.clear();
    this.numGt.fill(0);
  }
}

/** summarize()'s _summarize: the mean of the values > -1 in C order (t, r, k), -1 if none. */
function summarize(acc: CocoAccumulation, ap: boolean, iouThr: number | null, a: number, m: number): number {
  const { K } = acc.shape;
  // t = np.where(iouThr == p.iouThrs)[0]: exact equality against the linspace values
  const ts: number[] = [];
  for (let t = 0; t < T; t++) if (iouThr === null || COCO_IOU_THRS[t] === iouThr) ts.push(t);
  const vals: number[] = [];
  for (const t of ts) {
    if (ap) {
      for (let r = 0; r < R; r++) for (let k = 0; k < K; k++) {
        const v = acc.precision[(((t * R + r) * K + k) * A + a) * M + m];
        if (v > -1) vals.push(v);
      }
    } else {
      for (let k = 0; k < K; k++) {
        const v = acc.recall[((t * K + k) * A + a) * M + m];
        if (v > -1) vals.push(v);
      }
    }
  }
  return vals.length ? npMean(vals) : -1;
}

/**
 * pycocotools' summary as summarize() prints it, twelve lines:
 * ` Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.123`.
 */
export function formatCocoSummary(stats: readonly number[] | CocoStats): string {
  const v = Array.isArray(stats) ? stats as readonly number[] : COCO_STAT_NAMES.map((n) => (stats as CocoStats)[n]);
  if (v.length !== 12 || v.some((x) => typeof x !== 'number')) throw new TypeError(`formatCocoSummary: stats must be the 12 numbers of summarize(), got ${JSON.stringify(stats)}`);
  const f2 = (x: number): string => x.toFixed(2);   // {:0.2f} of .5, .75, .95: no ties
  const rows: [boolean, number | null, string, number][] = [
    [true, null, 'all', 100], [true, 0.5, 'all', 100], [true, 0.75, 'all', 100],
    [true, null, 'small', 100], [true, null, 'medium', 100], [true, null, 'large', 100],
    [false, null, 'all', 1], [false, null, 'all', 10], [false, null, 'all', 100],
    [false, null, 'small', 100], [false, null, 'medium', 100], [false, null, 'large', 100],
  ];
  return rows.map(([ap, iouThr, area, maxDets], i) => {
    // ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'
    const title = (ap ? 'Average Precision' : 'Average Recall').padEnd(18);
    const type = ap ? '(AP)' : '(AR)';
    const iou = (iouThr === null ? `${f2(COCO_IOU_THRS[0])}:${f2(COCO_IOU_THRS[T - 1])}` : f2(iouThr)).padEnd(9);
    return ` ${title} ${type} @[ IoU=${iou} | area=${area.padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${formatFixed3(v[i])}`;
  }).join('\n');
}
