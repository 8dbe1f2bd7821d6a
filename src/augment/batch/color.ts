// ColorJitter on a whole batch with torchvision's semantics: brightness,
// contrast and saturation factors uniform in [max(0, 1 − v), 1 + v] (or a
// given [lo, hi]), hue shift uniform in [−v, v] (v ≤ 0.5), one draw per image,
// applied in a random order (one order per batch, as Kornia's batch jitter).
// The operations are torchvision's tensor functions (blend with black, with the
// grey mean, with the greyscale image; hue through HSV), on 0–1 pixels: the
// normalised batch is mapped back to pixels and forward again. Saturation and
// hue leave 1-channel images unchanged, as torchvision does.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { type AugmentContext, type BatchTransform, type ImageBatch, drawCount, shardRows } from './types.js';
import { anyOf, num, obj, oneOf, opt, range } from '../../util/schema.js';

type Jitter = number | [number, number];

export interface ColorJitterOptions {
  brightness?: Jitter;
  contrast?: Jitter;
  saturation?: Jitter;
  hue?: Jitter;
  /** Probability that an image is jittered at all (1). */
  prob?: number;
}

function factorRange(v: Jitter | undefined, name: string, centre: number, bound: [number, number]): [number, number] | null {
  if (v === undefined) return null;
  const r: [number, number] = typeof v === 'number' ? [centre - v, centre + v] : v;
  if (typeof v === 'number' && v < 0) throw new RangeError(`ColorJitter: ${name} must be >= 0, got ${v}`);
  if (typeof v === 'number' && centre === 1) r[0] = Math.max(0, r[0]);
  if (!(r[0] >= bound[0] && r[1] <= bound[1] && r[0] <= r[1])) throw new RangeError(`ColorJitter: ${name} range must lie within [${bound}], got ${JSON.stringify(r)}`);
  if (r[0] === centre && r[1] === centre) return null;
  return r;
}

const gray = (x: Tensor) => {
  const [r, g, b] = x.unbind(1);
  return r.mul(0.2989).add(g.mul(0.587)).add(b.mul(0.114)).unsqueeze(1);
};
const blend = (a: Tensor, b: Tensor, f: Tensor) => a.mul(f).add(b.mul(f.rsub(1))).clamp(0, 1);

/** torchvision _rgb2hsv on [N,3,H,W]. */
export function rgbToHsv(x: Tensor): Tensor {
  const [r, g, b] = x.unbind(1);
  const maxc = x.amax(1), minc = x.amin(1);
  const eqc = maxc.eq(minc);
  const cr = maxc.sub(minc);
  const ones = torch.onesLike(maxc);
  const s = cr.div(torch.where(eqc, ones, maxc));
  const crd = torch.where(eqc, ones, cr);
  const rc = maxc.sub(r).div(crd), gc = maxc.sub(g).div(crd), bc = maxc.sub(b).div(crd);
  const isR = maxc.eq(r), isG = maxc.eq(g).logicalAnd(isR.logicalNot()), isB = maxc.ne(g).logicalAnd(isR.logicalNot());
  const h = isR.float().mul(bc.sub(gc)).add(isG.float().mul(rc.sub(bc).add(2))).add(isB.float().mul(gc.sub(rc).add(4)));
  return torch.stack([h.div(6).add(1).remainder(1), s, maxc], 1);
}

/** torchvision _hsv2rgb on [N,3,H,W]. */
export function hsvToRgb(x: Tensor): Tensor {
  const [h, s, v] = x.unbind(1);
  const i0 = h.mul(6).floor();
  const f = h.mul(6).sub(i0);
  const i = i0.remainder(6);
  const p = v.mul(s.rsub(1)).clamp(0, 1);
  const q = v.mul(s.mul(f).rsub(1)).clamp(0, 1);
  const t = v.mul(s.mul(f.rsub(1)).rsub(1)).clamp(0, 1);
  const sector = (k: number) => i.eq(k).float();
  const pick = (vals: Tensor[]) => vals.reduce((acc, val, k) => acc.add(val.mul(sector(k))), torch.zerosLike(v));
  return torch.stack([pick([v, q, p, p, t, v]), pick([t, v, v, q, p, p]), pick([p, p, t, v, v, q])], 1);
}

export class ColorJitter implements BatchTransform {
  readonly type = 'ColorJitter';
  static readonly schema = obj({
    type: opt(oneOf('ColorJitter')), brightness: opt(anyOf(num(0), range(num(0)))), contrast: opt(anyOf(num(0), range(num(0)))),
    saturation: opt(anyOf(num(0), range(num(0)))), hue: opt(anyOf(num(0, 0.5), range(num(-0.5, 0.5)))), prob: opt(num(0, 1)),
  });
  private readonly ranges: { brightness: [number, number] | null; contrast: [number, number] | null; saturation: [number, number] | null; hue: [number, number] | null };
  constructor(readonly opts: ColorJitterOptions = {}) {
    this.ranges = {
      brightness: factorRange(opts.brightness, 'brightness', 1, [0, Infinity]),
      contrast: factorRange(opts.contrast, 'contrast', 1, [0, Infinity]),
      saturation: factorRange(opts.saturation, 'saturation', 1, [0, Infinity]),
      hue: factorRange(opts.hue, 'hue', 0, [-0.5, 0.5]),
    };
  }

  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const [n, c] = b.images.shape;
    if (c !== 1 && c !== 3) throw new TypeError(`ColorJitter: expected 1 or 3 channels, got ${c}`);
    const mean = torch.tensor(Array.from({ length: c }, (_, k) => ctx.mean[k % ctx.mean.length]), { dtype: 'float32' }).reshape(1, c, 1, 1).to({ dtype: b.images.dtype });
    const std = torch.tensor(Array.from({ length: c }, (_, k) => ctx.std[k % ctx.std.length]), { dtype: 'float32' }).reshape(1, c, 1, 1).to({ dtype: b.images.dtype });
    const on = Array.from({ length: drawCount(ctx, n) }, () => ctx.rng.random() < (this.opts.prob ?? 1));
    const draw = (r: [number, number] | null, identity: number) => (r ? Float32Array.from(on, (o) => (o ? ctx.rng.uniform(r[0], r[1]) : identity)) : null);
    const order = ctx.rng.permutation(4);
    const factors = [draw(this.ranges.brightness, 1), draw(this.ranges.contrast, 1), draw(this.ranges.saturation, 1), draw(this.ranges.hue, 0)].map((f) => shardRows(ctx, f));
    let x = b.images.mul(std).add(mean);
    for (const k of order) {
      const f = factors[k];
      if (!f) continue;
      const ft = torch.tensor(f).reshape(n, 1, 1, 1).to({ dtype: x.dtype });
      if (k === 0) x = blend(x, torch.zerosLike(x), ft);
      else if (k === 1) x = blend(x, (c === 3 ? gray(x) : x).mean([1, 2, 3], true), ft);
      else if (k === 2 && c === 3) x = blend(x, gray(x), ft);
      else if (k === 3 && c === 3) {
        const hsv = rgbToHsv(x);
        const [h, s, v] = hsv.unbind(1);
        x = hsvToRgb(torch.stack([h.add(ft.reshape(n, 1, 1)).remainder(1), s, v], 1));
      }
    }
    return { ...b, images: x.sub(mean).div(std) };
  }
}
