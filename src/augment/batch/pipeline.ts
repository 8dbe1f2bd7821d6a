// A batch augmentation pipeline built from config (mmdet-style `type` names):
//   augment: { train: [ { type: 'RandomFlip', prob: 0.5 }, { type: 'RandomErasing' } ] }
// The batch reaches the pipeline normalised (data.mean / data.std); fills are
// given in 0–1 pixel units and photometric steps work on pixels, so there is no
// Normalize or ToFloat step to place.
// Unknown types and bad options are errors that list what is valid. Any step
// can be switched off for the last N epochs (`offLastEpochs`, YOLOX's
// no_aug_epochs / timm's --mixup-off-epoch; the trainer logs the switch) or
// ramped in over the first N epochs (`rampEpochs`: in epoch e the step runs on
// a batch with probability min(1, e / N), drawn from the seeded generator).
import type { AugmentContext, BatchTransform, ImageBatch } from './types.js';
import { applyByChunks, chunkImages } from './chunked.js';
import { RandomFlip } from './flip.js';
import { RandomCrop } from './crop.js';
import { RandomErasing } from './erasing.js';
import { Mixup } from './mixup.js';
import { RandomResizedCrop, Resize } from './resized_crop.js';
import { Pad } from './pad.js';
import { ColorJitter } from './color.js';
import { RandomResizeCrop } from './resize_crop.js';
import { PhotoMetricDistortion } from './photometric.js';
import { type Check, fail, num, show } from '../../util/schema.js';

type Ctor = { new (o: any): BatchTransform; schema: Check };
export const BATCH_TRANSFORMS: Record<string, Ctor> = {
  RandomFlip, RandomCrop, RandomResizedCrop, RandomResizeCrop, Resize, Pad, ColorJitter, PhotoMetricDistortion, RandomErasing, Mixup,
};

export interface TransformConfig {
  type: string;
  /** Switch this step off for the last N epochs of training. */
  offLastEpochs?: number;
  /** Ramp this step in: in epoch e (1-based) it runs on a batch with probability min(1, e / rampEpochs). */
  rampEpochs?: number;
  [option: string]: unknown;
}

/** Validates one pipeline entry; throws a TypeError naming `path` and the valid types or options. */
export const transformCheck: Check = (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, `expected an object with a type, got ${show(v)}`);
  const { type, offLastEpochs, rampEpochs, ...rest } = v as TransformConfig;
  const ctor = BATCH_TRANSFORMS[type];
  if (!ctor) fail(`${p}.type`, `unknown transform ${show(type)} (expected one of ${Object.keys(BATCH_TRANSFORMS).join(', ')})`);
  if (offLastEpochs !== undefined) num(0, 1e6, true)(offLastEpochs, `${p}.offLastEpochs`);
  if (rampEpochs !== undefined) num(1, 1e6, true)(rampEpochs, `${p}.rampEpochs`);
  ctor.schema(rest, p);
  try { new ctor(rest); } catch (e) { fail(p, (e as Error).message); }
};

export class BatchPipeline {
  readonly steps: { transform: BatchTransform; offLastEpochs: number; rampEpochs: number }[];
  constructor(configs: TransformConfig[]) {
    if (!Array.isArray(configs)) throw new TypeError(`augment.train: expected an array of transforms, got ${show(configs)}`);
    configs.forEach((c, i) => transformCheck(c, `augment.train[${i}]`));
    this.steps = configs.map(({ type, offLastEpochs, rampEpochs, ...rest }) => ({
      transform: new BATCH_TRANSFORMS[type](rest), offLastEpochs: offLastEpochs ?? 0, rampEpochs: rampEpochs ?? 0,
    }));
  }

  /** The steps on in `epoch` (1-based) of `epochs`. */
  active(epoch: number, epochs: number): BatchTransform[] {
    return this.steps.filter((s) => epoch <= epochs - s.offLastEpochs).map((s) => s.transform);
  }

  /** Runs the steps on in `epoch`; `loaderOnly` skips the batch-mixing ones (what a PyTorch data loader would yield). */
  apply(batch: ImageBatch, ctx: AugmentContext, epoch = 1, epochs = Infinity, opts: { loaderOnly?: boolean } = {}): ImageBatch {
    let b = batch;
    // Large images: runs of per-image steps go chunk by chunk (./chunked.ts); the batch-mixing steps see the whole batch.
    const per = chunkImages(batch.images);
    let run: BatchTransform[] = [];
    const flush = () => { if (run.length) b = applyByChunks(run, b, ctx, per); run = []; };
    for (const s of this.steps) {
      if (epoch > epochs - s.offLastEpochs) continue;
      if (opts.loaderOnly && s.transform.mixesBatch) continue;
      if (s.rampEpochs > 0 && epoch < s.rampEpochs && !(ctx.rng.random() < epoch / s.rampEpochs)) continue;
      if (per > 0 && !s.transform.mixesBatch) { run.push(s.transform); continue; }
      flush();
      b = s.transform.apply(b, ctx);
    }
    flush();
    return b;
  }
}
