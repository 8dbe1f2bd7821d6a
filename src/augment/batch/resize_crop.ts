// mmseg's training crop — `RandomResize` then `RandomCrop` (mmseg 1.x configs:
//   dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
//   dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75))
// — as one batch transform, since a batch cannot hold images rescaled by
// different ratios. Per image: r ~ U(ratioRange) scales `scale` (mmcv
// RandomResize._random_sample_ratio: int(s·r)); the image is rescaled to fit
// it keeping its aspect ratio (mmcv imrescale: factor min(long/long,
// short/short), sides int(x·f + 0.5)) or stretched to it; then a cropSize
// window at a uniform offset in [0, max(resized − crop, 0)] (mmseg
// RandomCrop.crop_bbox). With catMaxRatio < 1, up to 10 windows are checked in
// turn and the first whose most frequent class (255 not counted) covers less
// than catMaxRatio of its labelled pixels, with at least two classes, is
// taken; if none is, an 11th window, unchecked (mmseg draws a new box after
// each failed check). What lies outside the resized image is padded bottom and
// right (images `fill`, masks 255: mmseg's Pad / SegDataPreProcessor to the
// crop size). One resampling per image window (warp.ts): bilinear images,
// nearest masks, boxes moved. The check runs on all candidates at once: their
// masks sampled in one grid_sample, class counts by scatter_add.
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Rng } from '../../data/rng.js';
import { type AugmentContext, type BatchTransform, type ImageBatch, drawCount, shardRows } from './types.js';
import { IGNORE_INDEX } from '../../data/sample.js';
import { type Windows, sampleMasks, warpWindows, windowTheta } from './warp.js';
import { checkBoxes } from './boxes.js';
import { anyOf, arr, bool, num, obj, oneOf, opt, range, req } from '../../util/schema.js';

type Size = number | [number, number];
const sizeCheck = anyOf(num(1, 1e5, true), arr(num(1, 1e5, true), 2));
const hw = (s: Size): [number, number] => (typeof s === 'number' ? [s, s] : s);
/** mmseg RandomCrop's tries before the unchecked last window. */
const TRIES = 10;

export interface RandomResizeCropOptions {
  /** Crop [H, W] or one side (mmseg crop_size); the output size. */
  cropSize: Size;
  /** The size r scales, [H, W] or one side (mmseg `scale`; default: the batch's image size). */
  scale?: Size;
  /** r ~ U(lo, hi) per image (mmseg 0.5–2.0). */
  ratioRange?: [number, number];
  /** Fit inside scale·r keeping the aspect ratio (mmseg configs: true) or stretch to it. */
  keepRatio?: boolean;
  /** The most frequent class's largest share of a crop's labelled pixels (mmseg configs 0.75; 1 = no check). */
  catMaxRatio?: number;
  /** Padding in 0–1 pixel units, one or per channel (mmseg pad_val 0). */
  fill?: number | number[];
  interpolation?: 'bilinear' | 'nearest';
  minBoxSize?: number;
}

/** Per image the resized size, from r and the scale (mmcv RandomResize + Resize / imrescale). */
export function resizedSize(h: number, w: number, scale: [number, number], r: number, keepRatio: boolean): [number, number] {
  const [th, tw] = [Math.trunc(scale[0] * r), Math.trunc(scale[1] * r)];
  if (!keepRatio) return [th, tw];
  const f = Math.min(Math.max(th, tw) / Math.max(h, w), Math.min(th, tw) / Math.min(h, w));
  return [Math.trunc(h * f + 0.5), Math.trunc(w * f + 0.5)];
}

/**
 * mmseg's cat_max_ratio rule on candidate crops' masks [N, T, P] (labels 0–255): per image, the index of the first
 * candidate with at least two classes (255 not counted) whose most frequent one covers less than `ratio` of their
 * pixels, or T when none does (mmseg then takes the next window, unchecked).
 */
export function pickCandidates(masks: Tensor, ratio: number): Int32Array {
  const [n, t, p] = masks.shape;
  const labels = masks.reshape(n * t, p).clamp(0, IGNORE_INDEX);
  const counts = torch.zeros([n * t, IGNORE_INDEX + 1], { dtype: 'int64' })
    .scatterAdd(1, labels, torch.ones([1, 1], { dtype: 'int64' }).expand([n * t, p]))
    .narrow(1, 0, IGNORE_INDEX).double();
  const ok = counts.gt(0).sum(1).gt(1).logicalAnd(counts.amax(1).div(counts.sum(1)).lt(ratio));
  const flags = ok.toArray() as boolean[];
  const pick = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let k = 0;
    while (k < t && !flags[i * t + k]) k++;
    pick[i] = k;
  }
  return pick;
}

export class RandomResizeCrop implements BatchTransform {
  readonly type = 'RandomResizeCrop';
  static readonly schema = obj({
    type: opt(oneOf('RandomResizeCrop')), cropSize: req(sizeCheck), scale: opt(sizeCheck), ratioRange: opt(range(num(1e-3, 1e3))),
    keepRatio: opt(bool), catMaxRatio: opt(num(0, 1)), fill: opt(anyOf(num(), arr(num()))),
    interpolation: opt(oneOf('bilinear', 'nearest')), minBoxSize: opt(num(0)),
  });
  readonly opts: Required<Omit<RandomResizeCropOptions, 'scale' | 'fill' | 'interpolation' | 'minBoxSize'>> & RandomResizeCropOptions;
  constructor(opts: RandomResizeCropOptions) {
    if (!opts || opts.cropSize === undefined) throw new TypeError('RandomResizeCrop: cropSize is required ([H, W] or one side)');
    this.opts = { ...opts, ratioRange: opts.ratioRange ?? [0.5, 2], keepRatio: opts.keepRatio ?? true, catMaxRatio: opts.catMaxRatio ?? 0.75 };
    const [lo, hi] = this.opts.ratioRange;
    if (!(lo > 0 && lo <= hi)) throw new RangeError(`RandomResizeCrop: ratioRange must be [lo, hi] with 0 < lo <= hi, got ${JSON.stringify(this.opts.ratioRange)}`);
    if (!(this.opts.catMaxRatio > 0 && this.opts.catMaxRatio <= 1)) throw new RangeError(`RandomResizeCrop: catMaxRatio must be in (0, 1], got ${this.opts.catMaxRatio}`);
  }

  /** Per image: the resized size and the crop windows (T+1 when the ratio is checked, else 1), in the input's pixels. */
  private draw(n: number, h: number, w: number, tries: number, rng: Rng): Windows[] {
    const [ch, cw] = hw(this.opts.cropSize);
    const scale = this.opts.scale === undefined ? [h, w] as [number, number] : hw(this.opts.scale);
    const wins: Windows[] = Array.from({ length: tries }, () => ({ x0: new Float64Array(n), y0: new Float64Array(n), w: new Float64Array(n), h: new Float64Array(n) }));
    for (let i = 0; i < n; i++) {
      const [nh, nw] = resizedSize(h, w, scale, rng.uniform(this.opts.ratioRange[0], this.opts.ratioRange[1]), this.opts.keepRatio);
      if (nh < 1 || nw < 1) throw new RangeError(`RandomResizeCrop: scale × ratio gives an empty image (${nh}×${nw}) for ${h}×${w}`);
      // A window of the resized image [top, top+ch) × [left, left+cw) is [top·h/nh, (top+ch)·h/nh) … of the input.
      const sy = h / nh, sx = w / nw;
      for (const win of wins) {
        const top = rng.int(0, Math.max(nh - ch, 0) + 1), left = rng.int(0, Math.max(nw - cw, 0) + 1);
        win.y0[i] = top * sy; win.x0[i] = left * sx; win.h[i] = ch * sy; win.w[i] = cw * sx;
      }
    }
    return wins;
  }

  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const [n, c, h, w] = b.images.shape;
    checkBoxes(b.boxes, b.boxLabels, n, 'RandomResizeCrop');
    const [ch, cw] = hw(this.opts.cropSize);
    const check = !!b.masks && this.opts.catMaxRatio < 1;
    const wins = this.draw(drawCount(ctx, n), h, w, check ? TRIES + 1 : 1, ctx.rng).map((x) => shardRows(ctx, x));
    let win = wins[0];
    if (check) {
      // Each image's T candidate grids stacked along the height: one nearest sampling of the masks for all.
      const cand = wins.slice(0, TRIES);
      const theta = torch.stack(cand.map((wi) => windowTheta(wi, h, w)), 1).reshape(n * TRIES, 2, 3);
      const grid = F.affineGrid(theta, [n * TRIES, c, ch, cw], false).reshape(n, TRIES * ch, cw, 2);
      const pick = pickCandidates(sampleMasks(b.masks!, grid).reshape(n, TRIES, ch * cw), this.opts.catMaxRatio);
      const at = (k: 'x0' | 'y0' | 'w' | 'h') => Float64Array.from(pick, (kk, i) => wins[kk][k][i]);
      win = { x0: at('x0'), y0: at('y0'), w: at('w'), h: at('h') };
    }
    return warpWindows(b, win, ch, cw, ctx, { fill: this.opts.fill, mode: this.opts.interpolation, minBoxSize: this.opts.minBoxSize });
  }
}
