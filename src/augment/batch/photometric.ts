// mmseg's PhotoMetricDistortion (mmseg/datasets/transforms/transforms.py) on a
// whole batch, one draw per image: brightness (+δ, δ ~ U(−32, 32)), contrast
// (×α, α ~ U(0.5, 1.5)) either right after brightness or last (mode drawn per
// image), saturation (HSV S ×α, α ~ U(0.5, 1.5)), hue (H + Δ, Δ an integer in
// [−18, 18) in OpenCV's 0–180 hue units, numpy's randint), each applied with
// probability 0.5 and clipped to 0–255 after each step (mmseg `convert`). As
// ColorJitter (color.ts), it works on pixels: the normalised batch is mapped
// back to 0–1 (δ/255 there), distorted and normalised again; there is no uint8
// rounding between steps (the batch is float). Saturation and hue go through
// torchvision's HSV (color.ts; OpenCV's formulas without its 8-bit
// quantisation) and leave 1-channel images alone.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Rng } from '../../data/rng.js';
import { type AugmentContext, type BatchTransform, type ImageBatch, drawCount, shardRows } from './types.js';
import { hsvToRgb, rgbToHsv } from './color.js';
import { num, obj, oneOf, opt, range } from '../../util/schema.js';

export interface PhotoMetricDistortionOptions {
  /** δ ~ U(−d, d) added to 0–255 pixels (mmseg 32). */
  brightnessDelta?: number;
  contrastRange?: [number, number];
  saturationRange?: [number, number];
  /** Δ integer in [−d, d) added to OpenCV's 0–180 hue (mmseg 18). */
  hueDelta?: number;
}

/** One draw per image; an operation that is off has its identity value (δ 0, α 1, Δ 0) and its flag 0. */
export interface PhotoMetricParams {
  brightness: Float64Array; brightnessOn: Uint8Array;
  contrast: Float64Array; contrastOn: Uint8Array;
  /** mmseg's mode 1: contrast right after brightness (else last). */
  contrastFirst: Uint8Array;
  saturation: Float64Array; saturationOn: Uint8Array;
  hue: Float64Array; hueOn: Uint8Array;
}

const column = (v: ArrayLike<number>, dtype: Tensor['dtype']) => torch.tensor(Float32Array.from(v)).reshape(v.length, 1, 1, 1).to({ dtype });
const flags = (v: Uint8Array) => torch.tensor(Array.from(v, (f) => f === 1)).reshape(v.length, 1, 1, 1);

/** The distortion of 0–1 pixels x [N,C,H,W] with the given per-image parameters (mmseg's order and clipping). */
export function photometricDistort(x: Tensor, p: PhotoMetricParams): Tensor {
  const [n, c] = x.shape;
  const where = (on: Uint8Array, f: () => Tensor) => (on.some((v) => v) ? torch.where(flags(on), f(), x) : x);
  const contrast = (on: Uint8Array) => { x = where(on, () => x.mul(column(p.contrast, x.dtype)).clamp(0, 1)); };
  x = where(p.brightnessOn, () => x.add(column(Array.from(p.brightness, (d) => d / 255), x.dtype)).clamp(0, 1));
  contrast(p.contrastOn.map((on, i) => on & p.contrastFirst[i]));
  if (c === 3) {
    // Saturation then hue, each an HSV round trip in mmseg; one round trip gives the same pixels.
    const on = p.saturationOn.map((s, i) => s | p.hueOn[i]);
    x = where(on, () => {
      const [h, s, v] = rgbToHsv(x).unbind(1);
      const hue = h.add(column(Array.from(p.hue, (d) => d / 180), x.dtype).reshape(n, 1, 1)).remainder(1);
      return hsvToRgb(torch.stack([hue, s.mul(column(p.saturation, x.dtype).reshape(n, 1, 1)).clamp(0, 1), v], 1));
    });
  }
  contrast(p.contrastOn.map((on, i) => on & (1 - p.contrastFirst[i])));
  return x;
}

export class PhotoMetricDistortion implements BatchTransform {
  readonly type = 'PhotoMetricDistortion';
  static readonly schema = obj({
    type: opt(oneOf('PhotoMetricDistortion')), brightnessDelta: opt(num(0, 255)), contrastRange: opt(range(num(0))),
    saturationRange: opt(range(num(0))), hueDelta: opt(num(0, 90, true)),
  });
  readonly opts: Required<PhotoMetricDistortionOptions>;
  constructor(opts: PhotoMetricDistortionOptions = {}) {
    this.opts = { brightnessDelta: opts.brightnessDelta ?? 32, contrastRange: opts.contrastRange ?? [0.5, 1.5], saturationRange: opts.saturationRange ?? [0.5, 1.5], hueDelta: opts.hueDelta ?? 18 };
    const o = this.opts;
    if (!(o.brightnessDelta >= 0)) throw new RangeError(`PhotoMetricDistortion: brightnessDelta must be >= 0, got ${o.brightnessDelta}`);
    for (const k of ['contrastRange', 'saturationRange'] as const) {
      if (!(o[k][0] >= 0 && o[k][0] <= o[k][1])) throw new RangeError(`PhotoMetricDistortion: ${k} must be [lo, hi] with 0 <= lo <= hi, got ${JSON.stringify(o[k])}`);
    }
    if (!(Number.isInteger(o.hueDelta) && o.hueDelta >= 0 && o.hueDelta <= 90)) throw new RangeError(`PhotoMetricDistortion: hueDelta must be an integer in [0, 90], got ${o.hueDelta}`);
  }

  /** mmseg's draws for n images, in its order: brightness, mode, contrast (if first), saturation, hue, contrast (if last). */
  params(n: number, rng: Rng): PhotoMetricParams {
    const o = this.opts;
    const p: PhotoMetricParams = {
      brightness: new Float64Array(n), brightnessOn: new Uint8Array(n), contrast: new Float64Array(n).fill(1), contrastOn: new Uint8Array(n),
      contrastFirst: new Uint8Array(n), saturation: new Float64Array(n).fill(1), saturationOn: new Uint8Array(n), hue: new Float64Array(n), hueOn: new Uint8Array(n),
    };
    const coin = () => rng.random() < 0.5;
    for (let i = 0; i < n; i++) {
      if (coin()) { p.brightnessOn[i] = 1; p.brightness[i] = rng.uniform(-o.brightnessDelta, o.brightnessDelta); }
      p.contrastFirst[i] = coin() ? 1 : 0;
      const contrast = () => { if (coin()) { p.contrastOn[i] = 1; p.contrast[i] = rng.uniform(o.contrastRange[0], o.contrastRange[1]); } };
      if (p.contrastFirst[i]) contrast();
      if (coin()) { p.saturationOn[i] = 1; p.saturation[i] = rng.uniform(o.saturationRange[0], o.saturationRange[1]); }
      if (coin()) { p.hueOn[i] = 1; p.hue[i] = o.hueDelta > 0 ? rng.int(-o.hueDelta, o.hueDelta) : 0; }
      if (!p.contrastFirst[i]) contrast();
    }
    return p;
  }

  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const [n, c] = b.images.shape;
    if (c !== 1 && c !== 3) throw new TypeError(`PhotoMetricDistortion: expected 1 or 3 channels, got ${c}`);
    const stat = (v: number[]) => torch.tensor(Array.from({ length: c }, (_, k) => v[k % v.length]), { dtype: 'float32' }).reshape(1, c, 1, 1).to({ dtype: b.images.dtype });
    const mean = stat(ctx.mean), std = stat(ctx.std);
    const x = photometricDistort(b.images.mul(std).add(mean), shardRows(ctx, this.params(drawCount(ctx, n), ctx.rng)));
    return { ...b, images: x.sub(mean).div(std) };
  }
}
