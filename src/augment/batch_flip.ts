// RandomFlip on a whole batch [N,C,H,W]: each image flips with probability p,
// drawn from the seeded JS generator; one flip of the batch and a where(), no
// per-pixel loops. (The full per-sample pipeline with boxes and masks is
// src/augment's RandomFlip.)
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import type { Rng } from '../data/rng.js';

export type FlipDirection = 'horizontal' | 'vertical';

export function randomFlip(x: Tensor, p: number, direction: FlipDirection, rng: Rng): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`randomFlip: prob must be in [0, 1], got ${p}`);
  const n = x.shape[0];
  const pick = new Uint8Array(n);
  let any = false;
  for (let i = 0; i < n; i++) { pick[i] = rng.random() < p ? 1 : 0; any ||= pick[i] === 1; }
  if (!any) return x;
  const mask = torch.tensor(pick).bool().reshape(n, 1, 1, 1);
  return torch.where(mask, x.flip(direction === 'horizontal' ? 3 : 2), x);
}
