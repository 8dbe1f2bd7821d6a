// RandomFlip on a whole batch [N,C,H,W] (mmdet `RandomFlip` names): each image
// flips with probability `prob`, drawn from the seeded JS generator; the chosen
// images are gathered, flipped and copied back (index_copy), no per-pixel loops. 'diagonal' flips both axes
// (mmdet's meaning). Masks flip with the pixels; boxes map x to W − x (and/or
// y to H − y). Class labels are unchanged.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Rng } from '../../data/rng.js';
import { type AugmentContext, type BatchTransform, type ImageBatch, drawCount, shardRows } from './types.js';
import { num, obj, oneOf, opt } from '../../util/schema.js';
import { checkBoxes, flipBoxes } from './boxes.js';

export type FlipDirection = 'horizontal' | 'vertical' | 'diagonal';
const DIMS: Record<FlipDirection, number[]> = { horizontal: [3], vertical: [2], diagonal: [2, 3] };

/** Which of n images flip (one draw each). */
function drawFlips(n: number, p: number, direction: FlipDirection, rng: Rng): Uint8Array {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`randomFlip: prob must be in [0, 1], got ${p}`);
  if (!(direction in DIMS)) throw new RangeError(`randomFlip: direction must be one of ${Object.keys(DIMS).join(', ')}, got ${String(direction)}`);
  const pick = new Uint8Array(n);
  for (let i = 0; i < n; i++) pick[i] = rng.random() < p ? 1 : 0;
  return pick;
}

/** Flips the images [N,C,H,W] (or masks [N,H,W]) where pick[i] is set: only those are read, flipped and copied back into a copy of x. */
function flipWhere(x: Tensor, pick: Uint8Array, direction: FlipDirection): Tensor {
  const idx: number[] = [];
  pick.forEach((v, i) => { if (v) idx.push(i); });
  if (idx.length === 0) return x;
  const shift = 4 - x.ndim; // masks have no channel dimension
  const dims = DIMS[direction].map((d) => d - shift);
  if (idx.length === x.shape[0]) return x.flip(dims);
  const it = torch.tensor(Int32Array.from(idx)).long();
  return torch.ops.callOp('aten::index_copy', x, 0, it, x.indexSelect(0, it).flip(dims));
}

export function randomFlip(x: Tensor, p: number, direction: FlipDirection, rng: Rng): Tensor {
  return flipWhere(x, drawFlips(x.shape[0], p, direction, rng), direction);
}

export interface RandomFlipOptions {
  /** Probability of a flip per image (mmdet default 0.5 when given). */
  prob?: number;
  direction?: FlipDirection;
}

export class RandomFlip implements BatchTransform {
  readonly type = 'RandomFlip';
  static readonly schema = obj({ type: opt(oneOf('RandomFlip')), prob: opt(num(0, 1)), direction: opt(oneOf('horizontal', 'vertical', 'diagonal')) });
  readonly prob: number;
  readonly direction: FlipDirection;
  constructor(opts: RandomFlipOptions = {}) {
    this.prob = opts.prob ?? 0.5;
    this.direction = opts.direction ?? 'horizontal';
  }
  apply(b: ImageBatch, ctx: AugmentContext): ImageBatch {
    const [n, , h, w] = b.images.shape;
    checkBoxes(b.boxes, b.boxLabels, n, 'RandomFlip');
    const pick = shardRows(ctx, drawFlips(drawCount(ctx, n), this.prob, this.direction, ctx.rng));
    const out: ImageBatch = { ...b, images: flipWhere(b.images, pick, this.direction) };
    if (b.masks) out.masks = flipWhere(b.masks, pick, this.direction);
    if (b.masks2) out.masks2 = flipWhere(b.masks2, pick, this.direction);
    if (b.boxes) {
      const hz = this.direction !== 'vertical', vt = this.direction !== 'horizontal';
      out.boxes = b.boxes.map((bx, i) => (pick[i] ? flipBoxes(bx, h, w, hz, vt) : bx));
    }
    return out;
  }
}
