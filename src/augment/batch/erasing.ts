// RandomErasing / Cutout on a whole batch, with timm's semantics
// (timm/data/random_erasing.py; Zhong et al., "Random Erasing Data
// Augmentation", AAAI 2020): each image, with probability `prob`, gets `count`
// rectangles (count drawn in [minCount, maxCount]) whose area is a uniform
// share in `scale` of the image (divided by the count) and whose aspect ratio is
// log-uniform in `ratio`; up to 10 tries per rectangle to fit it inside. Like
// timm (and torchvision used after Normalize), it works on normalised tensors:
// mode 'const' fills with `value` (0 = the mean colour), 'rand' with one normal
// draw per channel, 'pixel' with per-pixel normal noise. The rectangles are
// drawn in JS (a few numbers per image) and filled in place on a copy of the
// batch, rectangle by rectangle (no full-batch masks: at 224×224 that is the
// difference between touching the rectangles and touching every pixel). Like mmdet's RandomErasing, masks become 255
// (ignore) where erased and boxes more than `boxErasedThr` (0.9) erased are
// dropped with their labels.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Rng } from '../../data/rng.js';
import { type AugmentContext, type BatchTransform, type ImageBatch, drawCount, shardRows } from './types.js';
import { IGNORE_INDEX } from '../../data/sample.js';
import { checkBoxes } from './boxes.js';
import { emptyRects, rectMask, type Rects } from './rect_mask.js';
import { anyOf, arr, num, obj, oneOf, opt, range } from '../../util/schema.js';

export interface RandomErasingOptions {
  /** Probability that an image is erased (timm/torchvision 0.5). */
  prob?: number;
  /** Erased area as a share of the image, [min, max] (0.02, 1/3). */
  scale?: [number, number];
  /** Aspect ratio h/w range, sampled log-uniformly (0.3, 1/0.3). */
  ratio?: [number, number];
  /** 'const' (value), 'rand' (normal per channel), 'pixel' (normal per pixel). timm's default is 'const'. */
  mode?: 'const' | 'rand' | 'pixel';
  /** The constant for mode 'const', in normalised units: one number or one per channel (0). */
  value?: number | number[];
  minCount?: number;
  maxCount?: number;
  /** Boxes whose erased share exceeds this are dropped (mmdet bbox_erased_thr 0.9). */
  boxErasedThr?: number;
}

/** Rectangles for a batch of n images of h×w, one list per rectangle index (timm's sampling, image by image). */
export function sampleErasingRects(n: number, h: number, w: number, o: Required<Omit<RandomErasingOptions, 'value' | 'mode' | 'boxErasedThr'>>, rng: Rng): Rects[] {
  const out: Rects[] = [];
  const area = h * w;
  const logR = [Math.log(o.ratio[0]), Math.log(o.ratio[1])];
  for (let i = 0; i < n; i++) {
    if (rng.random() >= o.prob) continue;
    const count = o.minCount === o.maxCount ? o.minCount : rng.int(o.minCount, o.maxCount + 1);
    for (let k = 0; k < count; k++) {
      for (let attempt = 0; attempt < 10; attempt++) {
        const target = rng.uniform(o.scale[0], o.scale[1]) * area / count;
        const aspect = Math.exp(rng.uniform(logR[0], logR[1]));
        const eh = Math.round(Math.sqrt(target * aspect));
        const ew = Math.round(Math.sqrt(target / aspect));
        if (ew < w && eh < h) {
          const top = rng.int(0, h - eh + 1);
          const left = rng.int(0, w - ew + 1);
          while (out.length <= k) out.push(emptyRects(n));
          const r = out[k];
          r.top[i] = top; r.bottom[i] = top + eh; r.left[i] = left; r.right[i] = left + ew;
          break;
        }
      }
    }
  }
  return out;
}

export class RandomErasing implements BatchTransform {
  readonly type = 'RandomErasing';
  static readonly schema = obj({
    type: opt(oneOf('RandomErasing')),
    prob: opt(num(0, 1)), scale: opt(range(num(0, 1))), ratio: opt(range(num(1e-6))),
    mode: opt(oneOf('const', 'rand', 'pixel')), value: opt(anyOf(num(), arr(num()))),
    minCount: opt(num(1, 1e4, true)), maxCount: opt(num(1, 1e4, true)), boxErasedThr: opt(num(0, 1)),
  });
  readonly opts: Required<Omit<RandomErasingOptions, 'value'>> & { value: number | number[] };

  constructor(opts: RandomErasingOptions = {}) {
    this.opts = {
      prob: opts.prob ?? 0.5, scale: opts.scale ?? [0.02, 1 / 3], ratio: opts.ratio ?? [0.3, 1 / 0.3],
      mode: opts.mode ?? 'const', value: opts.value ?? 0, minCount: opts.minCount ?? 1, maxCount: opts.maxCount ?? opts.minCount ?? 1,
      boxErasedThr: opts.boxErasedThr ?? 0.9,
    };
    const o = this.opts;
    if (!(o.prob >= 0 && o.prob <= 1)) throw new RangeError(`RandomErasing: prob must be in [0, 1], got ${o.prob}`);
    if (!(o.scale[0] >= 0 && o.scale[0] <= o.scale[1] && o.scale[1] <= 1)) throw new RangeError(`RandomErasing: scale must be [min, max] within [0, 1], got ${JSON.stringify(o.scale)}`);
    if (!(o.ratio[0] > 0 && o.ratio[0] <= o.ratio[1])) throw new RangeError(`RandomErasing: ratio must be [min, max] with 0 < min <= max, got ${JSON.stringify(o.ratio)}`);
    if (!(Number.isInteger(o.minCount) && o.minCount >= 1 && o.maxCount >= o.minCount)) throw new RangeError(`RandomErasing: expected 1 <= minCount <= maxCount, got ${o.minCount}, ${o.maxCount}`);
  }

  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const [n, , h, w] = b.images.shape;
    checkBoxes(b.boxes, b.boxLabels, n, 'RandomErasing');
    const rects = sampleErasingRects(drawCount(ctx, n), h, w, this.opts, ctx.rng).map((r) => shardRows(ctx, r));
    const out: ImageBatch = { ...b, images: this.fill(b.images, rects) };
    if (rects.length === 0 || (!b.masks && !b.boxes)) return out;
    let erased = rectMask(rects[0], h, w);
    for (const r of rects.slice(1)) erased = erased.logicalOr(rectMask(r, h, w));
    erased = erased.squeeze(1); // [N,H,W]
    if (b.masks) out.masks = b.masks.maskedFill(erased, IGNORE_INDEX);
    if (b.masks2) out.masks2 = b.masks2.maskedFill(erased, IGNORE_INDEX);
    if (b.boxes) {
      const kept = b.boxes.map((bx, i) => {
        const share = erasedShare(erased.index(i), bx);
        const idx = share.le(this.opts.boxErasedThr).nonzero().reshape(-1);
        return { boxes: bx.indexSelect(0, idx), labels: b.boxLabels![i].indexSelect(0, idx) };
      });
      out.boxes = kept.map((k) => k.boxes);
      out.boxLabels = kept.map((k) => k.labels);
    }
    return out;
  }

  /** Erases images only. */
  erase(x: Tensor, rng: Rng): Tensor {
    const [n, , h, w] = x.shape;
    return this.fill(x, sampleErasingRects(n, h, w, this.opts, rng));
  }

  /** A copy of x with each rectangle filled in place: the work outside the rectangles is one copy of the batch. */
  private fill(x: Tensor, rects: Rects[]): Tensor {
    if (rects.length === 0) return x;
    const [n, c] = x.shape;
    const o = this.opts;
    let value: Tensor | null = null;
    if (o.mode === 'const') {
      const v = typeof o.value === 'number' ? [o.value] : o.value;
      if (v.length !== 1 && v.length !== c) throw new RangeError(`RandomErasing: value must be one number or ${c} (one per channel), got ${v.length}`);
      value = torch.tensor(v, { dtype: 'float32' }).reshape(v.length, 1, 1).to({ dtype: x.dtype });
    }
    const out = x.clone();
    for (const r of rects) {
      for (let i = 0; i < n; i++) {
        const eh = r.bottom[i] - r.top[i], ew = r.right[i] - r.left[i];
        if (eh <= 0 || ew <= 0) continue;
        const region = out.select(0, i).narrow(1, r.top[i], eh).narrow(2, r.left[i], ew);
        if (o.mode === 'pixel') region.copy_(torch.randn([c, eh, ew], { dtype: x.dtype }));
        else if (o.mode === 'rand') region.copy_(torch.randn([c, 1, 1], { dtype: x.dtype }).expand(c, eh, ew));
        else region.copy_(value!.expand(c, eh, ew));
      }
    }
    return out;
  }
}

/**
 * The erased share of each box [M,4] (pixel-rounded) under an erased map [H,W],
 * from a summed-area table: four gathers, no loop over boxes.
 */
export function erasedShare(erased: Tensor, boxes: Tensor): Tensor {
  const [h, w] = erased.shape;
  const m = boxes.shape[0];
  if (m === 0) return torch.zeros([0]);
  const sat = torch.zeros([h + 1, w + 1], { dtype: 'float64' });
  sat.index('1:', '1:').copy_(erased.double().cumsum(0).cumsum(1));
  const r = boxes.round().long();
  const x1 = r.index(':', 0).clamp(0, w), y1 = r.index(':', 1).clamp(0, h), x2 = r.index(':', 2).clamp(0, w), y2 = r.index(':', 3).clamp(0, h);
  const flat = sat.reshape(-1);
  const at = (y: Tensor, x: Tensor) => flat.indexSelect(0, y.mul(w + 1).add(x));
  const inside = at(y2, x2).sub(at(y1, x2)).sub(at(y2, x1)).add(at(y1, x1));
  const area = x2.sub(x1).mul(y2.sub(y1)).double();
  return torch.where(area.gt(0), inside.div(area.clamp(1)), 1).float();
}
