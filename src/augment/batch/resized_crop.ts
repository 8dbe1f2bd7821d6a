// RandomResizedCrop and Resize on a whole batch through one affine resampling
// (warp.ts). RandomResizedCrop follows torchvision's get_params: area share
// uniform in `scale` (0.08, 1), aspect ratio w/h log-uniform in `ratio` (3/4,
// 4/3), 10 tries, then the central crop within the ratio range; bilinear.
// Resize scales to `size`; with keepRatio the image fits inside and the rest
// (bottom and right, as mmdet's Resize then Pad) is `fill`, masks 255.
import { type AugmentContext, type BatchTransform, type ImageBatch, drawCount, shardRows } from './types.js';
import type { Rng } from '../../data/rng.js';
import { type Windows, warpWindows } from './warp.js';
import { checkBoxes } from './boxes.js';
import { anyOf, arr, bool, num, obj, oneOf, opt, range } from '../../util/schema.js';

type Size = number | [number, number];
const sizeCheck = anyOf(num(1, 1e5, true), arr(num(1, 1e5, true), 2));
const hw = (s: Size): [number, number] => (typeof s === 'number' ? [s, s] : s);

/** torchvision RandomResizedCrop.get_params for one h×w image: [top, left, height, width]. */
export function resizedCropParams(h: number, w: number, scale: [number, number], ratio: [number, number], rng: Rng): [number, number, number, number] {
  const area = h * w;
  const logR = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let k = 0; k < 10; k++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logR[0], logR[1]));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) return [rng.int(0, h - ch + 1), rng.int(0, w - cw + 1), ch, cw];
  }
  const inRatio = w / h;
  let cw: number, ch: number;
  if (inRatio < Math.min(...ratio)) { cw = w; ch = Math.round(cw / Math.min(...ratio)); }
  else if (inRatio > Math.max(...ratio)) { ch = h; cw = Math.round(ch * Math.max(...ratio)); }
  else { cw = w; ch = h; }
  return [Math.trunc((h - ch) / 2), Math.trunc((w - cw) / 2), ch, cw];
}

export interface RandomResizedCropOptions {
  size: Size;
  scale?: [number, number];
  ratio?: [number, number];
  interpolation?: 'bilinear' | 'nearest';
  minBoxSize?: number;
}

export class RandomResizedCrop implements BatchTransform {
  readonly type = 'RandomResizedCrop';
  static readonly schema = obj({
    type: opt(oneOf('RandomResizedCrop')), size: opt(sizeCheck), scale: opt(range(num(0, 1))), ratio: opt(range(num(1e-6))),
    interpolation: opt(oneOf('bilinear', 'nearest')), minBoxSize: opt(num(0)),
  });
  constructor(readonly opts: RandomResizedCropOptions) {
    if (!opts || opts.size === undefined) throw new TypeError('RandomResizedCrop: size is required ([H, W] or one side)');
  }
  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const [n, , h, w] = b.images.shape;
    checkBoxes(b.boxes, b.boxLabels, n, 'RandomResizedCrop');
    const N = drawCount(ctx, n);
    const all: Windows = { x0: new Float64Array(N), y0: new Float64Array(N), w: new Float64Array(N), h: new Float64Array(N) };
    for (let i = 0; i < N; i++) {
      const [top, left, ch, cw] = resizedCropParams(h, w, this.opts.scale ?? [0.08, 1], this.opts.ratio ?? [3 / 4, 4 / 3], ctx.rng);
      all.x0[i] = left; all.y0[i] = top; all.w[i] = cw; all.h[i] = ch;
    }
    const win = shardRows(ctx, all);
    const [oh, ow] = hw(this.opts.size);
    return warpWindows(b, win, oh, ow, ctx, { mode: this.opts.interpolation, minBoxSize: this.opts.minBoxSize });
  }
}

export interface ResizeOptions {
  size: Size;
  /** Fit inside `size` keeping the aspect ratio, the rest filled bottom-right (false: stretch). */
  keepRatio?: boolean;
  fill?: number | number[];
  interpolation?: 'bilinear' | 'nearest';
  minBoxSize?: number;
}

export class Resize implements BatchTransform {
  readonly type = 'Resize';
  static readonly schema = obj({
    type: opt(oneOf('Resize')), size: opt(sizeCheck), keepRatio: opt(bool), fill: opt(anyOf(num(), arr(num()))),
    interpolation: opt(oneOf('bilinear', 'nearest')), minBoxSize: opt(num(0)),
  });
  constructor(readonly opts: ResizeOptions) {
    if (!opts || opts.size === undefined) throw new TypeError('Resize: size is required ([H, W] or one side)');
  }
  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const [n, , h, w] = b.images.shape;
    checkBoxes(b.boxes, b.boxLabels, n, 'Resize');
    const [oh, ow] = hw(this.opts.size);
    // keepRatio: scale s = min(oh/h, ow/w); the output covers oh/s × ow/s input pixels from the top-left.
    const s = this.opts.keepRatio ? Math.min(oh / h, ow / w) : NaN;
    const win: Windows = {
      x0: new Float64Array(n), y0: new Float64Array(n),
      w: new Float64Array(n).fill(this.opts.keepRatio ? ow / s : w), h: new Float64Array(n).fill(this.opts.keepRatio ? oh / s : h),
    };
    return warpWindows(b, win, oh, ow, ctx, { fill: this.opts.fill, mode: this.opts.interpolation, minBoxSize: this.opts.minBoxSize });
  }
}
