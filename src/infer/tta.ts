// Test-time augmentation: run a model on several views of a batch (identity,
// flips, shifts, scales), one batched forward per view, and merge the
// predictions. Each view knows how to invert itself on a dense prediction
// [N,K,H,W] (segmentation), and is the identity on image-level ones
// [N,K] (classification), and on boxes [M,4] xyxy in the view's pixels
// (detection: a flip mirrored back, a shift moved back, a scale or resize
// divided out, then clipped to the image). The views' predictions merge as ensemble members
// do (./merge.ts: 'mean' of probabilities, the usual TTA, 'logits', 'gmean',
// 'max', 'vote'); in training and `arsenal test` the task decides how
// (src/tasks: Task.invert and Task.merge).
import * as torch from '../torch/index.js';
import * as F from '../torch/functional.js';
import type { Tensor } from '../torch/tensor.js';
import { MERGES, mergeProbs, type Merge } from './merge.js';

export { MERGES, type Merge };

export interface View {
  readonly name: string;
  apply(x: Tensor): Tensor;
  /** Maps a prediction of the view back to the original frame (dense [N,K,H,W]); identity for [N,K]. */
  invert(pred: Tensor): Tensor;
  /** Maps boxes [M,4] xyxy in pixels of the view's last `apply` back to that input's frame, clipped to it. */
  invertBoxes(boxes: Tensor): Tensor;
}

/** Boxes [M,4] xyxy: x ↦ x·sx + ox, y ↦ y·sy + oy (mirrored: x ↦ w − x, with x1 and x2 swapped), clipped to h×w. */
function mapBoxes(b: Tensor, o: { sx?: number; sy?: number; ox?: number; oy?: number; mirrorX?: boolean; mirrorY?: boolean }, h: number, w: number): Tensor {
  if (b.ndim !== 2 || b.shape[1] !== 4) throw new TypeError(`TTA: boxes must be [M, 4] xyxy, got [${b.shape}]`);
  if (h === 0) throw new Error('TTA: a view inverts boxes after apply() saw the images');
  let [x1, y1, x2, y2] = b.unbind(1);
  x1 = x1.mul(o.sx ?? 1).add(o.ox ?? 0); x2 = x2.mul(o.sx ?? 1).add(o.ox ?? 0);
  y1 = y1.mul(o.sy ?? 1).add(o.oy ?? 0); y2 = y2.mul(o.sy ?? 1).add(o.oy ?? 0);
  if (o.mirrorX) [x1, x2] = [x2.rsub(w), x1.rsub(w)];
  if (o.mirrorY) [y1, y2] = [y2.rsub(h), y1.rsub(h)];
  return torch.stack([x1.clamp(0, w), y1.clamp(0, h), x2.clamp(0, w), y2.clamp(0, h)], 1);
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
  // Each view is made for one predictViews call: apply() records the input's size, which invert() and invertBoxes() use.
  const seen = () => {
    const v = { h: 0, w: 0, record: (x: Tensor) => { [v.h, v.w] = [x.shape[2], x.shape[3]]; return x; } };
    return v;
  };
  const id = seen();
  const views: View[] = [{ name: 'identity', apply: id.record, invert: (p) => p, invertBoxes: (b) => mapBoxes(b, {}, id.h, id.w) }];
  for (const f of o.flips ?? []) {
    if (f !== 'h' && f !== 'v') throw new RangeError(`tta.flips: expected 'h' or 'v', got ${JSON.stringify(f)}`);
    const dim = f === 'h' ? 3 : 2;
    const z = seen();
    views.push({
      name: `flip-${f}`, apply: (x) => z.record(x).flip(dim), invert: (p) => (dense(p) ? p.flip(dim) : p),
      invertBoxes: (b) => mapBoxes(b, { mirrorX: f === 'h', mirrorY: f === 'v' }, z.h, z.w),
    });
  }
  for (const s of o.shifts ?? []) {
    if (!Array.isArray(s) || s.length !== 2 || !s.every(Number.isInteger)) throw new RangeError(`tta.shifts: expected [dx, dy] integer pairs, got ${JSON.stringify(s)}`);
    const [dx, dy] = s;
    const z = seen();
    views.push({
      name: `shift(${dx},${dy})`, apply: (x) => shiftImage(z.record(x), dx, dy), invert: (p) => (dense(p) ? shiftImage(p, -dx, -dy) : p),
      invertBoxes: (b) => mapBoxes(b, { ox: -dx, oy: -dy }, z.h, z.w),
    });
  }
  for (const s of o.scales ?? []) {
    if (!(s > 0 && Number.isFinite(s))) throw new RangeError(`tta.scales: expected positive numbers, got ${s}`);
    if (s === 1) continue;
    const z = seen();
    views.push({
      name: `scale(${s})`, apply: (x) => scaleImage(z.record(x), s), invert: (p) => (dense(p) ? scaleImage(p, 1 / s) : p),
      // scaleImage: resized to (sh, sw), then centre-cropped by ((sh − h) >> 1, (sw − w) >> 1) or padded by ((h − sh) >> 1, (w − sw) >> 1).
      invertBoxes: (b) => {
        const sh = Math.max(1, Math.round(z.h * s)), sw = Math.max(1, Math.round(z.w * s));
        const grow = sh >= z.h && sw >= z.w;
        const top = grow ? -((sh - z.h) >> 1) : (z.h - sh) >> 1, left = grow ? -((sw - z.w) >> 1) : (z.w - sw) >> 1;
        return mapBoxes(b, { sx: z.w / sw, sy: z.h / sh, ox: (-left * z.w) / sw, oy: (-top * z.h) / sh }, z.h, z.w);
      },
    });
  }
  for (const r of o.ratios ?? []) {
    if (!(r > 0 && Number.isFinite(r))) throw new RangeError(`tta.ratios: expected positive numbers, got ${r}`);
    if (r === 1) continue;
    // mmseg's multi-scale TTA (img_ratios): the whole image resized by r, its scores resized back to the image's size.
    // A view is made for one predictViews call: apply() records the size that invert() restores.
    let size: [number, number] = [0, 0];
    const viewSize = (): [number, number] => [Math.max(1, Math.round(size[0] * r)), Math.max(1, Math.round(size[1] * r))];
    views.push({
      name: `ratio(${r})`,
      apply: (x) => {
        size = [x.shape[2], x.shape[3]];
        return F.interpolate(x, { size: viewSize(), mode: 'bilinear' });
      },
      invert: (p) => (dense(p) ? F.interpolate(p, { size, mode: 'bilinear' }) : p),
      invertBoxes: (b) => { const [vh, vw] = viewSize(); return mapBoxes(b, { sx: size[1] / vw, sy: size[0] / vh }, size[0], size[1]); },
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
