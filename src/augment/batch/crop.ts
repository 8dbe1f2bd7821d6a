// RandomCrop with padding on a whole batch (torchvision `RandomCrop(size,
// padding, fill, padding_mode)`): pad every image, then cut each one's window
// at its own random offset (constant padding: only the part of each window
// inside the image is copied onto a fill-valued output). Offsets come
// from the seeded JS generator. The classic CIFAR/Fashion-MNIST "pad and crop"
// (a random translation of up to `padding` pixels). Masks are padded with 255
// (ignore) and cut at the same offsets; boxes move by the same offset, are
// clipped to the crop and dropped (with their labels) below `minBoxSize`.
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import type { Tensor } from '../../torch/tensor.js';
import { type AugmentContext, type BatchTransform, type ImageBatch, normalisedFill, drawCount, shardRows } from './types.js';
import { IGNORE_INDEX } from '../../data/sample.js';
import { checkBoxes, shiftClipFilter } from './boxes.js';
import { anyOf, arr, num, obj, oneOf, opt } from '../../util/schema.js';

/** Output elements per image from which only the strips around the copied window are filled (64×64×3 and up). */
const STRIP_FILL_FROM = 12288;

type Window = { top: Int32Array; left: Int32Array; h: number; w: number };

export interface RandomCropOptions {
  /** Output [H, W] or one side (default: the input size, i.e. pad and crop back). */
  size?: number | [number, number];
  /** Pixels added on each side: one number, [leftRight, topBottom], or [left, top, right, bottom] (torchvision order). */
  padding?: number | number[];
  /** Constant padding value in 0–1 pixel units, one or per channel (torchvision fill=0: black). */
  fill?: number | number[];
  paddingMode?: 'constant' | 'reflect' | 'replicate';
  /** Boxes narrower or shorter than this after the crop are dropped (1 pixel). */
  minBoxSize?: number;
}

export class RandomCrop implements BatchTransform {
  readonly type = 'RandomCrop';
  static readonly schema = obj({
    type: opt(oneOf('RandomCrop')),
    size: opt(anyOf(num(1, 1e5, true), arr(num(1, 1e5, true), 2))),
    padding: opt(anyOf(num(0, 1e5, true), arr(num(0, 1e5, true), 2), arr(num(0, 1e5, true), 4))),
    fill: opt(anyOf(num(), arr(num()))),
    paddingMode: opt(oneOf('constant', 'reflect', 'replicate')),
    minBoxSize: opt(num(0)),
  });
  private readonly pad: [number, number, number, number]; // left, right, top, bottom (F.pad order)
  constructor(readonly opts: RandomCropOptions = {}) {
    const p = opts.padding ?? 0;
    const [l, t, r, b] = typeof p === 'number' ? [p, p, p, p] : p.length === 2 ? [p[0], p[1], p[0], p[1]] : p.length === 4 ? p : [NaN, 0, 0, 0];
    if (![l, t, r, b].every((v) => Number.isInteger(v) && v >= 0)) throw new RangeError(`RandomCrop: padding must be a non-negative integer, or 2 or 4 of them, got ${JSON.stringify(p)}`);
    this.pad = [l, r, t, b];
  }

  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const [n] = b.images.shape;
    checkBoxes(b.boxes, b.boxLabels, n, 'RandomCrop');
    const o = this.draw(b.images, ctx);
    const out: ImageBatch = { ...b, images: this.cropImages(b.images, o, ctx) };
    const cutMasks = (masks: Tensor) => {
      const m = torch.full([n, 1, o.h, o.w], IGNORE_INDEX, { dtype: masks.dtype });
      this.cutInto(masks.unsqueeze(1), m, o);
      return m.squeeze(1);
    };
    if (b.masks) out.masks = cutMasks(b.masks);
    if (b.masks2) out.masks2 = cutMasks(b.masks2);
    if (b.boxes) {
      const kept = b.boxes.map((bx, i) => shiftClipFilter(bx, b.boxLabels![i], this.pad[0] - o.left[i], this.pad[2] - o.top[i], o.h, o.w, this.opts.minBoxSize ?? 1));
      out.boxes = kept.map((k) => k.boxes);
      out.boxLabels = kept.map((k) => k.labels);
    }
    return out;
  }

  /** Crops images only: the padded image's window at a random offset per image. */
  crop(x: Tensor, ctx: AugmentContext): Tensor {
    return this.cropImages(x, this.draw(x, ctx), ctx);
  }

  private cropImages(x: Tensor, o: Window, ctx: AugmentContext): Tensor {
    const mode = this.opts.paddingMode ?? 'constant';
    if (mode !== 'constant') return this.cut(this.padImages(x, ctx), o);
    // Constant padding: each image copies in only the part of its window inside the image, and only the strips
    // around it are filled: one write of the output.
    const [n, c] = x.shape;
    const values = normalisedFill(this.opts.fill ?? 0, ctx, c);
    const same = values.every((v) => v === values[0]);
    const fill = same ? null : torch.tensor(values, { dtype: 'float32' }).reshape(c, 1, 1).to({ dtype: x.dtype });
    const paint = (t: Tensor) => { if (same) t.fill_(values[0]); else t.copy_(fill!.expand(t.shape)); };
    const out = torch.empty([n, c, o.h, o.w], { dtype: x.dtype });
    if (c * o.h * o.w < STRIP_FILL_FROM) {
      // Small images: one fill of the whole output costs less than four strips per image.
      paint(out);
      this.cutInto(x, out, o);
      return out;
    }
    const inside = this.cutInto(x, out, o);
    for (let i = 0; i < n; i++) {
      const img = out.select(0, i), [r0, r1, c0, c1] = inside[i];
      if (r1 <= r0 || c1 <= c0) { paint(img); continue; }
      if (r0 > 0) paint(img.narrow(1, 0, r0));
      if (r1 < o.h) paint(img.narrow(1, r1, o.h - r1));
      if (c0 > 0) paint(img.narrow(1, r0, r1 - r0).narrow(2, 0, c0));
      if (c1 < o.w) paint(img.narrow(1, r0, r1 - r0).narrow(2, c1, o.w - c1));
    }
    return out;
  }

  /**
   * Copies each image's window (in padded coordinates) from the unpadded x [N,C,H,W] into out [N,C,h,w]; the rest
   * of out is left as it is. Returns, per image, the rows [r0, r1) and columns [c0, c1) of out that were written.
   */
  private cutInto(x: Tensor, out: Tensor, o: Window): [number, number, number, number][] {
    const [n, , h0, w0] = x.shape;
    const [l, , t] = this.pad;
    const written: [number, number, number, number][] = [];
    for (let i = 0; i < n; i++) {
      const r0 = Math.max(o.top[i], t), r1 = Math.min(o.top[i] + o.h, t + h0);
      const c0 = Math.max(o.left[i], l), c1 = Math.min(o.left[i] + o.w, l + w0);
      written.push([r0 - o.top[i], r1 - o.top[i], c0 - o.left[i], c1 - o.left[i]]);
      if (r1 <= r0 || c1 <= c0) continue;
      out.select(0, i).narrow(1, r0 - o.top[i], r1 - r0).narrow(2, c0 - o.left[i], c1 - c0)
        .copy_(x.select(0, i).narrow(1, r0 - t, r1 - r0).narrow(2, c0 - l, c1 - c0));
    }
    return written;
  }

  private draw(x: Tensor, ctx: AugmentContext): Window {
    const [n, , h0, w0] = x.shape;
    const s = this.opts.size;
    const [h, w] = s === undefined ? [h0, w0] : typeof s === 'number' ? [s, s] : s;
    const [l, r, t, bt] = this.pad;
    const hp = h0 + t + bt;
    const wp = w0 + l + r;
    if (h > hp || w > wp) throw new RangeError(`RandomCrop: crop ${h}×${w} is larger than the padded image ${hp}×${wp}`);
    const N = drawCount(ctx, n);
    const top = new Int32Array(N);
    const left = new Int32Array(N);
    for (let i = 0; i < N; i++) { top[i] = ctx.rng.int(0, hp - h + 1); left[i] = ctx.rng.int(0, wp - w + 1); }
    return shardRows(ctx, { top, left, h, w });
  }

  private padImages(x: Tensor, ctx: AugmentContext): Tensor {
    const c = x.shape[1];
    const [l, r, t, bt] = this.pad;
    let xp = x;
    if (l || r || t || bt) {
      const mode = this.opts.paddingMode ?? 'constant';
      if (mode === 'constant') {
        // Pad (x − fill) with zeros and add fill back: a per-channel constant in one pad.
        const fill = torch.tensor(normalisedFill(this.opts.fill ?? 0, ctx, c), { dtype: 'float32' }).reshape(1, c, 1, 1).to({ dtype: x.dtype });
        xp = F.pad(x.sub(fill), [l, r, t, bt]).add(fill);
      } else {
        xp = F.pad(x, [l, r, t, bt], mode);
      }
    }
    return xp;
  }

  /** Each padded image's window [top, top+h) × [left, left+w) as a view, then one stack: a single copy of the output. */
  private cut(xp: Tensor, o: Window): Tensor {
    const n = xp.shape[0];
    const views: Tensor[] = [];
    for (let i = 0; i < n; i++) views.push(xp.select(0, i).narrow(1, o.top[i], o.h).narrow(2, o.left[i], o.w));
    return torch.stack(views, 0);
  }
}
