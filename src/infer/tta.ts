// Test-time augmentation: run a model on several views of a batch (identity,
// flips, shifts, scales), one batched forward per view, and merge the
// predictions. Each view knows how to invert itself on a dense prediction
// [N,K,H,W] (segmentation), and is the identity on image-level ones
// [N,K] (classification). The views' predictions merge as ensemble members
// do (./merge.ts: 'mean' of probabilities, the usual TTA, 'logits', 'gmean',
// 'max', 'vote'); in training and `arsenal test` the task decides how
// (src/tasks: Task.invert and Task.merge).
import * as F from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { MERGES, mergeProbs, type Merge } from './merge.js';

export { MERGES, type Merge };

export interface View {
  readonly name: string;
  apply(x: Tensor): Tensor;
  /** Maps a prediction of the view back to the original frame (dense [N,K,H,W]); identity for [N,K]. */
  invert(pred: Tensor): Tensor;
}

/** Translates [N,C,H,W] by (dx, dy) pixels, filling with `fill` (0: the mean colour of normalised images). */
export function shiftImage(x: Tensor, dx: number, dy: number, fill = 0): Tensor {
  const [, , h, w] = x.shape;
  if (Math.abs(dx) >= w || Math.abs(dy) >= h) throw new RangeError(`shift (${dx}, ${dy}) is as large as the image (${h}×${w})`);
  const p = F.pad(x.sub(fill), [Math.max(dx, 0), Math.max(-dx, 0), Math.max(dy, 0), Math.max(-dy, 0)]).add(fill);
  return p.narrow(2, Math.max(-dy, 0), h).narrow(3, Math.max(-dx, 0), w);
}

/** Rescales [N,C,H,W] by s around the centre, keeping H×W: bilinear resize, then centre crop (s > 1) or pad with fill (s < 1). */
export function scaleImage(x: Tensor, s: number, fill = 0): Tensor {
  const [, , h, w] = x.shape;
  const sh = Math.max(1, Math.round(h * s)), sw = Math.max(1, Math.round(w * s));
  const r = F.interpolate(x, { size: [sh, sw], mode: 'bilinear' });
  if (sh >= h && sw >= w) return r.narrow(2, (sh - h) >> 1, h).narrow(3, (sw - w) >> 1, w);
  const top = (h - sh) >> 1, left = (w - sw) >> 1;
  return F.pad(r.sub(fill), [left, w - sw - left, top, h - sh - top]).add(fill);
}

const dense = (p: Tensor) => p.ndim === 4;

export function buildViews(o: { flips?: ('h' | 'v')[]; shifts?: [number, number][]; scales?: number[]; ratios?: number[] } = {}): View[] {
  const views: View[] = [{ name: 'identity', apply: (x) => x, invert: (p) => p }];
  for (const f of o.flips ?? []) {
    if (f !== 'h' && f !== 'v') throw new RangeError(`tta.flips: expected 'h' or 'v', got ${JSON.stringify(f)}`);
    const dim = f === 'h' ? 3 : 2;
    views.push({ name: `flip-${f}`, apply: (x) => x.flip(dim), invert: (p) => (dense(p) ? p.flip(dim) : p) });
  }
  for (const s of o.shifts ?? []) {
    if (!Array.isArray(s) || s.length !== 2 || !s.every(Number.isInteger)) throw new RangeError(`tta.shifts: expected [dx, dy] integer pairs, got ${JSON.stringify(s)}`);
    const [dx, dy] = s;
    views.push({ name: `shift(${dx},${dy})`, apply: (x) => shiftImage(x, dx, dy), invert: (p) => (dense(p) ? shiftImage(p, -dx, -dy) : p) });
  }
  for (const s of o.scales ?? []) {
    if (!(s > 0 && Number.isFinite(s))) throw new RangeError(`tta.scales: expected positive numbers, got ${s}`);
    if (s === 1) continue;
    views.push({ name: `scale(${s})`, apply: (x) => scaleImage(x, s), invert: (p) => (dense(p) ? scaleImage(p, 1 / s) : p) });
  }
  for (const r of o.ratios ?? []) {
    if (!(r > 0 && Number.isFinite(r))) throw new RangeError(`tta.ratios: expected positive numbers, got ${r}`);
    if (r === 1) continue;
    // mmseg's multi-scale TTA (img_ratios): the whole image resized by r, its scores resized back to the image's size.
    // A view is made for one predictViews call: apply() records the size that invert() restores.
    let size: [number, number] = [0, 0];
    views.push({
      name: `ratio(${r})`,
      apply: (x) => {
        size = [x.shape[2], x.shape[3]];
        return F.interpolate(x, { size: [Math.max(1, Math.round(size[0] * r)), Math.max(1, Math.round(size[1] * r))], mode: 'bilinear' });
      },
      invert: (p) => (dense(p) ? F.interpolate(p, { size, mode: 'bilinear' }) : p),
    });
  }
  return views;
}

/** What `--tta` uses when the config has no `tta` section: the image and its horizontal mirror. */
export const DEFAULT_TTA: TtaOptions = { flips: ['h'] };

export interface TtaOptions {
  flips?: ('h' | 'v')[];
  shifts?: [number, number][];
  scales?: number[];
  /** Whole-image resize ratios (mmseg's img_ratios, e.g. [0.5, 0.75, 1.25, 1.5, 1.75]); dense scores are resized back. */
  ratios?: number[];
  /** One of the task's merges (Task.merges; classification: ./merge.ts). */
  merge?: string;
}

/** Wraps a model (normalised images → logits): predict() returns merged class probabilities. */
export class TTA {
  readonly views: View[];
  readonly merge: Merge;
  constructor(readonly forward: (x: Tensor) => Tensor, opts: TtaOptions = {}) {
    this.views = buildViews(opts);
    this.merge = (opts.merge ?? 'mean') as Merge;
    if (!MERGES.includes(this.merge)) throw new RangeError(`tta.merge must be one of ${MERGES.join(', ')}, got ${String(this.merge)}`);
  }
  /** One batched forward per view; predictions inverted to the original frame, then merged. */
  predict(x: Tensor): Tensor {
    return mergeProbs(this.views.map((v) => v.invert(this.forward(v.apply(x)))), { how: this.merge });
  }
}
