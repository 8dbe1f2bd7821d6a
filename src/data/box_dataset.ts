// Images of a dataset with boxes held in memory (docs/architecture.md §4): the
// pseudo-boxes a teacher gave a pool or the true boxes of a labelled share, for
// detection's pseudo-labelling (src/tasks/detection/pseudo.ts), as
// mask_dataset.ts holds masks for segmentation. The boxes of every row are one
// tensor [B,4] (and their labels one [B]) with a count per row, so that no
// tensor is held per image. Sample i is the source's image at `indices[i]`
// with the boxes of row `rows[i]` (rows repeat when samples do); the images are
// read from the source batch by batch, its own boxes dropped. Boxes are in the
// pixels of the images the source gives (those the teacher predicted on, and
// those training reads), which getBatch checks against the image size.
import * as torch from '../torch/index.js';
import { Tensor } from '../torch/tensor.js';
import { checkIndices, type Batch, type Dataset } from './dataset.js';

const WHO = 'BoxDataset';

/** A training batch of boxes, as the detection training set gives it (no ignore flags or areas: transforms may drop boxes). */
export interface BoxBatch extends Batch {
  boxes: Tensor[];
  boxLabels: Tensor[];
}

export class BoxDataset implements Dataset {
  readonly source: Dataset;
  /** Source position of each sample. */
  readonly indices: readonly number[];
  /** Box row of each sample. */
  readonly rows: readonly number[];
  /** float32 [B,4] xyxy in the source's pixels, the rows' boxes one after another; the dataset owns them. */
  readonly boxes: Tensor;
  /** int64 [B] class indices; the dataset owns them. */
  readonly labels: Tensor;
  /** Boxes per row (a row may have none). */
  readonly counts: readonly number[];
  readonly length: number;
  private readonly starts: number[];
  private _counts: number[] | null = null;

  /**
   * `boxes` float [B,4] xyxy with x2 > x1 and y2 > y1, `labels` int64 [B] < classes, `counts[r]` boxes for row r
   * (summing to B); `rows` defaults to 0..R-1. The dataset owns float32 boxes and int64 labels as given (dispose()
   * frees them); other dtypes are copied.
   */
  constructor(source: Dataset, indices: number[], boxes: Tensor, labels: Tensor, counts: number[], rows?: number[]) {
    if (source === null || typeof source !== 'object' || typeof source.getBatch !== 'function') throw new TypeError(`${WHO}: expected a source Dataset`);
    for (const [name, t] of [['boxes', boxes], ['labels', labels]] as const) if (!(t instanceof Tensor) || t.isDisposed) throw new TypeError(`${WHO}: ${name} must be a live Tensor`);
    if (boxes.ndim !== 2 || boxes.shape[1] !== 4 || !boxes.isFloatingPoint()) throw new TypeError(`${WHO}: boxes must be float [B,4] xyxy, got ${boxes.dtype} [${boxes.shape.join(',')}]`);
    const b = boxes.shape[0];
    if (labels.ndim !== 1 || labels.shape[0] !== b || labels.isFloatingPoint() || labels.dtype === 'bool') throw new TypeError(`${WHO}: labels must be an integer tensor [${b}] (one per box), got ${labels.dtype} [${labels.shape.join(',')}]`);
    if (!Array.isArray(counts) || !counts.every((c) => Number.isInteger(c) && c >= 0)) throw new TypeError(`${WHO}: counts must be non-negative integers, one per row`);
    const total = counts.reduce((s, c) => s + c, 0);
    if (total !== b) throw new RangeError(`${WHO}: counts sum to ${total} boxes but boxes has ${b}`);
    const r = rows ?? counts.map((_, i) => i);
    if (!Array.isArray(indices) || indices.length !== r.length) throw new RangeError(`${WHO}: ${Array.isArray(indices) ? indices.length : 'no'} indices for ${r.length} samples (one source index per row, or per entry of rows)`);
    checkIndices(indices, source.length, `${WHO} indices`);
    checkIndices(r, counts.length, `${WHO} rows`);
    const k = source.classes.length;
    const [badLabel, badBox] = torch.scope(() => (b === 0 ? [0, 0] : [
      labels.lt(0).logicalOr(labels.ge(k)).sum().item(),
      boxes.isfinite().all(1).logicalNot().logicalOr(boxes.select(1, 2).le(boxes.select(1, 0))).logicalOr(boxes.select(1, 3).le(boxes.select(1, 1))).sum().item(),
    ]));
    if (badLabel > 0) throw new RangeError(`${WHO}: ${badLabel} box labels are not in [0, ${k}); there are ${k} classes`);
    if (badBox > 0) throw new RangeError(`${WHO}: ${badBox} boxes are not finite xyxy with x2 > x1 and y2 > y1`);
    this.source = source;
    this.indices = Object.freeze(indices.slice());
    this.rows = Object.freeze(r.slice());
    this.counts = Object.freeze(counts.slice());
    this.starts = [];
    counts.reduce((s, c) => (this.starts.push(s), s + c), 0);
    this.boxes = boxes.dtype === 'float32' ? boxes.keep() : torch.scope(() => boxes.float().keep());
    this.labels = labels.dtype === 'int64' ? labels.keep() : torch.scope(() => labels.long().keep());
    this.length = r.length;
  }

  get classes(): string[] {
    return this.source.classes;
  }

  /** Boxes per class over the samples (a row counted as often as it comes), as a detection set counts them for class weights. */
  classCounts(): number[] {
    if (this._counts === null) {
      const k = this.classes.length, m = this.counts.length;
      // Per-row class counts by one bincount of row·K + label.
      const perRow = torch.scope(() => {
        if (this.labels.shape[0] === 0) return new Float64Array(m * k);
        const rowOfBox = new Int32Array(this.labels.shape[0]);
        this.counts.forEach((c, r) => rowOfBox.fill(r, this.starts[r], this.starts[r] + c));
        const c: Tensor = torch.ops.callOp('aten::bincount', torch.tensor(rowOfBox).long().mul(k).add(this.labels), null, m * k);
        return c.to('float64').dataSync() as Float64Array;
      });
      const counts = new Array<number>(k).fill(0);
      for (const r of this.rows) for (let c = 0; c < k; c++) counts[c] += perRow[r * k + c];
      this._counts = counts;
    }
    return this._counts.slice();
  }

  setEpoch(epoch: number): void {
    this.source.setEpoch?.(epoch);
  }

  /** The source's images (with its labels placeholder and sizes) at the samples' positions, with the samples' boxes (float32 [M_i,4]) and labels (int64 [M_i]). */
  async getBatch(indices: number[]): Promise<BoxBatch> {
    if (this.boxes.isDisposed) throw new Error(`${WHO}.getBatch: the dataset was disposed`);
    checkIndices(indices, this.length, WHO);
    const b = await this.source.getBatch(indices.map((i) => this.indices[i])) as Batch & Record<string, unknown>;
    // The source's own targets (and a detection set's ignore flags and areas, aligned with its boxes) are replaced.
    for (const key of ['boxes', 'boxLabels', 'ignore', 'area']) torch.dispose(b[key] as Tensor[] | undefined);
    b.masks?.dispose();
    const [h, w] = b.images.shape.slice(2);
    const rows = indices.map((i) => this.rows[i]);
    const out = torch.scope(() => {
      const boxes = rows.map((r) => this.boxes.narrow(0, this.starts[r], this.counts[r]).clone());
      const boxLabels = rows.map((r) => this.labels.narrow(0, this.starts[r], this.counts[r]).clone());
      // Boxes beyond the images were made in another frame (predicted on images of another size).
      const all = torch.cat(boxes, 0);
      const outside = all.shape[0] === 0 ? 0 : all.narrow(1, 0, 2).lt(-1e-3).any().logicalOr(all.select(1, 2).gt(w + 1e-3).any()).logicalOr(all.select(1, 3).gt(h + 1e-3).any()).item();
      return { boxes, boxLabels, outside };
    });
    if (out.outside) {
      torch.dispose([b.images, b.labels, ...out.boxes, ...out.boxLabels]);
      throw new RangeError(`${WHO}: boxes lie outside the source's ${w}x${h} (WxH) images: the boxes must be in the pixels of the images the source gives`);
    }
    const batch: BoxBatch = { images: b.images, labels: b.labels, boxes: out.boxes, boxLabels: out.boxLabels, indices: indices.slice() };
    if (b.sizes) batch.sizes = b.sizes;
    return batch;
  }

  /** Frees the boxes and labels. */
  dispose(): void {
    torch.dispose([this.boxes, this.labels]);
  }
}
