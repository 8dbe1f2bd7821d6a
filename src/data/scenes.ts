// Fashion-MNIST scenes: a small detection and segmentation set made from real
// Fashion-MNIST garments, so the box- and mask-aware augmentations can be seen
// and tested on pictures nobody drew by hand. Scene i (seeded, deterministic)
// puts 1..maxObjects garments into distinct cells of a 2×2 grid on a size×size
// canvas, each at a random offset in its cell; a garment's box is the tight box
// of its pixels above `threshold`, its mask class is its label + 1 there (0 is
// background).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import { Rng } from './rng.js';
import type { TensorDataset } from './dataset.js';
import type { Sample, SampleSource } from './sample.js';

export interface ScenesOptions {
  /** Canvas side in pixels (64: four 32-pixel cells for 28-pixel garments). */
  size?: number;
  maxObjects?: number;
  /** Pixel value (0–255) above which a garment pixel counts for its box and mask (25). */
  threshold?: number;
  seed?: number;
  length?: number;
}

export class FashionMnistScenes implements SampleSource {
  readonly length: number;
  private readonly o: Required<ScenesOptions>;
  constructor(private readonly items: TensorDataset, opts: ScenesOptions = {}) {
    this.o = { size: 64, maxObjects: 4, threshold: 25, seed: 42, length: items.length, ...opts };
    if (!(this.o.size >= 56)) throw new RangeError(`FashionMnistScenes: size must be at least 56 (two 28-pixel garments a side), got ${this.o.size}`);
    if (!(Number.isInteger(this.o.maxObjects) && this.o.maxObjects >= 1 && this.o.maxObjects <= 4)) throw new RangeError(`FashionMnistScenes: maxObjects must be 1 to 4, got ${this.o.maxObjects}`);
    this.length = this.o.length;
  }

  getSample(index: number): Sample {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`FashionMnistScenes: index ${index} is not an integer in [0, ${this.length})`);
    const rng = new Rng(Rng.derive(this.o.seed, index));
    const { size, threshold } = this.o;
    const cell = size / 2;
    const image = torch.zeros([1, size, size], { dtype: 'uint8' });
    const mask = torch.zeros([size, size], { dtype: 'int64' });
    const k = rng.int(1, this.o.maxObjects + 1);
    const cells = Array.from(rng.permutation(4)).slice(0, k);
    const boxes: number[][] = [], labels: number[] = [];
    for (const c of cells) {
      const idx = rng.int(0, this.items.length);
      const garment: Tensor = this.items.images.index(idx, 0); // [28, 28] uint8
      const label = Number(this.items.labels.index(idx).item());
      const y0 = Math.floor(c / 2) * cell + rng.int(0, cell - 28 + 1);
      const x0 = (c % 2) * cell + rng.int(0, cell - 28 + 1);
      const on = garment.gt(threshold);
      const rows = on.any(1).nonzero().reshape(-1).toArray() as number[];
      const cols = on.any(0).nonzero().reshape(-1).toArray() as number[];
      if (rows.length === 0) continue;
      image.index(0, `${y0}:${y0 + 28}`, `${x0}:${x0 + 28}`).copy_(garment);
      mask.index(`${y0}:${y0 + 28}`, `${x0}:${x0 + 28}`).copy_(torch.where(on, label + 1, 0).long());
      boxes.push([x0 + cols[0], y0 + rows[0], x0 + cols[cols.length - 1] + 1, y0 + rows[rows.length - 1] + 1]);
      labels.push(label);
    }
    return {
      image, mask,
      boxes: boxes.length ? torch.tensor(boxes, { dtype: 'float32' }) : torch.zeros([0, 4]),
      boxLabels: torch.tensor(labels, { dtype: 'int64' }).reshape(-1),
    };
  }
}
