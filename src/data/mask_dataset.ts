// Images of a dataset with masks held in memory (docs/architecture.md §4): the
// pseudo-masks a teacher gave a pool (255 where it was not confident) or the
// true masks of a labelled share, for segmentation's pseudo-labelling
// (src/tasks/segmentation/pseudo.ts). Sample i is the source's image at
// `indices[i]` with mask row `rows[i]` (rows repeat when samples do); the
// images are read from the source batch by batch, its own masks dropped.
import * as torch from '../torch/index.js';
import { Tensor } from '../torch/tensor.js';
import { checkIndices, type Batch, type Dataset } from './dataset.js';
import { IGNORE_INDEX } from './sample.js';

const WHO = 'MaskDataset';

export class MaskDataset implements Dataset {
  readonly source: Dataset;
  /** Source position of each sample. */
  readonly indices: readonly number[];
  /** Mask row of each sample. */
  readonly rows: readonly number[];
  /** uint8 [M,H,W] class maps (255 = ignore); the dataset owns them. */
  readonly masks: Tensor;
  readonly length: number;
  private _counts: number[] | null = null;

  /**
   * `masks` uint8 or int64 [M,H,W] with values < classes or 255; `rows` defaults to 0..M-1. The dataset owns uint8
   * masks as given (as TensorDataset owns its tensors; dispose() frees them); int64 ones are copied to uint8.
   */
  constructor(source: Dataset, indices: number[], masks: Tensor, rows?: number[]) {
    if (source === null || typeof source !== 'object' || typeof source.getBatch !== 'function') throw new TypeError(`${WHO}: expected a source Dataset`);
    if (!(masks instanceof Tensor) || masks.isDisposed) throw new TypeError(`${WHO}: masks must be a live Tensor`);
    if (masks.ndim !== 3 || (masks.dtype !== 'uint8' && masks.dtype !== 'int64')) throw new TypeError(`${WHO}: masks must be uint8 or int64 [M,H,W], got ${masks.dtype} [${masks.shape.join(',')}]`);
    const m = masks.shape[0];
    const r = rows ?? Array.from({ length: m }, (_, i) => i);
    if (!Array.isArray(indices) || indices.length !== r.length) throw new RangeError(`${WHO}: ${Array.isArray(indices) ? indices.length : 'no'} indices for ${r.length} samples (one source index per mask row, or per entry of rows)`);
    checkIndices(indices, source.length, `${WHO} indices`);
    checkIndices(r, m, `${WHO} rows`);
    const k = source.classes.length;
    const bad = torch.scope(() => (m === 0 ? 0 : masks.ne(IGNORE_INDEX).logicalAnd(masks.ge(k)).sum().item()));
    if (bad > 0) throw new RangeError(`${WHO}: ${bad} mask pixels hold a label ≥ ${k} that is not ${IGNORE_INDEX} (ignore); there are ${k} classes`);
    this.source = source;
    this.indices = Object.freeze(indices.slice());
    this.rows = Object.freeze(r.slice());
    this.masks = masks.dtype === 'uint8' ? masks.keep() : torch.scope(() => masks.to('uint8').keep());
    this.length = r.length;
  }

  get classes(): string[] {
    return this.source.classes;
  }

  /** Pixels per class over the samples' masks (a row counted as often as it comes; 255 not counted), as segmentationFolder counts them for class weights. */
  classCounts(): number[] {
    if (this._counts === null) {
      const k = this.classes.length, m = this.masks.shape[0];
      // Per-row value counts by one bincount of row·256 + value, 64 rows at a time.
      const perRow = new Float64Array(m * 256);
      for (let s = 0; s < m; s += 64) {
        const n = Math.min(64, m - s);
        torch.scope(() => {
          const rows = this.masks.narrow(0, s, n).reshape(n, -1).long();
          const keyed = rows.add(torch.arange(0, n, 1).long().mul(256).unsqueeze(1)).flatten();
          const c: Tensor = torch.ops.callOp('aten::bincount', keyed, null, n * 256);
          perRow.set(c.to('float64').dataSync() as Float64Array, s * 256);
        });
      }
      const counts = new Array<number>(k).fill(0);
      for (const r of this.rows) for (let c = 0; c < k; c++) counts[c] += perRow[r * 256 + c];
      this._counts = counts;
    }
    return this._counts.slice();
  }

  setEpoch(epoch: number): void {
    this.source.setEpoch?.(epoch);
  }

  /** The source's images (and placeholder labels) at the samples' positions, with the samples' masks as int64 [N,H,W]. */
  async getBatch(indices: number[]): Promise<Batch> {
    if (this.masks.isDisposed) throw new Error(`${WHO}.getBatch: the dataset was disposed`);
    checkIndices(indices, this.length, WHO);
    const b = await this.source.getBatch(indices.map((i) => this.indices[i]));
    b.masks?.dispose();
    const [h, w] = this.masks.shape.slice(1);
    const [ih, iw] = b.images.shape.slice(2);
    if (ih !== h || iw !== w) {
      torch.dispose([b.images, b.labels]);
      throw new RangeError(`${WHO}: the source's images are ${iw}x${ih} (WxH) but the masks are ${w}x${h}`);
    }
    const masks = torch.scope(() => this.masks.indexSelect(0, torch.tensor(Int32Array.from(indices, (i) => this.rows[i])).long()).long());
    return { images: b.images, labels: b.labels, masks, indices: indices.slice() };
  }

  /** Frees the masks. */
  dispose(): void {
    this.masks.dispose();
  }
}
