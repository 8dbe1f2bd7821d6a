// Pad on a whole batch: to a size (mmdet `Pad(size=...)`: bottom and right)
// or by amounts (torchvision `Pad(padding)`: one number, [leftRight,
// topBottom] or [left, top, right, bottom]); images get `fill` (0–1 pixel
// units), masks 255 (ignore), boxes move by the left and top padding.
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import { type AugmentContext, type BatchTransform, type ImageBatch, normalisedFill } from './types.js';
import { IGNORE_INDEX } from '../../data/sample.js';
import { checkBoxes } from './boxes.js';
import { anyOf, arr, num, obj, oneOf, opt } from '../../util/schema.js';

export interface PadOptions {
  /** Pad bottom/right up to [H, W] (or one side). */
  size?: number | [number, number];
  /** Or pad by: one number, [leftRight, topBottom], or [left, top, right, bottom]. */
  padding?: number | number[];
  fill?: number | number[];
}

export class Pad implements BatchTransform {
  readonly type = 'Pad';
  static readonly schema = obj({
    type: opt(oneOf('Pad')), size: opt(anyOf(num(1, 1e5, true), arr(num(1, 1e5, true), 2))),
    padding: opt(anyOf(num(0, 1e5, true), arr(num(0, 1e5, true), 2), arr(num(0, 1e5, true), 4))), fill: opt(anyOf(num(), arr(num()))),
  });
  constructor(readonly opts: PadOptions) {
    if (!opts || (opts.size === undefined) === (opts.padding === undefined)) throw new TypeError('Pad: give exactly one of size and padding');
  }

  /** [left, right, top, bottom] for an h×w image. */
  amounts(h: number, w: number): [number, number, number, number] {
    const { size, padding } = this.opts;
    if (size !== undefined) {
      const [H, W] = typeof size === 'number' ? [size, size] : size;
      if (H < h || W < w) throw new RangeError(`Pad: size ${H}×${W} is smaller than the images (${h}×${w})`);
      return [0, W - w, 0, H - h];
    }
    const p = padding!;
    const [l, t, r, b] = typeof p === 'number' ? [p, p, p, p] : p.length === 2 ? [p[0], p[1], p[0], p[1]] : p;
    return [l, r, t, b];
  }

  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const [n, c, h, w] = b.images.shape;
    checkBoxes(b.boxes, b.boxLabels, n, 'Pad');
    const pad = this.amounts(h, w);
    const fill = torch.tensor(normalisedFill(this.opts.fill ?? 0, ctx, c), { dtype: 'float32' }).reshape(1, c, 1, 1).to({ dtype: b.images.dtype });
    const out: ImageBatch = { ...b, images: F.pad(b.images.sub(fill), pad).add(fill) };
    if (b.masks) out.masks = F.pad(b.masks, pad, 'constant', IGNORE_INDEX);
    if (b.masks2) out.masks2 = F.pad(b.masks2, pad, 'constant', IGNORE_INDEX);
    if (b.boxes) {
      const shift = torch.tensor([pad[0], pad[2], pad[0], pad[2]], { dtype: 'float32' });
      out.boxes = b.boxes.map((bx) => bx.add(shift));
    }
    return out;
  }
}
