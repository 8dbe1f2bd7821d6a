// Datasets (docs/architecture.md §4): a dataset hands out whole batches — one uint8 or
// float [N,C,H,W] image tensor and one int64 [N] label tensor — so the hot path
// is a tensor operation per batch, never a JS loop per sample or pixel.
import { Tensor, tensor } from '../torch/index.js';

/**
 * A batch: images [N,C,H,W] (uint8 as stored, or float), labels int64 [N], and the dataset indices they came from;
 * for segmentation also masks int64 [N,H,W] (255 = ignore). The consumer disposes the tensors.
 */
export interface Batch {
  images: Tensor;
  labels: Tensor;
  /** Segmentation class maps int64 [N,H,W] (docs/architecture.md §4; 255 = ignore); absent for classification. */
  masks?: Tensor;
  /** Detection: per image, boxes float [M_i,4] xyxy in pixels and their labels int64 [M_i] (docs/architecture.md §4); absent otherwise. */
  boxes?: Tensor[];
  boxLabels?: Tensor[];
  /** Optional: each sample's [height, width] as stored, where the dataset resized it (segmentationFolder's imageSize), so predictions can go back to it. */
  sizes?: [number, number][];
  indices: number[];
}

export interface Dataset {
  readonly length: number;
  readonly classes: string[];
  /** Samples per class (index = class), for class weighting. */
  classCounts(): number[];
  /** The samples at `indices` (dataset positions, repeats allowed) as one batch. */
  getBatch(indices: number[]): Batch | Promise<Batch>;
  /** Optional: each sample's name, for outputs named after their inputs (a file's path under its split folder, without extension). */
  readonly names?: readonly string[];
  /** Optional: every sample's class index, known without loading images (Subset uses it for classCounts). */
  readonly targets?: ArrayLike<number>;
  /** Optional: the epoch (1-based, as the trainer counts) the next batches belong to, for datasets whose samples change per epoch (src/augment/sample/mix_dataset.ts). DataLoader.setEpoch calls it. */
  setEpoch?(epoch: number): void;
}

/** Checks batch indices: integers in [0, length). */
export function checkIndices(indices: unknown, length: number, who: string): number[] {
  if (!Array.isArray(indices)) throw new TypeError(`${who}.getBatch: expected an array of indices, got ${typeof indices}`);
  for (let i = 0; i < indices.length; i++) {
    const x = indices[i];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= length) {
      throw new RangeError(`${who}.getBatch: index ${String(x)} (at position ${i}) is not an integer in [0, ${length})`);
    }
  }
  return indices as number[];
}

function countClasses(targets: ArrayLike<number>, k: number): number[] {
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < targets.length; i++) counts[targets[i]]++;
  return counts;
}

const IMAGE_DTYPES = new Set(['uint8', 'float32', 'float64', 'float16', 'bfloat16']);

/**
 * A dataset held in memory as two tensors (PyTorch's TensorDataset, for images):
 * images uint8 or float [N,C,H,W], labels int64 [N] (or soft targets float
 * [N,K], e.g. pseudo-labels; their class is the argmax). The dataset owns the
 * tensors (they outlive any torch.scope); dispose() frees them.
 */
export class TensorDataset implements Dataset {
  readonly images: Tensor;
  readonly labels: Tensor;
  readonly classes: string[];
  readonly length: number;
  private _targets: Int32Array | null = null;
  private _counts: number[] | null = null;

  constructor(images: Tensor, labels: Tensor, classes: string[]) {
    if (!(images instanceof Tensor) || images.isDisposed) throw new TypeError('TensorDataset: images must be a live Tensor');
    if (!(labels instanceof Tensor) || labels.isDisposed) throw new TypeError('TensorDataset: labels must be a live Tensor');
    if (images.ndim !== 4 || !IMAGE_DTYPES.has(images.dtype)) {
      throw new TypeError(`TensorDataset: images must be a uint8 or float tensor [N,C,H,W], got ${images.dtype} [${images.shape.join(',')}]`);
    }
    const soft = labels.ndim === 2 && labels.isFloatingPoint();
    if (!soft && (labels.ndim !== 1 || labels.dtype !== 'int64')) {
      throw new TypeError(`TensorDataset: labels must be an int64 tensor [N] (or soft targets float [N,K]), got ${labels.dtype} [${labels.shape.join(',')}]`);
    }
    if (soft && labels.shape[1] !== classes.length) throw new RangeError(`TensorDataset: soft labels have ${labels.shape[1]} columns for ${classes.length} classes`);
    const n = images.shape[0];
    if (labels.shape[0] !== n) throw new RangeError(`TensorDataset: ${n} images but ${labels.shape[0]} labels`);
    if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string')) {
      throw new TypeError('TensorDataset: classes must be a non-empty array of class names');
    }
    if (images.device !== labels.device) throw new Error(`TensorDataset: images on ${images.device}, labels on ${labels.device}`);
    this.images = images.keep();
    this.labels = labels.keep();
    this.classes = classes.slice();
    this.length = n;
    const t = this.targets;
    for (let i = 0; i < t.length; i++) {
      if (t[i] < 0 || t[i] >= classes.length) {
        throw new RangeError(`TensorDataset: label ${t[i]} of sample ${i} is outside [0, ${classes.length}) (${classes.length} classes)`);
      }
    }
  }

  /** Every sample's class index (a copy of the labels as int32, cached). */
  get targets(): Int32Array {
    if (this._targets === null) {
      const hard = this.labels.ndim === 2 ? this.labels.argmax(1) : this.labels;
      const l32 = hard.to({ dtype: 'int32', device: 'cpu' });
      if (hard !== this.labels && hard !== l32) hard.dispose();
      try {
        this._targets = l32.dataSync() as Int32Array;
      } finally {
        if (l32 !== this.labels) l32.dispose();
      }
    }
    return this._targets;
  }

  classCounts(): number[] {
    if (this._counts === null) this._counts = countClasses(this.targets, this.classes.length);
    return this._counts.slice();
  }

  /** One indexSelect on each tensor. */
  getBatch(indices: number[]): Batch {
    if (this.images.isDisposed) throw new Error('TensorDataset.getBatch: the dataset was disposed');
    checkIndices(indices, this.length, 'TensorDataset');
    let idx = tensor(Int32Array.from(indices));
    const device = this.images.device;
    if (device !== 'cpu') {
      const moved = idx.to(device);
      idx.dispose();
      idx = moved;
    }
    try {
      const images = this.images.indexSelect(0, idx);
      const labels = this.labels.indexSelect(0, idx);
      return { images, labels, indices: indices.slice() };
    } finally {
      idx.dispose();
    }
  }

  /** Frees the dataset's tensors. */
  dispose(): void {
    this.images.dispose();
    this.labels.dispose();
  }
}

/** The samples of `ds` at `indices` (PyTorch's Subset): a train/val split, a fold, a class filter. */
export class Subset implements Dataset {
  readonly dataset: Dataset;
  readonly indices: readonly number[];
  readonly length: number;
  private _targets: Int32Array | null = null;
  private _names: readonly string[] | null = null;

  constructor(ds: Dataset, indices: number[]) {
    if (ds === null || typeof ds !== 'object' || typeof ds.getBatch !== 'function') throw new TypeError('Subset: expected a Dataset');
    if (!Array.isArray(indices)) throw new TypeError('Subset: indices must be an array of integers');
    for (let i = 0; i < indices.length; i++) {
      const x = indices[i];
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= ds.length) {
        throw new RangeError(`Subset: index ${String(x)} (at position ${i}) is not an integer in [0, ${ds.length})`);
      }
    }
    this.dataset = ds;
    this.indices = Object.freeze(indices.slice());
    this.length = indices.length;
  }

  get classes(): string[] {
    return this.dataset.classes;
  }

  get targets(): Int32Array | undefined {
    if (this._targets === null) {
      const t = this.dataset.targets;
      if (t === undefined) return undefined;
      this._targets = Int32Array.from(this.indices, (i) => t[i]);
    }
    return this._targets;
  }

  /** The underlying samples' names, where it has them (built once). */
  get names(): readonly string[] | undefined {
    if (this._names === null) {
      const n = this.dataset.names;
      if (n === undefined) return undefined;
      this._names = Object.freeze(this.indices.map((i) => n[i]));
    }
    return this._names;
  }

  classCounts(): number[] {
    const t = this.targets;
    if (t === undefined) {
      throw new Error('Subset.classCounts: the underlying dataset has no `targets` (per-sample class indices), so counts would need every image loaded');
    }
    return countClasses(t, this.classes.length);
  }

  /** Passed on to the underlying dataset. */
  setEpoch(epoch: number): void {
    this.dataset.setEpoch?.(epoch);
  }

  /** Batch indices are this subset's positions; the underlying dataset's getBatch does the work. */
  getBatch(indices: number[]): Batch | Promise<Batch> {
    checkIndices(indices, this.length, 'Subset');
    const mapped = indices.map((i) => this.indices[i]);
    const local = indices.slice();
    const b = this.dataset.getBatch(mapped);
    if (typeof (b as Promise<Batch>).then === 'function') return Promise.resolve(b).then((r) => ({ ...r, indices: local }));
    return { ...b, indices: local };
  }
}
