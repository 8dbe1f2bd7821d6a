// Boolean masks [N,1,H,W] of one axis-aligned rectangle per image, built from
// per-image row and column ranges with two comparisons and an outer AND: no
// per-pixel JS loops. An empty range (lo == hi) gives an empty mask.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';

export interface Rects {
  top: Int32Array; bottom: Int32Array; left: Int32Array; right: Int32Array;
}

export function emptyRects(n: number): Rects {
  return { top: new Int32Array(n), bottom: new Int32Array(n), left: new Int32Array(n), right: new Int32Array(n) };
}

/** mask[i, 0, y, x] = top[i] <= y < bottom[i] and left[i] <= x < right[i]. */
export function rectMask(r: Rects, h: number, w: number): Tensor {
  const n = r.top.length;
  const ys = torch.arange(h).reshape(1, h);
  const xs = torch.arange(w).reshape(1, w);
  const col = (a: Int32Array) => torch.tensor(a).long().reshape(n, 1);
  const rows = ys.ge(col(r.top)).logicalAnd(ys.lt(col(r.bottom)));
  const cols = xs.ge(col(r.left)).logicalAnd(xs.lt(col(r.right)));
  return rows.reshape(n, 1, h, 1).logicalAnd(cols.reshape(n, 1, 1, w));
}
