// Mosaic and YOLOX MixUp from a config (`augment.sample`): a training Dataset
// wrapped so each of its samples goes through the multi-sample steps before
// batching — mmdet's MultiImageMixDataset over the training set, with YOLOX's
// no-augmentation tail (each step's `offLastEpochs`).
//
// The wrapped dataset hands out batches; the wrapper asks it for one sample at
// a time (getBatch([i]) → image [C,H,W] and its label row), runs the steps of
// the current epoch (./multi_image.ts: partners drawn first, then the
// transforms) and stacks the outputs back into a Batch of the wrapped
// dataset's dtype (uint8 rounded, or its float type, in pixel units) and size:
// an output of another size is resized back bilinearly to the source sample's
// size, or to `outSize`, boxes and masks moved with it (./resize.ts
// resizeSampleTo). Mosaic's 2H × 2W canvas followed by RandomAffine with
// `border: [-H/2, -W/2]` (YOLOX) is already H × W: when that is the dataset's
// size, nothing is resized a second time.
//
// Masks (segmentation: Batch.masks int64 [N,H,W], 255 = ignore; mmseg's
// RandomMosaic): each sample's mask [H,W] travels with its pixels (Mosaic's
// canvas outside the tiles is 255, mmseg's seg_pad_val), is resized back by
// nearest neighbour and stacked back into int64 `masks` [N,H,W]; the placeholder
// labels pass through by the rule below. YoloxMixUp (a detection transform: a
// 0.5/0.5 blend has no class mask) is refused on a dataset with masks.
//
// Boxes (detection: Batch.boxes / boxLabels, one [M,4] xyxy / [M] pair per
// image; mmdet's MultiImageMixDataset): each sample's boxes move, are clipped
// and filtered with its pixels (the steps' own rules) and come back as the
// output batch's boxes / boxLabels. Boxes the wrapped batch marks `ignore`
// (crowd, difficult) are left out, as a Sample has no such flag.
//
// Labels: every source sample of an output gets a slot number as its `label`;
// the transforms pass one input's label on (Mosaic: the sample covering the
// largest part of the canvas; YoloxMixUp: the first sample unless the partner
// covers at least half of the output — see mosaic.ts and yolox_mixup.ts), and
// the output's label is that sample's label row as the wrapped dataset gave
// it (a class index, or a soft target row).
//
// Determinism: output i of epoch e draws from its own generator,
// Rng(Rng.derive(seed, SAMPLE_STREAM, e, i)), so a sample does not depend on
// which batch it is in, on prefetching, or on the samples before it; a resumed
// run (which calls setEpoch on the resumed epoch) sees exactly the samples of
// an uninterrupted one. In an epoch where every step is off the wrapped
// dataset's batch is returned as it is.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { Rng } from '../../data/rng.js';
import { type Batch, type Dataset, checkIndices } from '../../data/dataset.js';
import type { Sample } from './types.js';
import { MultiImageMixDataset, sampleStepOn, sampleStepsCheck, type MixStepConfig } from './multi_image.js';
import { resizeSampleTo } from './resize.js';

export { sampleStepsCheck, sampleStepOn, type MixStepConfig };

/** The Rng.derive stream tag of the per-sample generators ('mix'), apart from the loader's (seed, epoch) and the trainer's streams. */
export const SAMPLE_STREAM = 0x6d6978;

/** The generator of output `index` in `epoch`: a function of (seed, epoch, index) alone. */
export function sampleRng(seed: number, epoch: number, index: number): Rng {
  return new Rng(Rng.derive(seed, SAMPLE_STREAM, epoch, index));
}

export interface SampleMixOptions {
  /** The run's seed. */
  seed: number;
  /** The run's epochs (offLastEpochs counts back from the last). */
  epochs: number;
  /** [H, W] of every output; default: each source sample's own size (the wrapped dataset's). */
  outSize?: [number, number];
}

export class SampleMixDataset implements Dataset {
  readonly dataset: Dataset;
  readonly steps: readonly MixStepConfig[];
  readonly mixer: MultiImageMixDataset;
  readonly seed: number;
  readonly epochs: number;
  readonly outSize: [number, number] | null;
  /** The epoch (1-based) the next getBatch calls belong to (setEpoch; 1 until set). */
  epoch = 1;

  constructor(dataset: Dataset, steps: MixStepConfig[], opts: SampleMixOptions) {
    if (dataset === null || typeof dataset !== 'object' || typeof dataset.getBatch !== 'function') throw new TypeError('SampleMixDataset: expected a Dataset');
    if (!(dataset.length > 0)) throw new RangeError('SampleMixDataset: the dataset is empty; Mosaic and MixUp need samples to draw partners from');
    sampleStepsCheck(steps, 'augment.sample');
    const { seed, epochs, outSize } = opts ?? ({} as SampleMixOptions);
    if (!Number.isSafeInteger(seed)) throw new TypeError(`SampleMixDataset: seed must be an integer, got ${String(seed)}`);
    if (!(Number.isInteger(epochs) && epochs >= 1)) throw new RangeError(`SampleMixDataset: epochs must be a positive integer, got ${String(epochs)}`);
    if (outSize !== undefined && !(Array.isArray(outSize) && outSize.length === 2 && outSize.every((x) => Number.isInteger(x) && x > 0))) {
      throw new TypeError(`SampleMixDataset: outSize must be [H, W] in pixels, got ${JSON.stringify(outSize)}`);
    }
    this.dataset = dataset;
    this.steps = Object.freeze(steps.map((s) => ({ ...s })));
    this.seed = seed;
    this.epochs = epochs;
    this.outSize = outSize ? [outSize[0], outSize[1]] : null;
    // The mixer's own source is never read: getBatch passes a loader that tracks what it loads.
    const source = { length: dataset.length, getSample: (): Sample => { throw new Error('SampleMixDataset: samples are loaded through getBatch'); } };
    this.mixer = new MultiImageMixDataset(source, steps, { epochs });
  }

  get length(): number { return this.dataset.length; }
  get classes(): string[] { return this.dataset.classes; }
  /** The wrapped dataset's (the nominal labels; a mixed sample takes one of its sources' labels). */
  get targets(): ArrayLike<number> | undefined { return this.dataset.targets; }
  classCounts(): number[] { return this.dataset.classCounts(); }

  /** The steps on in `epoch`. */
  stepsOn(epoch: number): MixStepConfig[] {
    return this.steps.filter((s) => sampleStepOn(s.offLastEpochs, epoch, this.epochs));
  }

  setEpoch(epoch: number): void {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`SampleMixDataset.setEpoch: epoch must be a non-negative integer, got ${String(epoch)}`);
    this.epoch = epoch;
    this.dataset.setEpoch?.(epoch);
  }

  getBatch(indices: number[]): Batch | Promise<Batch> {
    checkIndices(indices, this.length, 'SampleMixDataset');
    // Read now: a batch fetched ahead keeps the epoch it was asked in.
    const epoch = this.epoch;
    if (indices.length === 0 || (this.outSize === null && this.mixer.active(epoch).length === 0)) return this.dataset.getBatch(indices);
    return this.mixBatch(indices.slice(), epoch);
  }

  private async mixBatch(indices: number[], epoch: number): Promise<Batch> {
    // Everything loaded (made outside any scope) is freed here; the outputs are made in one scope.
    const owned: Tensor[] = [];
    try {
      const settled = await Promise.allSettled(indices.map(async (i) => {
        const rng = sampleRng(this.seed, epoch, i);
        const rows: Tensor[] = [];
        const load = async (j: number): Promise<Sample> => {
          const b = await this.dataset.getBatch([j]);
          owned.push(b.images, b.labels);
          if (b.masks) owned.push(b.masks);
          if (b.images?.ndim !== 4 || b.images.shape[0] !== 1 || b.labels?.shape[0] !== 1) {
            throw new TypeError(`SampleMixDataset: getBatch([${j}]) of the wrapped dataset gave images [${b.images?.shape}] and labels [${b.labels?.shape}]; expected one image [1,C,H,W] and one label`);
          }
          const image = b.images.squeeze(0);
          owned.push(image);
          rows.push(b.labels);
          if (b.boxes || b.boxLabels) return { image, label: rows.length - 1, ...boxesOfBatch(b, j, owned) };
          if (!b.masks) return { image, label: rows.length - 1 };
          const mixUp = this.steps.find((s) => s.type === 'YoloxMixUp');
          if (mixUp) throw new TypeError('SampleMixDataset: the wrapped dataset gives masks (segmentation) and augment.sample has YoloxMixUp, a detection transform whose 0.5/0.5 blend has no class mask to give; use Mosaic (or CutMix in augment.train) for segmentation');
          if (b.masks.ndim !== 3 || b.masks.shape[0] !== 1 || b.masks.shape[1] !== image.shape[1] || b.masks.shape[2] !== image.shape[2]) {
            throw new TypeError(`SampleMixDataset: getBatch([${j}]) of the wrapped dataset gave masks [${b.masks.shape}] for images [${b.images.shape}]; expected [1,H,W]`);
          }
          const squeezed = b.masks.squeeze(0);
          owned.push(squeezed);
          const mask = squeezed.dtype === 'int64' ? squeezed : squeezed.long();
          if (mask !== squeezed) owned.push(mask);
          return { image, mask, label: rows.length - 1 };
        };
        return { rng, rows, groups: await this.mixer.gather(i, rng, epoch, load) };
      }));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      const plans = settled.map((s) => (s as PromiseFulfilledResult<{ rng: Rng; rows: Tensor[]; groups: Sample[][] }>).value);
      return torch.scope(() => {
        const images: Tensor[] = [], labels: Tensor[] = [], masks: Tensor[] = [], boxes: Tensor[] = [], boxLabels: Tensor[] = [];
        for (const p of plans) {
          const base = p.groups[0][0].image;
          const [h, w] = this.outSize ?? [base.shape[1], base.shape[2]];
          const s = resizeSampleTo(this.mixer.mix(p.groups, p.rng, epoch), h, w);
          if (s.label === undefined || p.rows[s.label] === undefined) throw new Error('SampleMixDataset: a step lost the label of its output');
          images.push(asDtype(s.image, base.dtype));
          if (p.groups[0][0].mask) {
            if (!s.mask) throw new Error('SampleMixDataset: a step lost the mask of its output');
            masks.push(s.mask.long());
          }
          labels.push(p.rows[s.label]);
          if (p.groups[0][0].boxes) {
            if (!s.boxes || !s.boxLabels) throw new Error('SampleMixDataset: a step lost the boxes of its output');
            // Copies: a step may pass a loaded sample's boxes through unchanged (Mosaic or MixUp skipped by `prob`,
            // RandomAffine on an image without boxes), and what was loaded is freed below.
            boxes.push(s.boxes.clone());
            boxLabels.push(s.boxLabels.clone());
          }
        }
        const device = plans[0].groups[0][0].image.device;
        let x = torch.stack(images, 0);
        if (x.device !== device) x = x.to(device);
        const out: Batch = { images: x, labels: torch.cat(labels, 0), indices };
        if (masks.length > 0) {
          if (masks.length !== images.length) throw new TypeError('SampleMixDataset: some samples of the batch have masks and some do not');
          let m = torch.stack(masks, 0);
          if (m.device !== device) m = m.to(device);
          out.masks = m;
        }
        if (boxes.length > 0) {
          if (boxes.length !== images.length) throw new TypeError('SampleMixDataset: some samples of the batch have boxes and some do not');
          out.boxes = boxes;
          out.boxLabels = boxLabels;
        }
        return out;
      });
    } finally {
      torch.dispose(owned);
    }
  }
}

/** The one image's boxes and labels of a getBatch([j]), without the boxes marked `ignore`. */
function boxesOfBatch(b: Batch & { ignore?: Tensor[] }, j: number, owned: Tensor[]): { boxes: Tensor; boxLabels: Tensor } {
  const { boxes, boxLabels, ignore } = b;
  if (!boxes || !boxLabels || boxes.length !== 1 || boxLabels.length !== 1) {
    throw new TypeError(`SampleMixDataset: getBatch([${j}]) of the wrapped dataset gave ${boxes?.length ?? 'no'} box sets and ${boxLabels?.length ?? 'no'} label sets; expected one of each`);
  }
  owned.push(boxes[0], boxLabels[0], ...(ignore ?? []), ...((b as { area?: Tensor[] }).area ?? []));
  const any = ignore?.[0] ? torch.scope(() => ignore[0].any().item()) : false;
  if (!any) return { boxes: boxes[0], boxLabels: boxLabels[0] };
  const kept = torch.scope(() => {
    const keep = ignore![0].logicalNot().nonzero().reshape(-1);
    return { boxes: boxes[0].indexSelect(0, keep), boxLabels: boxLabels[0].indexSelect(0, keep) };
  });
  owned.push(kept.boxes, kept.boxLabels);
  return kept;
}

/** An image in pixel units as the wrapped dataset's dtype: uint8 rounded and clamped to 0–255, floats cast. */
function asDtype(x: Tensor, dtype: string): Tensor {
  if (x.dtype === dtype) return x;
  if (dtype === 'uint8') return x.round().clamp(0, 255).to('uint8');
  return x.to(dtype);
}

/**
 * `ds` with the sample steps applied (a SampleMixDataset), or `ds` itself when
 * there are none — so a config without `augment.sample` trains on exactly the
 * dataset it had.
 */
export function wrapWithSampleSteps(ds: Dataset, steps: MixStepConfig[] | undefined, opts: SampleMixOptions): Dataset {
  if (steps === undefined || (Array.isArray(steps) && steps.length === 0)) return ds;
  return new SampleMixDataset(ds, steps, opts);
}
