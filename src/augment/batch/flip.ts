// RandomFlip on a whole batch [N,C,H,W] (mmdet `RandomFlip` names): each image
// flips with probability `prob`, drawn from the seeded JS generator; one flip of
// the batch and a where(), no per-pixel loops. 'diagonal' flips both axes
// (mmdet's meaning). Labels are unchanged.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Rng } from '../../data/rng.js';
import type { AugmentContext, BatchTransform, ImageBatch } from './types.js';
import { num, obj, oneOf, opt } from '../../engine/schema.js';

export type FlipDirection = 'horizontal' | 'vertical' | 'diagonal';
const DIMS: Record<FlipDirection, number[]> = { horizontal: [3], vertical: [2], diagonal: [2, 3] };

export function randomFlip(x: Tensor, p: number, direction: FlipDirection, rng: Rng): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`randomFlip: prob must be in [0, 1], got ${p}`);
  if (!(direction in DIMS)) throw new RangeError(`randomFlip: direction must be one of ${Object.keys(DIMS).join(', ')}, got ${String(direction)}`);
  const n = x.shape[0];
  const pick = new Uint8Array(n);
  let any = false;
  for (let i = 0; i < n; i++) { pick[i] = rng.random() < p ? 1 : 0; any ||= pick[i] === 1; }
  if (!any) return x;
  const mask = torch.tensor(pick).bool().reshape(n, 1, 1, 1);
  return torch.where(mask, x.flip(DIMS[direction]), x);
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
    return { images: randomFlip(b.images, this.prob, this.direction, ctx.rng), labels: b.labels };
  }
}
