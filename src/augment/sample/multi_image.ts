// Multi-sample transforms as a dataset wrapper (mmdet MultiImageMixDataset):
// each transform that needs partners (Mosaic: 3, YoloxMixUp: 1) draws them
// uniformly from the whole source with the seeded generator; YoloxMixUp
// redraws a partner without boxes up to 15 times (mmdet max_iters). Each step
// can be switched off for the last N epochs (YOLOX no_aug_epochs 15).
// `collate` stacks equal-sized samples into the batch format of src/augment/batch.
import * as torch from '../../torch/index.js';
import type { Rng } from '../../data/rng.js';
import type { ImageBatch } from '../batch/types.js';
import { type Sample, type SampleSource, checkSample } from './types.js';
import { Mosaic, type MosaicOptions } from './mosaic.js';
import { YoloxMixUp, type YoloxMixUpOptions } from './yolox_mixup.js';

export type MixStepConfig =
  | ({ type: 'Mosaic'; offLastEpochs?: number } & MosaicOptions)
  | ({ type: 'YoloxMixUp'; offLastEpochs?: number } & YoloxMixUpOptions);

type Step = { t: Mosaic | YoloxMixUp; offLastEpochs: number };

export class MultiImageMixDataset {
  private readonly steps: Step[];
  constructor(readonly source: SampleSource, steps: MixStepConfig[], readonly opts: { epochs?: number; maxIters?: number } = {}) {
    if (!source || typeof source.getSample !== 'function' || !(source.length > 0)) throw new TypeError('MultiImageMixDataset: source must have a positive length and getSample(index)');
    this.steps = steps.map((c, i) => {
      const { type, offLastEpochs, ...rest } = c;
      const ctor = type === 'Mosaic' ? Mosaic : type === 'YoloxMixUp' ? YoloxMixUp : null;
      if (!ctor) throw new TypeError(`MultiImageMixDataset: steps[${i}].type: unknown transform ${JSON.stringify(type)} (expected one of Mosaic, YoloxMixUp)`);
      ctor.schema(rest, `steps[${i}]`);
      return { t: new ctor(rest as any), offLastEpochs: offLastEpochs ?? 0 };
    });
  }

  get length(): number { return this.source.length; }

  /** Sample `index` of `epoch` (1-based) with the steps on in that epoch applied in order. */
  async getSample(index: number, rng: Rng, epoch = 1): Promise<Sample> {
    if (!Number.isInteger(index) || index < 0 || index >= this.source.length) throw new RangeError(`MultiImageMixDataset: index ${index} is not an integer in [0, ${this.source.length})`);
    let s = await this.source.getSample(index);
    checkSample(s, `MultiImageMixDataset: source sample ${index}`);
    const epochs = this.opts.epochs ?? Infinity;
    for (const { t, offLastEpochs } of this.steps) {
      if (epoch > epochs - offLastEpochs) continue;
      const partners: Sample[] = [];
      for (let k = 1; k < t.numSamples; k++) {
        let p = await this.source.getSample(rng.int(0, this.source.length));
        if (t instanceof YoloxMixUp) {
          for (let tries = 1; tries < (this.opts.maxIters ?? 15) && (!p.boxes || p.boxes.shape[0] === 0); tries++) p = await this.source.getSample(rng.int(0, this.source.length));
        }
        partners.push(p);
      }
      s = t.apply([s, ...partners], rng);
    }
    return s;
  }

  async getSamples(indices: number[], rng: Rng, epoch = 1): Promise<Sample[]> {
    const out: Sample[] = [];
    for (const i of indices) out.push(await this.getSample(i, rng, epoch));
    return out;
  }
}

/** Stacks equal-sized samples into a batch (images float, pixel units); masks stacked, boxes kept per image. */
export function collate(samples: Sample[]): ImageBatch {
  if (samples.length === 0) throw new TypeError('collate: no samples');
  const [c, h, w] = samples[0].image.shape;
  samples.forEach((s, i) => {
    checkSample(s, `collate: sample ${i}`);
    const [ci, hi, wi] = s.image.shape;
    if (ci !== c || hi !== h || wi !== w) throw new TypeError(`collate: sample ${i} is ${ci}×${hi}×${wi}, sample 0 is ${c}×${h}×${w}; resize or crop to one size first`);
  });
  const b: ImageBatch = { images: torch.stack(samples.map((s) => s.image.float()), 0) };
  if (samples.every((s) => s.label !== undefined)) b.labels = torch.tensor(samples.map((s) => s.label!)).long();
  if (samples.every((s) => s.mask)) b.masks = torch.stack(samples.map((s) => s.mask!), 0);
  if (samples.every((s) => s.boxes)) { b.boxes = samples.map((s) => s.boxes!.float()); b.boxLabels = samples.map((s) => s.boxLabels!); }
  return b;
}
