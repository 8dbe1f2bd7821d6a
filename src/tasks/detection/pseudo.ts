// Detection's pseudo-boxes (Task.selectPseudo and Task.pseudo). The rule:
// every box of the teacher's (after NMS; or the TTA / ensemble merge) scoring
// at least the threshold, whatever its class — STAC (Sohn et al. 2020) and
// mmdet 3.x SemiBaseDetector (score_thr 0.9, the default here too; Unbiased
// Teacher, Liu et al. 2021, 0.7) — less boxes not wider and taller than 0.01
// px (mmdet's min_pseudo_bbox_wh), and the images with at least one kept box.
// An image with none is left out of the student's set. mmdet's teacher-student
// detectors (and Unbiased Teacher) keep such an image as background: their
// teacher changes every iteration, so an empty label lasts one step. Here the
// pseudo-boxes are fixed for the student's whole training, and a teacher of a
// tenth of the labels finds nothing above 0.9 mostly on images whose objects
// it is unsure of, so keeping them would teach those objects as background
// every epoch. The quality columns say what this costs: the recall over the
// whole pool counts the true boxes of left-out images as not found.
// One score threshold for every class (PseudoOptions has no per-class one); the
// k best boxes per class over the pool (topK) is not built and is refused.
// The labelled share is a seeded random draw of images (segmentation's
// randomSplit): an image holds boxes of several classes, so a per-class draw
// of images would not split them. The pool is selected batch by batch; only
// the kept boxes are held (float32 [B,7]).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { boxIou } from '../../ops/boxes.js';
import type { Dataset } from '../../data/dataset.js';
import { BoxDataset } from '../../data/box_dataset.js';
import type { Detections, PseudoLabelling, PseudoOptions } from '../task.js';
import { checkThreshold } from '../pseudo_checks.js';
import { randomSplit } from '../segmentation/pseudo.js';
import type { DetTargets } from './targets.js';

/** mmdet 3.x SemiBaseDetector's min_pseudo_bbox_wh: a pseudo-box must be wider and taller than this (pixels). */
export const MIN_PSEUDO_BOX_WH = 1e-2;
/** A kept box is right when it overlaps a true box of its class at least this much (VOC's and COCO AP50's IoU). */
export const PSEUDO_MATCH_IOU = 0.5;

/** Throws on topK or soft (not built for boxes) and on a threshold outside [0, 1]; the threshold (default 0.9). */
export function checkBoxSelection(o: PseudoOptions): number {
  if (o.topK !== undefined) throw new TypeError('detection: pseudo-boxes are selected by a score threshold (threshold); topK (the k best boxes per class over the pool) is not implemented for detection');
  if (o.soft) throw new TypeError('detection: there are no soft box targets (a pseudo-box is a box and a class); leave soft out');
  return checkThreshold(o);
}

/**
 * Task.selectPseudo of detection: the images of a batch with a box scoring ≥ opts.threshold (0.9) that is wider
 * and taller than MIN_PSEUDO_BOX_WH (positions, ascending), and the kept boxes as one float32 tensor [B, 7]:
 * (image position, x1, y1, x2, y2, label, score), boxes in the batch's pixels.
 */
export function selectPseudoBoxes(prediction: Detections[], opts: PseudoOptions): { indices: number[]; targets: Tensor } {
  const thr = checkBoxSelection(opts);
  if (!Array.isArray(prediction)) throw new TypeError('detection pseudo-labels: expected a list of Detections, one per image');
  return torch.noGrad(() => torch.scope(() => {
    const indices: number[] = [];
    const parts = prediction.map((d, i) => {
      const [x1, y1, x2, y2] = d.boxes.float().unbind(1);
      const ok = d.scores.ge(thr).logicalAnd(x2.sub(x1).gt(MIN_PSEUDO_BOX_WH)).logicalAnd(y2.sub(y1).gt(MIN_PSEUDO_BOX_WH));
      const keep = ok.nonzero().reshape(-1);
      const m = keep.shape[0];
      if (m > 0) indices.push(i);
      return torch.cat([torch.full([m, 1], i), d.boxes.float().indexSelect(0, keep), d.labels.float().indexSelect(0, keep).unsqueeze(1), d.scores.float().indexSelect(0, keep).unsqueeze(1)], 1);
    });
    return { indices, targets: parts.length ? torch.cat(parts, 0) : torch.zeros([0, 7]) };
  }));
}

/**
 * The true boxes of `indices` read from a detection set (ignored boxes, where a batch flags any, left out): boxes
 * float32 [B,4], labels int64 [B], boxes per image. One image at a time: a set of images of several sizes (no
 * data.imageSize) cannot be stacked into one batch.
 */
export async function readBoxes(ds: Dataset, indices: number[]): Promise<{ boxes: Tensor; labels: Tensor; counts: number[] }> {
  const boxes: Tensor[] = [], labels: Tensor[] = [], counts: number[] = [];
  for (const index of indices) {
    const b = await ds.getBatch([index]) as Awaited<ReturnType<Dataset['getBatch']>> & { ignore?: Tensor[]; area?: Tensor[] };
    try {
      if (!b.boxes || !b.boxLabels) throw new TypeError('pseudo-label: the detection training set gave a batch without boxes');
      const part = torch.scope(() => {
        const keep = b.boxes!.map((x, i) => (b.ignore ? b.ignore[i].logicalNot().nonzero().reshape(-1) : torch.arange(0, x.shape[0], 1).long()));
        const bx = b.boxes!.map((x, i) => x.float().indexSelect(0, keep[i])), lb = b.boxLabels!.map((x, i) => x.long().indexSelect(0, keep[i]));
        return { boxes: torch.cat(bx, 0).keep(), labels: torch.cat(lb, 0).keep(), counts: bx.map((x) => x.shape[0]) };
      });
      boxes.push(part.boxes);
      labels.push(part.labels);
      counts.push(...part.counts);
    } finally {
      torch.dispose([b.images, b.labels, ...(b.boxes ?? []), ...(b.boxLabels ?? []), ...(b.ignore ?? []), ...(b.area ?? [])]);
    }
  }
  const all = torch.scope(() => ({
    boxes: (boxes.length ? torch.cat(boxes, 0) : torch.zeros([0, 4])).keep(),
    labels: (labels.length ? torch.cat(labels, 0) : torch.zeros([0], { dtype: 'int64' })).keep(),
  }));
  torch.dispose([...boxes, ...labels]);
  return { ...all, counts };
}

/** Kept boxes per kept image from a selection's targets [B,7] (column 0: the kept image, non-decreasing, < kept). */
function boxesPerImage(targets: Tensor, kept: number): number[] {
  if (targets.ndim !== 2 || targets.shape[1] !== 7) throw new TypeError(`detection pseudo-labels: the selection's targets must be [B, 7] (kept image, x1, y1, x2, y2, label, score), got [${targets.shape.join(', ')}]`);
  return torch.scope(() => {
    const b = targets.shape[0];
    if (b === 0) return new Array<number>(kept).fill(0);
    const img = targets.select(1, 0).long();
    const unordered = b > 1 && img.narrow(0, 1, b - 1).lt(img.narrow(0, 0, b - 1)).any().item();
    if (unordered || img.lt(0).logicalOr(img.ge(kept)).any().item()) throw new RangeError(`detection pseudo-labels: the targets' column 0 must give each box's kept image in [0, ${kept}), in order`);
    const c: Tensor = torch.ops.callOp('aten::bincount', img, null, kept);
    return Array.from(c.to('int32').dataSync() as Int32Array);
  });
}

const pct = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(1)}%`);

export const detectionPseudo: PseudoLabelling<Detections[], DetTargets, BoxDataset> = {
  // The table's column counts images (PseudoSelection.indices); the boxes are counted in the log line and quality.pseudoBoxes.
  unit: 'images with pseudo-boxes',
  splitRule: 'of the images',
  quality: [
    { key: 'pseudoLabelAccuracy', header: 'pseudo-boxes right' },
    { key: 'boxRecall', header: 'pool boxes found' },
    { key: 'keptRecall', header: 'kept images\' boxes found' },
  ],
  metrics: [{ key: 'AP', header: 'test AP' }, { key: 'AP50', header: 'test AP50' }],
  check: (o) => void checkBoxSelection(o),
  split: randomSplit,
  async labelled(train, indices) {
    const t = await readBoxes(train, indices);
    return new BoxDataset(train, indices, t.boxes, t.labels, t.counts);
  },
  // Per pool batch: the task's rule (targets [B,7], column 0 the batch position), scored against the batch's true boxes
  // (same image and class, IoU ≥ 0.5, by one IoU matrix of the batch's kept and true boxes); column 0 becomes the kept image's
  // number over the pool. Right boxes are not matched one to one: two kept boxes on one object both count (NMS has
  // removed most such pairs).
  selector(o, select) {
    const parts: Tensor[] = [], kept: number[] = [];
    let images = 0, nBoxes = 0, right = 0, nTrue = 0, nTrueKept = 0, found = 0;
    return {
      update(prediction, truth, indices) {
        const { indices: rows, targets } = select(prediction, o);
        const n = prediction.length;
        if (truth.length !== n || indices.length !== n) throw new RangeError(`detection pseudo-labels: ${n} predictions, ${truth.length} targets and ${indices.length} pool positions in one batch`);
        images += n;
        const t = targets.float();
        const b = t.shape[0];
        // The true boxes of the batch (ignored ones out), with their image.
        const counted = truth.map((x) => (x.ignore ? x.ignore.logicalNot().nonzero().reshape(-1) : null));
        const gb = truth.map((x, i) => (counted[i] ? x.boxes.indexSelect(0, counted[i]!) : x.boxes).float());
        const gl = truth.map((x, i) => (counted[i] ? x.labels.indexSelect(0, counted[i]!) : x.labels).long());
        const per = gb.map((x) => x.shape[0]);
        const g = per.reduce((s, c) => s + c, 0);
        nTrue += g;
        nTrueKept += rows.reduce((s, r) => s + per[r], 0);
        nBoxes += b;
        const img = t.select(1, 0).long();
        if (b > 0 && g > 0) {
          const gImg = new Int32Array(g);
          per.reduce((s, c, i) => (gImg.fill(i, s, s + c), s + c), 0);
          const same = img.unsqueeze(1).eq(torch.tensor(gImg).long().unsqueeze(0)).logicalAnd(t.select(1, 5).long().unsqueeze(1).eq(torch.cat(gl, 0).unsqueeze(0)));
          const hit = boxIou(t.narrow(1, 1, 4), torch.cat(gb, 0)).ge(PSEUDO_MATCH_IOU).logicalAnd(same);
          right += hit.any(1).sum().item();
          found += hit.any(0).sum().item();
        }
        // Column 0: the batch position → the kept image's number over the pool.
        const lut = new Float32Array(n).fill(-1);
        rows.forEach((r, j) => { lut[r] = kept.length + j; });
        const col = torch.tensor(lut).indexSelect(0, img);
        if (b > 0 && col.lt(0).any().item()) throw new RangeError('detection pseudo-labels: the selection has boxes on an image it does not keep (targets\' column 0 not in its indices)');
        parts.push(torch.cat([col.unsqueeze(1), t.narrow(1, 1, 6)], 1).keep());
        kept.push(...rows.map((r) => indices[r]));
      },
      finish() {
        const targets = parts.length ? torch.scope(() => torch.cat(parts, 0).keep()) : torch.zeros([0, 7]).keep();
        torch.dispose(parts);
        const acc = nBoxes ? right / nBoxes : null, recall = nTrue ? found / nTrue : null, keptRecall = nTrueKept ? found / nTrueKept : null;
        return {
          indices: kept,
          targets,
          quality: { pseudoLabelAccuracy: acc, boxRecall: recall, keptRecall, pseudoBoxes: nBoxes },
          summary: `${nBoxes} boxes on ${kept.length} of the pool's ${images} images (the rest left out), ${pct(acc)} of them right (their class, IoU ≥ ${PSEUDO_MATCH_IOU}); `
            + `${pct(recall)} of the pool's ${nTrue} true boxes found, ${pct(keptRecall)} of the kept images' ${nTrueKept} (the others train as background)`,
        };
      },
    };
  },
  // The labelled images with their true boxes, then the kept pool images with their pseudo-boxes (in the pixels of the
  // training set's images, which the teacher predicted on), read from the training set.
  async studentSet(train, labelled, pool, sel, order) {
    const counts = boxesPerImage(sel.targets, sel.indices.length);
    const indices = [...labelled.indices, ...sel.indices.map((i) => pool[i])];
    const l = labelled.counts.length;
    const rows = [...labelled.rows, ...sel.indices.map((_, j) => l + j)];
    const { boxes, labels } = torch.scope(() => {
      const t = sel.targets.float();
      return { boxes: torch.cat([labelled.boxes, t.narrow(1, 1, 4)], 0).keep(), labels: torch.cat([labelled.labels, t.select(1, 5).long()], 0).keep() };
    });
    const all = [...labelled.counts, ...counts];
    return order ? new BoxDataset(train, order.map((j) => indices[j]), boxes, labels, all, order.map((j) => rows[j])) : new BoxDataset(train, indices, boxes, labels, all, rows);
  },
};
