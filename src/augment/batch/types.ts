// The batch form of the sample format (docs/architecture.md §4) that batch-level
// transforms read and write: images [N,C,H,W] float (normalised); for
// classification, labels as class indices int64 [N] or soft targets float
// [N,K] after MixUp/CutMix; for segmentation, masks int64 [N,H,W] (255 =
// ignore; after MixUp also the partner's masks and λ); for detection, per image boxes float [M,4] xyxy in pixels and their
// labels int64 [M]. Geometric transforms move masks and boxes with the pixels.
import type { Tensor } from '../../torch/tensor.js';
import type { Rng } from '../../data/rng.js';

export interface ImageBatch {
  images: Tensor;
  labels?: Tensor;
  masks?: Tensor;
  /** After MixUp on segmentation (mixup.ts): the partner's masks [N,H,W], moved and erased with the pixels like `masks`. */
  masks2?: Tensor;
  /** With masks2: each image's weight λ of its own masks, float32 [N]; the loss is λ·L(masks) + (1−λ)·L(masks2). */
  lam?: Tensor;
  boxes?: Tensor[];
  boxLabels?: Tensor[];
}

export interface AugmentContext {
  /** The seeded JS generator every random choice comes from (noise tensors use libtorch's seeded generator). */
  rng: Rng;
  /** Per-channel mean and std of the normalisation, to turn a fill given in 0–1 pixel units into the normalised value. */
  mean: number[];
  std: number[];
  numClasses: number;
}

export interface BatchTransform {
  readonly type: string;
  /**
   * True for transforms that mix images of the batch with each other (MixUp,
   * CutMix): reference code runs them in the training step, not in the data
   * loader, so they are not part of what the loader yields (SWA's update_bn).
   */
  readonly mixesBatch?: boolean;
  /** Returns the transformed batch; tensors are created in the caller's scope. */
  apply(batch: ImageBatch, ctx: AugmentContext): ImageBatch;
}

/** Per-channel fill in normalised units, shaped [1,C,1,1], from a fill in 0–1 pixel units (a number or one per channel). */
export function normalisedFill(fill: number | number[], ctx: AugmentContext, channels: number): number[] {
  const f = typeof fill === 'number' ? new Array(channels).fill(fill) : fill;
  if (f.length !== channels) throw new RangeError(`fill: expected 1 or ${channels} values (one per channel), got ${f.length}`);
  return f.map((v, c) => (v - ctx.mean[c % ctx.mean.length]) / ctx.std[c % ctx.std.length]);
}
