// Mosaic (YOLOv4; mmdet `Mosaic`, which carries masks since 3.x, and mmseg
// `RandomMosaic`): four samples on a canvas of 2 × imgScale around a random
// centre. Each sample is resized to fit imgScale keeping its aspect ratio, then
// placed top-left / top-right / bottom-left / bottom-right of the centre and cut
// where it overflows the canvas. Boxes are scaled and translated with their
// pixels, clipped to the canvas and dropped when nothing of them is left
// (`minBoxSize`), masks travel with their pixels (the canvas outside the tiles
// is 255 = ignore). Defaults are mmdet's: centre ratio (0.5, 1.5), pad 114.
// Classification (samples with a `label`): mmdet uses Mosaic for detection,
// where every box carries its own label and the image has none; an image
// label needs a rule, and here the mosaic takes the label of the sample whose
// tile covers the largest part of the canvas (ties: the earlier sample, so the
// anchor wins a centred mosaic). Labels are only passed on, never combined.
import * as torch from '../../torch/index.js';
import type { Rng } from '../../data/rng.js';
import { type Sample, checkSample, checkImgScale } from './types.js';
import { canvas, fitRatio, rescaleSample } from './resize.js';
import { filterBoxes } from '../batch/boxes.js';
import { IGNORE_INDEX } from '../../data/sample.js';
import { num, obj, oneOf, opt, range, arr } from '../../util/schema.js';

export interface MosaicOptions {
  /** [H, W] of one tile's fitting box; the output is 2H × 2W (mmdet img_scale, which is (w, h): here [H, W]). */
  imgScale: [number, number];
  /** The centre as a share of imgScale, uniform in this range (0.5, 1.5). */
  centerRatioRange?: [number, number];
  /** Canvas value outside the tiles, in pixel units (114). */
  padVal?: number;
  /** Probability of a mosaic; otherwise the first sample passes through (1.0). */
  prob?: number;
  /** Boxes narrower or shorter than this after clipping are dropped (1 pixel). */
  minBoxSize?: number;
}

export class Mosaic {
  readonly type = 'Mosaic';
  /** How many samples one output draws on. */
  readonly numSamples = 4;
  static readonly schema = obj({
    type: opt(oneOf('Mosaic')), imgScale: opt(arr(num(1, 1e5, true), 2)), centerRatioRange: opt(range(num(0))), padVal: opt(num()),
    prob: opt(num(0, 1)), minBoxSize: opt(num(0)),
  });
  readonly opts: Required<MosaicOptions>;

  constructor(opts: MosaicOptions) {
    checkImgScale(opts?.imgScale, 'Mosaic');
    this.opts = { centerRatioRange: [0.5, 1.5], padVal: 114, prob: 1, minBoxSize: 1, ...opts };
    const [lo, hi] = this.opts.centerRatioRange;
    if (!(lo >= 0 && lo <= hi && hi <= 2)) throw new RangeError(`Mosaic: centerRatioRange must be [lo, hi] within [0, 2], got ${JSON.stringify(this.opts.centerRatioRange)}`);
  }

  /** Four samples (the first is the anchor) → one mosaic sample. */
  apply(samples: Sample[], rng: Rng): Sample {
    if (samples.length !== 4) throw new TypeError(`Mosaic: expected 4 samples, got ${samples.length}`);
    samples.forEach((s, i) => checkSample(s, `Mosaic: sample ${i}`));
    if (!(rng.random() < this.opts.prob)) return samples[0];
    const [H, W] = this.opts.imgScale;
    const c = samples[0].image.shape[0];
    if (samples.some((s) => s.image.shape[0] !== c)) throw new TypeError('Mosaic: the four samples must have the same number of channels');
    const hasMask = samples[0].mask !== undefined, hasBoxes = samples[0].boxes !== undefined;
    if (samples.some((s) => (s.mask !== undefined) !== hasMask || (s.boxes !== undefined) !== hasBoxes)) throw new TypeError('Mosaic: the four samples must carry the same fields (masks, boxes)');
    const cx = Math.trunc(rng.uniform(...this.opts.centerRatioRange) * W);
    const cy = Math.trunc(rng.uniform(...this.opts.centerRatioRange) * H);
    const img = canvas(c, 2 * H, 2 * W, this.opts.padVal);
    const mask = hasMask ? torch.full([2 * H, 2 * W], IGNORE_INDEX, { dtype: 'int64' }) : undefined;
    const boxes: ReturnType<typeof torch.zeros>[] = [], labels: ReturnType<typeof torch.zeros>[] = [];
    const areas: number[] = [];
    samples.forEach((s0, k) => {
      const [, h0, w0] = s0.image.shape;
      const ratio = fitRatio(h0, w0, H, W);
      const s = rescaleSample(s0, ratio);
      const [, h, w] = s.image.shape;
      // mmdet Mosaic._mosaic_combine: where the tile goes (paste) and which part of it (crop).
      let p: number[], q: number[];
      if (k === 0) { p = [Math.max(cx - w, 0), Math.max(cy - h, 0), cx, cy]; q = [w - (p[2] - p[0]), h - (p[3] - p[1]), w, h]; }
      else if (k === 1) { p = [cx, Math.max(cy - h, 0), Math.min(cx + w, 2 * W), cy]; q = [0, h - (p[3] - p[1]), Math.min(w, p[2] - p[0]), h]; }
      else if (k === 2) { p = [Math.max(cx - w, 0), cy, cx, Math.min(2 * H, cy + h)]; q = [w - (p[2] - p[0]), 0, w, Math.min(p[3] - p[1], h)]; }
      else { p = [cx, cy, Math.min(cx + w, 2 * W), Math.min(2 * H, cy + h)]; q = [0, 0, Math.min(w, p[2] - p[0]), Math.min(p[3] - p[1], h)]; }
      areas.push(Math.max(0, p[2] - p[0]) * Math.max(0, p[3] - p[1]));
      if (p[2] > p[0] && p[3] > p[1]) {
        img.index(':', `${p[1]}:${p[3]}`, `${p[0]}:${p[2]}`).copy_(s.image.index(':', `${q[1]}:${q[3]}`, `${q[0]}:${q[2]}`));
        if (mask) mask.index(`${p[1]}:${p[3]}`, `${p[0]}:${p[2]}`).copy_(s.mask!.index(`${q[1]}:${q[3]}`, `${q[0]}:${q[2]}`));
      }
      if (hasBoxes) {
        const dx = p[0] - q[0], dy = p[1] - q[1];
        boxes.push(s.boxes!.add(torch.tensor([dx, dy, dx, dy], { dtype: 'float32' })));
        labels.push(s.boxLabels!);
      }
    });
    const out: Sample = { image: samples[0].image.dtype === 'uint8' ? img.round().clamp(0, 255).to('uint8') : img };
    if (mask) out.mask = mask;
    if (samples.every((s) => s.label !== undefined)) out.label = samples[largest(areas)].label;
    if (hasBoxes) {
      const b = torch.cat(boxes, 0);
      const [x1, y1, x2, y2] = b.unbind(1);
      const clipped = torch.stack([x1.clamp(0, 2 * W), y1.clamp(0, 2 * H), x2.clamp(0, 2 * W), y2.clamp(0, 2 * H)], 1);
      const kept = filterBoxes(clipped, torch.cat(labels, 0), this.opts.minBoxSize);
      out.boxes = kept.boxes; out.boxLabels = kept.labels;
    }
    return out;
  }
}

/** The index of the first largest value. */
export function largest(xs: number[]): number {
  let k = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[k]) k = i;
  return k;
}
