// Detection MixUp as YOLOX does it (mmdet `MixUp`): a second sample is resized
// to fit imgScale keeping its ratio, pasted top-left on a padVal canvas of
// imgScale, scaled by a jitter factor uniform in ratioRange, flipped
// horizontally with probability flipRatio, padded to at least the first
// sample's size and cut at a random offset to it; then the two images are
// blended 0.5 / 0.5 and both box sets are kept (no label weights), each
// clipped to the image, boxes left with no area dropped. Masks are refused:
// a blend has no class mask to give. Defaults are mmdet's.
// Classification (samples with a `label` and no boxes; YOLOX mixes detection
// samples only): the blend keeps the first sample's label unless the partner's
// pixels (its fitted, jittered image, not the padding) cover at least half of
// the output, then it takes the partner's. Labels are passed on, not mixed
// (no soft targets: the partner often covers only a corner).
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import type { Rng } from '../../data/rng.js';
import { type Sample, checkSample, checkImgScale } from './types.js';
import { canvas, fitRatio, resizeImage } from './resize.js';
import { filterBoxes, flipBoxes } from '../batch/boxes.js';
import { arr, num, obj, oneOf, opt, range } from '../../util/schema.js';

export interface YoloxMixUpOptions {
  /** [H, W] the partner is fitted into before the jitter (mmdet img_scale (640, 640)). */
  imgScale: [number, number];
  /** Scale jitter of the partner, uniform in this range (0.5, 1.5). */
  ratioRange?: [number, number];
  /** Probability of flipping the partner horizontally (0.5). */
  flipRatio?: number;
  /** Canvas value in pixel units (114). */
  padVal?: number;
  /** Probability of a mix; otherwise the first sample passes through (1.0). */
  prob?: number;
  /** Boxes narrower or shorter than this after clipping are dropped (1 pixel). */
  minBoxSize?: number;
}

export class YoloxMixUp {
  readonly type = 'YoloxMixUp';
  readonly numSamples = 2;
  static readonly schema = obj({
    type: opt(oneOf('YoloxMixUp')), imgScale: opt(arr(num(1, 1e5, true), 2)), ratioRange: opt(range(num(1e-3))), flipRatio: opt(num(0, 1)),
    padVal: opt(num()), prob: opt(num(0, 1)), minBoxSize: opt(num(0)),
  });
  readonly opts: Required<YoloxMixUpOptions>;

  constructor(opts: YoloxMixUpOptions) {
    checkImgScale(opts?.imgScale, 'YoloxMixUp');
    this.opts = { ratioRange: [0.5, 1.5], flipRatio: 0.5, padVal: 114, prob: 1, minBoxSize: 1, ...opts };
  }

  /** [sample, partner] → the blend with both box sets (detection) or one of the two labels (classification). */
  apply(samples: Sample[], rng: Rng): Sample {
    if (samples.length !== 2) throw new TypeError(`YoloxMixUp: expected 2 samples, got ${samples.length}`);
    samples.forEach((s, i) => checkSample(s, `YoloxMixUp: sample ${i}`));
    const [a, b] = samples;
    if (a.mask || b.mask) throw new TypeError('YoloxMixUp: a 0.5/0.5 blend has no class mask to give; use Mosaic or CutMix for segmentation');
    if ((a.boxes === undefined) !== (b.boxes === undefined)) throw new TypeError('YoloxMixUp: both samples need boxes and boxLabels (detection), or neither (classification)');
    if (!(rng.random() < this.opts.prob)) return a;
    const [H, W] = this.opts.imgScale;
    const jit = rng.uniform(...this.opts.ratioRange);
    const flip = rng.uniform(0, 1) < this.opts.flipRatio;
    const c = a.image.shape[0];
    if (b.image.shape[0] !== c) throw new TypeError(`YoloxMixUp: the samples have ${c} and ${b.image.shape[0]} channels`);
    // 1–2: fit the partner into imgScale, top-left on a padVal canvas.
    const [, hb, wb] = b.image.shape;
    let ratio = fitRatio(hb, wb, H, W);
    const rh = Math.trunc(hb * ratio), rw = Math.trunc(wb * ratio);
    let out = canvas(c, H, W, this.opts.padVal);
    out.index(':', `0:${rh}`, `0:${rw}`).copy_(resizeImage(b.image, rh, rw));
    // 3: scale jitter of the whole canvas; 4: flip.
    ratio *= jit;
    const oh = Math.trunc(H * jit), ow = Math.trunc(W * jit);
    out = F.interpolate(out.unsqueeze(0), { size: [oh, ow], mode: 'bilinear' }).squeeze(0);
    if (flip) out = out.flip(2);
    // 5: pad to at least the first sample's size and cut a window of it at a random offset.
    const [, th, tw] = a.image.shape;
    const ph = Math.max(oh, th), pw = Math.max(ow, tw);
    const padded = canvas(c, ph, pw, this.opts.padVal);
    padded.index(':', `0:${oh}`, `0:${ow}`).copy_(out);
    const yo = ph > th ? rng.int(0, ph - th + 1) : 0;
    const xo = pw > tw ? rng.int(0, pw - tw + 1) : 0;
    const cut = padded.index(':', `${yo}:${yo + th}`, `${xo}:${xo + tw}`);
    // 8: the blend.
    const blend = a.image.float().mul(0.5).add(cut.mul(0.5));
    const image = a.image.dtype === 'uint8' ? blend.round().clamp(0, 255).to('uint8') : blend;
    if (!a.boxes || !b.boxes) {
      const out: Sample = { image };
      if (a.label !== undefined && b.label !== undefined) {
        // The partner's pixels: rh × rw of the H × W canvas scaled to oh × ow, at the left (the right once flipped), seen through the cut.
        const ch = (rh * oh) / H, cw = (rw * ow) / W;
        const x0 = flip ? ow - cw : 0;
        const iy = Math.max(0, Math.min(ch, yo + th) - yo), ix = Math.max(0, Math.min(x0 + cw, xo + tw) - Math.max(x0, xo));
        out.label = (iy * ix) / (th * tw) >= 0.5 ? b.label : a.label;
      }
      return out;
    }
    // 6–7: the partner's boxes follow: scale, clip to the jittered canvas, flip, translate, clip to the image; both box sets kept.
    let bb = b.boxes.mul(ratio);
    bb = clip(bb, oh, ow);
    if (flip) bb = flipBoxes(bb, oh, ow, true, false);
    bb = clip(bb.sub(torch.tensor([xo, yo, xo, yo], { dtype: 'float32' })), th, tw);
    const kept = filterBoxes(torch.cat([clip(a.boxes.float(), th, tw), bb], 0), torch.cat([a.boxLabels!, b.boxLabels!], 0), this.opts.minBoxSize);
    // A detection sample's `label` (the batch's placeholder slot) is the first sample's.
    return { image, boxes: kept.boxes, boxLabels: kept.labels, ...(a.label !== undefined ? { label: a.label } : {}) };
  }
}

function clip(b: ReturnType<typeof torch.zeros>, h: number, w: number) {
  const [x1, y1, x2, y2] = b.unbind(1);
  return torch.stack([x1.clamp(0, w), y1.clamp(0, h), x2.clamp(0, w), y2.clamp(0, h)], 1);
}
