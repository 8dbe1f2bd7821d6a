// MixUp and CutMix on a batch, with timm's `Mixup` semantics
// (timm/data/mixup.py; Zhang et al. 2018 "mixup", Yun et al. 2019 "CutMix"):
// each image is mixed with its partner in the batch reversed; λ ~ Beta(α, α);
// with both alphas set, CutMix is chosen with probability `switchProb`; CutMix
// pastes a box of side √(1−λ)·size around a uniform centre (or, with
// `cutmixMinMax`, a box whose sides are uniform shares of the image), clipped
// to the image, and with `correctLam` λ becomes the share of the image left
// unpasted. Modes: 'batch' (one λ for the batch), 'pair' (one per mirrored
// pair), 'elem' (one per image). Targets become soft: λ·onehot(y) + (1−λ)·onehot(y
// reversed); label smoothing is applied by the loss (PyTorch's cross_entropy
// smooths soft targets linearly, so the result equals timm's mixed smoothed
// one-hots). Unlike timm (#1304), odd batch sizes work: the middle image is its
// own partner. Segmentation: CutMix pastes the partner's mask region with its
// pixels (torchvision #9215); a MixUp blend keeps both mask sets: the batch
// carries the partner's masks (`masks2`) and each image's λ (`lam`), and the
// segmentation loss is λ·L(masks) + (1−λ)·L(masks2), term by term (the loss
// side of timm's λ·y + (1−λ)·y', as mixup's loss λ·CE(y) + (1−λ)·CE(y') in
// Zhang et al.'s code). Dice and Lovász are not sums over images, so that
// split is exact only with one λ for the batch: MixUp with masks takes mode
// 'batch' (timm's default). Whenever MixUp is on with masks, every batch
// carries both (λ 1 and the same masks where unmixed or CutMix-ed), so the
// loss runs the same terms each step. Boxes are refused (detection mixes
// with YOLOX's MixUp).
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Rng } from '../../data/rng.js';
import { type AugmentContext, type BatchTransform, type ImageBatch, drawCount, shardRows } from './types.js';
import { emptyRects, rectMask, type Rects } from './rect_mask.js';
import { bool, num, obj, oneOf, opt, range } from '../../util/schema.js';

export interface MixupOptions {
  /** MixUp's Beta(α, α); 0 = off (timm 1.0). */
  mixupAlpha?: number;
  /** CutMix's Beta(α, α); 0 = off (timm 0.0). */
  cutmixAlpha?: number;
  /** CutMix box sides as uniform shares of the image in [min, max] instead of from λ (timm cutmix_minmax). */
  cutmixMinMax?: [number, number];
  /** Probability that a batch (or image) is mixed at all (timm 1.0). */
  prob?: number;
  /** Probability of CutMix instead of MixUp when both are on (timm 0.5). */
  switchProb?: number;
  mode?: 'batch' | 'pair' | 'elem';
  /** λ recomputed from the clipped box area (timm True). */
  correctLam?: boolean;
}

export interface MixParams {
  /** Per image: the weight of its own pixels and label, after CutMix's correction. */
  lam: Float64Array;
  /** Per image: CutMix box (empty for MixUp or unmixed images). */
  box: Rects;
  /** Per image: true where the image takes CutMix rather than MixUp. */
  cutmix: Uint8Array;
}

/** timm rand_bbox / rand_bbox_minmax for one image of h×w, then λ from the clipped area when asked. */
export function cutmixBox(h: number, w: number, lam: number, o: { minmax?: [number, number]; correctLam: boolean }, rng: Rng): { top: number; bottom: number; left: number; right: number; lam: number } {
  let top: number, bottom: number, left: number, right: number;
  if (o.minmax) {
    const lo = (s: number) => Math.trunc(s * o.minmax![0]);
    const hi = (s: number) => Math.trunc(s * o.minmax![1]);
    const ch = hi(h) > lo(h) ? rng.int(lo(h), hi(h)) : lo(h);
    const cw = hi(w) > lo(w) ? rng.int(lo(w), hi(w)) : lo(w);
    top = h - ch > 0 ? rng.int(0, h - ch) : 0;
    left = w - cw > 0 ? rng.int(0, w - cw) : 0;
    bottom = top + ch; right = left + cw;
  } else {
    const ratio = Math.sqrt(1 - lam);
    const ch = Math.trunc(h * ratio), cw = Math.trunc(w * ratio);
    const cy = rng.int(0, h), cx = rng.int(0, w);
    const clip = (v: number, s: number) => Math.min(Math.max(v, 0), s);
    top = clip(cy - (ch >> 1), h); bottom = clip(cy + (ch >> 1), h);
    left = clip(cx - (cw >> 1), w); right = clip(cx + (cw >> 1), w);
  }
  if (o.correctLam || o.minmax) lam = 1 - ((bottom - top) * (right - left)) / (h * w);
  return { top, bottom, left, right, lam };
}

export class Mixup implements BatchTransform {
  readonly type = 'Mixup';
  readonly mixesBatch = true;
  static readonly schema = obj({
    type: opt(oneOf('Mixup')), mixupAlpha: opt(num(0)), cutmixAlpha: opt(num(0)), cutmixMinMax: opt(range(num(0, 1))),
    prob: opt(num(0, 1)), switchProb: opt(num(0, 1)), mode: opt(oneOf('batch', 'pair', 'elem')), correctLam: opt(bool),
  });
  readonly opts: Required<Omit<MixupOptions, 'cutmixMinMax'>> & { cutmixMinMax?: [number, number] };

  constructor(opts: MixupOptions = {}) {
    this.opts = {
      mixupAlpha: opts.mixupAlpha ?? 1, cutmixAlpha: opts.cutmixAlpha ?? 0, cutmixMinMax: opts.cutmixMinMax, prob: opts.prob ?? 1,
      switchProb: opts.switchProb ?? 0.5, mode: opts.mode ?? 'batch', correctLam: opts.correctLam ?? true,
    };
    const o = this.opts;
    if (!(o.mixupAlpha >= 0) || !(o.cutmixAlpha >= 0)) throw new RangeError(`Mixup: mixupAlpha and cutmixAlpha must be >= 0, got ${o.mixupAlpha}, ${o.cutmixAlpha}`);
    if (o.mixupAlpha === 0 && o.cutmixAlpha === 0 && !o.cutmixMinMax) throw new RangeError('Mixup: mixupAlpha, cutmixAlpha and cutmixMinMax are all off; set at least one');
    if (o.cutmixMinMax && !(o.cutmixMinMax[0] >= 0 && o.cutmixMinMax[0] < o.cutmixMinMax[1] && o.cutmixMinMax[1] <= 1)) {
      throw new RangeError(`Mixup: cutmixMinMax must be [min, max] with 0 <= min < max <= 1, got ${JSON.stringify(o.cutmixMinMax)}`);
    }
  }

  /** timm _params_per_batch / _params_per_elem for one draw: [λ, useCutmix]. */
  private draw(rng: Rng): [number, boolean] {
    const o = this.opts;
    const cutOn = o.cutmixAlpha > 0 || !!o.cutmixMinMax;
    if (!(rng.random() < o.prob)) return [1, false];
    if (o.mixupAlpha > 0 && cutOn) {
      const useCut = rng.random() < o.switchProb;
      return [useCut ? this.cutBeta(rng) : rng.beta(o.mixupAlpha, o.mixupAlpha), useCut];
    }
    if (o.mixupAlpha > 0) return [rng.beta(o.mixupAlpha, o.mixupAlpha), false];
    return [this.cutBeta(rng), true];
  }

  // With cutmixMinMax alone, λ is unused (the box sets it); timm still requires an alpha, we do not.
  private cutBeta(rng: Rng): number { return this.opts.cutmixAlpha > 0 ? rng.beta(this.opts.cutmixAlpha, this.opts.cutmixAlpha) : 1; }

  /** The mixing parameters for a batch of n images of h×w. */
  params(n: number, h: number, w: number, rng: Rng): MixParams {
    const o = this.opts;
    const lam = new Float64Array(n).fill(1);
    const box = emptyRects(n);
    const cutmix = new Uint8Array(n);
    const set = (i: number, l: number, useCut: boolean, b?: { top: number; bottom: number; left: number; right: number }) => {
      lam[i] = l; cutmix[i] = useCut ? 1 : 0;
      if (b) { box.top[i] = b.top; box.bottom[i] = b.bottom; box.left[i] = b.left; box.right[i] = b.right; }
    };
    const one = (): [number, boolean, ReturnType<typeof cutmixBox> | undefined] => {
      const [l, useCut] = this.draw(rng);
      if (!useCut || l === 1 && !o.cutmixMinMax) return [l, false, undefined];
      const b = cutmixBox(h, w, l, { minmax: o.cutmixMinMax, correctLam: o.correctLam }, rng);
      return [b.lam, true, b];
    };
    if (o.mode === 'batch') {
      const [l, c, b] = one();
      for (let i = 0; i < n; i++) set(i, l, c, b);
    } else if (o.mode === 'pair') {
      for (let i = 0; i < Math.ceil(n / 2); i++) {
        const [l, c, b] = one();
        set(i, l, c, b);
        set(n - 1 - i, l, c, b);
      }
    } else {
      for (let i = 0; i < n; i++) { const [l, c, b] = one(); set(i, l, c, b); }
    }
    return { lam, box, cutmix };
  }

  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const x = b.images;
    const [n, , h, w] = x.shape;
    if (b.boxes) throw new TypeError('Mixup: boxes cannot be mixed by timm-style MixUp/CutMix; use the detection MixUp (a dataset wrapper) for detection');
    const mixMasks = !!b.masks && this.opts.mixupAlpha > 0;
    if (mixMasks && this.opts.mode !== 'batch') throw new TypeError(`Mixup: MixUp with masks needs mode 'batch' (one λ per batch: Dice and Lovász do not split over images), got mode '${this.opts.mode}'`);
    if (b.masks2) throw new TypeError('Mixup: this batch is already MixUp-ed (it carries masks2); a second Mixup step cannot mix three mask sets');
    // Data-parallel: λ and boxes drawn for the global batch, the partners within each rank's shard (its batch reversed).
    const p = shardRows(ctx, this.params(drawCount(ctx, n), h, w, ctx.rng));
    const labels = b.labels ? softTargets(b.labels, ctx.numClasses) : undefined;
    // Segmentation MixUp: the weight of each image's own masks (1 where CutMix pasted the masks or nothing mixed).
    const withMasks = (o: ImageBatch, mixed: boolean): ImageBatch => {
      if (!mixMasks) return o;
      const lam = Float32Array.from(p.lam, (l, i) => (mixed && !p.cutmix[i] ? l : 1));
      return { ...o, masks2: lam.some((l) => l < 1) ? b.masks!.flip(0) : o.masks, lam: torch.tensor(lam) };
    };
    if (p.lam.every((l) => l === 1)) return withMasks({ ...b, labels }, false);
    const partner = x.flip(0);
    // MixUp images: x·λ + partner·(1−λ); CutMix images keep weight 1 outside the box and take the partner inside it.
    const mixW = Float32Array.from(p.lam, (l, i) => (p.cutmix[i] ? 1 : l));
    const wT = torch.tensor(mixW).reshape(n, 1, 1, 1).to({ dtype: x.dtype });
    let images = x.mul(wT).add(partner.mul(wT.rsub(1)));
    const out: ImageBatch = { ...b, images };
    if (p.cutmix.some((c) => c === 1)) {
      const box = rectMask(p.box, h, w);
      out.images = torch.where(box, partner, images);
      if (b.masks) out.masks = torch.where(box.squeeze(1), b.masks.flip(0), b.masks);
    }
    if (labels) {
      const lamT = torch.tensor(Float32Array.from(p.lam)).reshape(n, 1);
      out.labels = labels.mul(lamT).add(labels.flip(0).mul(lamT.rsub(1)));
    }
    return withMasks(out, true);
  }
}

/** Class indices [N] → one-hot float [N,K]; soft targets pass through. */
export function softTargets(labels: Tensor, numClasses: number): Tensor {
  if (labels.ndim === 2) return labels;
  return F.oneHot(labels, numClasses).float();
}
