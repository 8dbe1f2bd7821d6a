// Semantic segmentation metrics as a streaming meter: mmsegmentation 1.x's
// `IoUMetric` (mmseg/evaluation/metrics/iou_metric.py: `intersect_and_union`,
// `total_area_to_metrics`, `compute_metrics`).
//
// Per class, over the whole dataset (summed, never averaged per image):
//   area_intersect   pixels predicted k where the label is k
//   area_pred_label  pixels predicted k
//   area_label       pixels labelled k
//   area_union       area_pred_label + area_label - area_intersect
// Pixels whose label is `ignoreIndex` are removed from the prediction AND the
// label before counting (mmseg: `mask = label != ignore_index`).
// `reduceZeroLabel` is mmseg's LoadAnnotations(reduce_zero_label=True) (0.x:
// inside intersect_and_union): `label[label == 0] = 255; label = label - 1;
// label[label == 254] = 255`, so 0 becomes ignore, 255 stays ignore, k → k-1.
//
// From the sums (total_area_to_metrics, beta = 1):
//   aAcc      = Σ intersect / Σ label
//   IoU       = intersect / union
//   Acc       = Recall = intersect / label
//   Dice      = 2·intersect / (pred + label)
//   Precision = intersect / pred
//   Fscore    = (1+β²)·P·R / (β²·P + R)
// A division by zero is NaN exactly where mmseg's is (0/0 in torch): Acc and
// Recall where a class has no label pixels, IoU and Dice where the class is in
// neither label nor prediction, Precision where it is never predicted, Fscore
// where P or R is NaN or both are 0. The means (mIoU, mAcc, …) are nanmeans:
// NaN classes are left out (np.nanmean), NaN if every class is.
//
// Differences from mmseg, on purpose:
// - Results are fractions in [0, 1]; mmseg reports percentages rounded to two
//   decimals (`np.round(np.nanmean(v) * 100, 2)`). Multiply by 100 to compare.
// - Ratios are computed in float64 from exact integer sums (mmseg: float32 histc).
// - A label (not ignoreIndex) or a predicted class outside [0, K) throws a
//   RangeError naming the value: mmseg's `torch.histc(min=0, max=K-1)` drops
//   such values silently (from the label but not from a prediction at the same
//   pixel, or vice versa), which hides a wrong numClasses or label map.
// - reduceZeroLabel needs ignoreIndex 255 (mmseg writes 255 whatever
//   ignore_index is; with another ignoreIndex every 0 would become a bad label).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import { isFloating } from '../torch/dtype.js';
import { IGNORE_INDEX } from '../data/sample.js';

export interface SegmentationMeterOptions {
  /** Label value whose pixels are left out of every count (mmseg default 255). */
  ignoreIndex?: number;
  /** Label 0 becomes ignore and k becomes k-1 before counting (mmseg `reduce_zero_label`, default false). */
  reduceZeroLabel?: boolean;
}

/** Plain data: per-class integer pixel counts (mmseg's four areas). */
export interface SegmentationMeterState {
  numClasses: number;
  areaIntersect: number[];
  areaUnion: number[];
  areaPredLabel: number[];
  areaLabel: number[];
}

/** mmseg's summary: fractions (mmseg prints these ×100). */
export interface SegmentationMetrics {
  aAcc: number; mIoU: number; mAcc: number; mDice: number; mFscore: number; mPrecision: number; mRecall: number;
  [key: string]: number;
}

export interface SegmentationClassRow {
  class: number;
  IoU: number; Acc: number; Dice: number; Fscore: number; Precision: number; Recall: number;
}

const AREAS = ['areaIntersect', 'areaUnion', 'areaPredLabel', 'areaLabel'] as const;

function nanmean(v: number[]): number {
  let s = 0, n = 0;
  for (const x of v) if (!Number.isNaN(x)) { s += x; n++; }
  return n ? s / n : NaN;
}

export class SegmentationMeter {
  readonly ignoreIndex: number;
  readonly reduceZeroLabel: boolean;
  private readonly areaIntersect: Float64Array;
  private readonly areaUnion: Float64Array;
  private readonly areaPredLabel: Float64Array;
  private readonly areaLabel: Float64Array;

  constructor(readonly numClasses: number, opts: SegmentationMeterOptions = {}) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`SegmentationMeter: numClasses must be a positive integer, got ${numClasses}`);
    this.ignoreIndex = opts.ignoreIndex ?? IGNORE_INDEX;
    this.reduceZeroLabel = opts.reduceZeroLabel ?? false;
    if (!Number.isInteger(this.ignoreIndex)) throw new TypeError(`SegmentationMeter: ignoreIndex must be an integer, got ${String(opts.ignoreIndex)}`);
    if (typeof this.reduceZeroLabel !== 'boolean') throw new TypeError(`SegmentationMeter: reduceZeroLabel must be a boolean, got ${String(opts.reduceZeroLabel)}`);
    if (this.reduceZeroLabel && this.ignoreIndex !== 255) throw new RangeError(`SegmentationMeter: reduceZeroLabel maps label 0 to 255 (mmseg), so it needs ignoreIndex 255, got ${this.ignoreIndex}`);
    this.areaIntersect = new Float64Array(numClasses);
    this.areaUnion = new Float64Array(numClasses);
    this.areaPredLabel = new Float64Array(numClasses);
    this.areaLabel = new Float64Array(numClasses);
  }

  /**
   * pred: int class map [N,H,W], or scores [N,K,H,W] (argmax over K);
   * label: int class map [N,H,W] (int64 in Arsenal's sample format; other integer dtypes are widened).
   */
  update(pred: Tensor, label: Tensor): void {
    const K = this.numClasses;
    const counts = torch.noGrad(() => torch.scope(() => {
      if (label.ndim !== 3 || isFloating(label.dtype) || label.dtype === 'bool') {
        throw new TypeError(`SegmentationMeter.update: label must be an integer class map [N,H,W], got ${label.dtype} [${label.shape.join(',')}]`);
      }
      let p: Tensor;
      if (pred.ndim === 4) {
        if (pred.shape[1] !== K) throw new RangeError(`SegmentationMeter.update: scores [${pred.shape.join(',')}] have ${pred.shape[1]} classes, the meter ${K}`);
        const [n, , h, w] = pred.shape;
        if (n !== label.shape[0] || h !== label.shape[1] || w !== label.shape[2]) {
          throw new RangeError(`SegmentationMeter.update: scores [${pred.shape.join(',')}] do not match label [${label.shape.join(',')}] (expected [${label.shape[0]},${K},${label.shape[1]},${label.shape[2]}])`);
        }
        p = pred.argmax(1);
      } else if (pred.ndim === 3) {
        if (isFloating(pred.dtype) || pred.dtype === 'bool') throw new TypeError(`SegmentationMeter.update: a 3-D prediction must be an integer class map, got ${pred.dtype} (scores are [N,K,H,W])`);
        if (pred.shape.some((s, i) => s !== label.shape[i])) throw new RangeError(`SegmentationMeter.update: prediction [${pred.shape.join(',')}] does not match label [${label.shape.join(',')}]`);
        p = pred.to('int64');
      } else {
        throw new TypeError(`SegmentationMeter.update: prediction must be a class map [N,H,W] or scores [N,K,H,W], got [${pred.shape.join(',')}]`);
      }
      let l = label.to('int64');
      if (this.reduceZeroLabel) {
        // mmseg, literally: label[label == 0] = 255; label = label - 1; label[label == 254] = 255
        l = l.maskedFill(l.eq(0), 255).sub(1);
        l = l.maskedFill(l.eq(254), 255);
      }
      const keepMask = l.ne(this.ignoreIndex);
      const lv = l.maskedSelect(keepMask);
      const pv = p.maskedSelect(keepMask);
      for (const [what, v] of [['label', lv], ['predicted class', pv]] as const) {
        const bad = v.lt(0).logicalOr(v.ge(K));
        if (bad.any().item()) {
          const value = v.maskedSelect(bad).index(0).item();
          throw new RangeError(`SegmentationMeter.update: ${what} ${value} is outside [0, ${K}) and is not ignoreIndex ${this.ignoreIndex}${this.reduceZeroLabel && what === 'label' ? ' (after reduceZeroLabel)' : ''}`);
        }
      }
      const bincount = (t: Tensor): Tensor => torch.ops.callOp('aten::bincount', t, null, K);
      const intersect = bincount(pv.maskedSelect(pv.eq(lv)));
      const predArea = bincount(pv);
      const labelArea = bincount(lv);
      return Array.from(torch.stack([intersect, predArea, labelArea]).dataSync() as BigInt64Array, Number);
    }));
    for (let k = 0; k < K; k++) {
      const i = counts[k], pa = counts[K + k], la = counts[2 * K + k];
      this.areaIntersect[k] += i;
      this.areaPredLabel[k] += pa;
      this.areaLabel[k] += la;
      this.areaUnion[k] += pa + la - i;
    }
  }

  /** Per-class metrics (mmseg's ret_metrics, as fractions); NaN where mmseg divides by zero. */
  perClass(): SegmentationClassRow[] {
    const rows: SegmentationClassRow[] = [];
    for (let k = 0; k < this.numClasses; k++) {
      const i = this.areaIntersect[k], u = this.areaUnion[k], pa = this.areaPredLabel[k], la = this.areaLabel[k];
      const precision = i / pa;
      const recall = i / la;
      // 0/0 is NaN in JS as in torch: the NaNs fall where mmseg's do.
      const fscore = (1 + 1) * (precision * recall) / (1 * precision + recall);
      rows.push({ class: k, IoU: i / u, Acc: recall, Dice: 2 * i / (pa + la), Fscore: fscore, Precision: precision, Recall: recall });
    }
    return rows;
  }

  /** mmseg's summary as fractions (mmseg: ×100, rounded to 2 decimals): aAcc and the nanmeans over classes. */
  compute(): SegmentationMetrics {
    const rows = this.perClass();
    let si = 0, sl = 0;
    for (let k = 0; k < this.numClasses; k++) { si += this.areaIntersect[k]; sl += this.areaLabel[k]; }
    const m = (key: Exclude<keyof SegmentationClassRow, 'class'>): number => nanmean(rows.map((r) => r[key]));
    return {
      aAcc: si / sl, mIoU: m('IoU'), mAcc: m('Acc'), mDice: m('Dice'),
      mFscore: m('Fscore'), mPrecision: m('Precision'), mRecall: m('Recall'),
    };
  }

  /** Plain data: the four per-class sums (integers). */
  state(): SegmentationMeterState {
    return {
      numClasses: this.numClasses,
      areaIntersect: Array.from(this.areaIntersect), areaUnion: Array.from(this.areaUnion),
      areaPredLabel: Array.from(this.areaPredLabel), areaLabel: Array.from(this.areaLabel),
    };
  }

  /** Adds another meter's state: sums, so meters merged equal one meter over all batches exactly. */
  merge(s: SegmentationMeterState): void {
    if (s?.numClasses !== this.numClasses) throw new TypeError(`SegmentationMeter.merge: a state of ${s?.numClasses} classes into a meter of ${this.numClasses}`);
    for (const a of AREAS) {
      const v = s[a];
      if (!Array.isArray(v) || v.length !== this.numClasses || v.some((x) => !Number.isInteger(x) || x < 0)) {
        throw new TypeError(`SegmentationMeter.merge: ${a} must be ${this.numClasses} non-negative integers`);
      }
    }
    for (const a of AREAS) {
      const dst = this[a], src = s[a];
      for (let k = 0; k < this.numClasses; k++) dst[k] += src[k];
    }
  }

  reset(): void {
    for (const a of AREAS) this[a].fill(0);
  }
}
