// Multi-sample transforms as a dataset wrapper (mmdet MultiImageMixDataset):
// each transform that needs partners (Mosaic: 3, YoloxMixUp: 1; RandomAffine,
// YOLOX's warp after Mosaic, none) draws them
// uniformly from the whole source with the seeded generator; YoloxMixUp
// redraws a partner without boxes up to 15 times (mmdet max_iters; a source
// without boxes at all, classification, is never redrawn). Each step can be
// switched off for the last N epochs (YOLOX no_aug_epochs 15).
// One output is made in two phases: `gather` draws every partner index first
// (the only phase that loads, possibly async), then `mix` runs the transforms
// (synchronous, so a caller can run it inside one torch.scope). mmdet draws a
// step's partners just before that step; drawing them all first changes the
// order of the draws, not their distribution.
// `collate` stacks equal-sized samples into the batch format of src/augment/batch.
import * as torch from '../../torch/index.js';
import type { Rng } from '../../data/rng.js';
import type { ImageBatch } from '../batch/types.js';
import { fail, num, show, type Check } from '../../util/schema.js';
import { type Sample, type SampleSource, checkSample } from './types.js';
import { Mosaic, type MosaicOptions } from './mosaic.js';
import { YoloxMixUp, type YoloxMixUpOptions } from './yolox_mixup.js';
import { RandomAffine, type RandomAffineOptions } from './random_affine.js';

export type MixStepConfig =
  | ({ type: 'Mosaic'; offLastEpochs?: number } & MosaicOptions)
  | ({ type: 'YoloxMixUp'; offLastEpochs?: number } & YoloxMixUpOptions)
  | ({ type: 'RandomAffine'; offLastEpochs?: number } & RandomAffineOptions);

const SAMPLE_TRANSFORMS = { Mosaic, YoloxMixUp, RandomAffine } as const;

/** Checks one step of `augment.sample` with its transform's own schema; errors name the key (`augment.sample[0].imgScale: …`). */
export const sampleStepCheck: Check<MixStepConfig> = (v, p) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, `expected an object with a type, got ${show(v)}`);
  const { type, offLastEpochs, ...rest } = v as MixStepConfig;
  if (typeof type !== 'string' || !Object.hasOwn(SAMPLE_TRANSFORMS, type)) fail(`${p}.type`, `unknown transform ${show(type)} (expected one of ${Object.keys(SAMPLE_TRANSFORMS).join(', ')})`);
  const ctor = SAMPLE_TRANSFORMS[type];
  if (offLastEpochs !== undefined) num(0, 1e6, true)(offLastEpochs, `${p}.offLastEpochs`);
  ctor.schema(rest, p);
  if (type !== 'RandomAffine' && (rest as { imgScale?: unknown }).imgScale === undefined) fail(`${p}.imgScale`, 'missing ([H, W] in pixels)');
  try { new ctor(rest as never); } catch (e) { fail(p, (e as Error).message); }
};

/** Checks `augment.sample`: an array of Mosaic / YoloxMixUp / RandomAffine steps. */
export const sampleStepsCheck: Check<MixStepConfig[]> = (v, p) => {
  if (!Array.isArray(v)) fail(p, `expected an array of steps ({ type: 'Mosaic' | 'YoloxMixUp' | 'RandomAffine', ... }), got ${show(v)}`);
  (v as unknown[]).forEach((x, i) => sampleStepCheck(x, `${p}[${i}]`));
};

/** Whether a step with `offLastEpochs` runs in `epoch` (1-based) of `epochs`: off for the last offLastEpochs epochs. */
export function sampleStepOn(offLastEpochs: number | undefined, epoch: number, epochs: number): boolean {
  return epoch <= epochs - (offLastEpochs ?? 0);
}

type Step = { t: Mosaic | YoloxMixUp | RandomAffine; offLastEpochs: number };

export class MultiImageMixDataset {
  private readonly steps: Step[];
  constructor(readonly source: SampleSource, steps: MixStepConfig[], readonly opts: { epochs?: number; maxIters?: number } = {}) {
    if (!source || typeof source.getSample !== 'function' || !(source.length > 0)) throw new TypeError('MultiImageMixDataset: source must have a positive length and getSample(index)');
    if (!Array.isArray(steps)) throw new TypeError(`MultiImageMixDataset: steps must be an array, got ${show(steps)}`);
    this.steps = steps.map((c, i) => {
      sampleStepCheck(c, `MultiImageMixDataset: steps[${i}]`);
      const { type, offLastEpochs, ...rest } = c;
      return { t: new SAMPLE_TRANSFORMS[type](rest as never), offLastEpochs: offLastEpochs ?? 0 };
    });
  }

  get length(): number { return this.source.length; }

  /** The steps on in `epoch` (1-based); all of them when no epoch count was given. */
  active(epoch = 1): Step[] {
    const epochs = this.opts.epochs ?? Infinity;
    return this.steps.filter((s) => sampleStepOn(s.offLastEpochs, epoch, epochs));
  }

  /** Sample `index` of `epoch` (1-based) with the steps on in that epoch applied in order. */
  async getSample(index: number, rng: Rng, epoch = 1): Promise<Sample> {
    return this.mix(await this.gather(index, rng, epoch), rng, epoch);
  }

  /**
   * Phase 1 of an output: the source sample and, for each step on in `epoch`,
   * its partners, drawn uniformly with `rng` (all of them before any transform
   * draws). `load` replaces the source's getSample (a caller that tracks what it loads).
   */
  async gather(index: number, rng: Rng, epoch = 1, load: (i: number) => Sample | Promise<Sample> = (i) => this.source.getSample(i)): Promise<Sample[][]> {
    if (!Number.isInteger(index) || index < 0 || index >= this.source.length) throw new RangeError(`MultiImageMixDataset: index ${index} is not an integer in [0, ${this.source.length})`);
    const s = await load(index);
    checkSample(s, `MultiImageMixDataset: source sample ${index}`);
    const groups: Sample[][] = [[s]];
    const n = this.source.length, maxIters = this.opts.maxIters ?? 15;
    for (const { t } of this.active(epoch)) {
      const partners: Sample[] = [];
      for (let k = 1; k < t.numSamples; k++) {
        let p = await load(rng.int(0, n));
        if (t instanceof YoloxMixUp) {
          for (let tries = 1; tries < maxIters && p.boxes !== undefined && p.boxes.shape[0] === 0; tries++) p = await load(rng.int(0, n));
        }
        partners.push(p);
      }
      groups.push(partners);
    }
    return groups;
  }

  /** Phase 2 (synchronous): the steps on in `epoch` applied in order to what `gather` returned for that epoch, drawing from `rng`. */
  mix(groups: Sample[][], rng: Rng, epoch = 1): Sample {
    const steps = this.active(epoch);
    if (groups.length !== steps.length + 1) throw new TypeError(`MultiImageMixDataset.mix: expected the source sample and the partners of ${steps.length} step(s) (gather of the same epoch), got ${groups.length} group(s)`);
    let s = groups[0][0];
    steps.forEach(({ t }, k) => { s = t.apply([s, ...groups[k + 1]], rng); });
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
