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
  /**
   * A data-parallel run's shard (src/data/loader.ts): this rank's rows are
   * positions rank, rank + worldSize, … of the global batch. Per-sample
   * parameters are drawn for the whole global batch (drawCount) and each rank
   * keeps its rows (shardRows), so an image gets the draw one process would
   * give it, and every rank's generator stays in step. Not shared: noise
   * tensors (RandomErasing's 'pixel' fill: libtorch's generator, per rank)
   * and MixUp/CutMix partners (within each rank's shard).
   */
  shard?: { rank: number; worldSize: number };
}

/** How many samples to draw per-sample parameters for: the global batch (n × worldSize) in a data-parallel run, else n. */
export function drawCount(ctx: AugmentContext, n: number): number {
  return n * (ctx.shard?.worldSize ?? 1);
}

type Rows = ArrayLike<unknown> & { filter(f: (v: never, i: number) => boolean): unknown };
/**
 * This rank's rows of parameters drawn for the global batch (drawCount):
 * every typed array or array field of `drawn` (or `drawn` itself) filtered to
 * positions rank, rank + worldSize, …; numbers and other fields kept. The
 * identity without a shard.
 */
export function shardRows<T>(ctx: AugmentContext, drawn: T): T {
  const s = ctx.shard;
  if (!s || s.worldSize === 1) return drawn;
  const keep = (_: unknown, i: number) => i % s.worldSize === s.rank;
  const rows = (v: unknown): unknown => (ArrayBuffer.isView(v) || Array.isArray(v) ? (v as unknown as Rows).filter(keep as never) : v);
  if (ArrayBuffer.isView(drawn) || Array.isArray(drawn)) return rows(drawn) as T;
  if (drawn && typeof drawn === 'object') return Object.fromEntries(Object.entries(drawn).map(([k, v]) => [k, v && typeof v === 'object' && !ArrayBuffer.isView(v) && !Array.isArray(v) ? shardRows(ctx, v) : rows(v)])) as T;
  return drawn;
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
