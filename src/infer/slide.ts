// Sliding-window inference for dense predictions (mmseg's
// EncoderDecoder.slide_inference, mode='slide'): crops of `crop` pixels every
// `stride` pixels, the last row and column of crops moved back to end at the
// image's border, each crop's scores added into place and divided by how
// many crops covered each pixel. For images larger than the training crop.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';

export interface SlideOptions {
  /** [h, w] of a crop (mmseg crop_size). */
  crop: [number, number];
  /** [h, w] between crops (mmseg stride). */
  stride: [number, number];
}

/** Scores [N,K,H,W] of `forward` (crop [N,C,h,w] → scores [N,K,h,w]) over sliding crops of x [N,C,H,W]. */
export function slideInference(forward: (crop: Tensor) => Tensor, x: Tensor, o: SlideOptions): Tensor {
  if (x.ndim !== 4) throw new TypeError(`slideInference: images must be [N, C, H, W], got [${x.shape}]`);
  const ok = (p: unknown) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v > 0);
  if (!ok(o?.crop) || !ok(o?.stride)) throw new TypeError(`slideInference: crop and stride must be [h, w] positive integers, got crop ${JSON.stringify(o?.crop)}, stride ${JSON.stringify(o?.stride)}`);
  const [n, , H, W] = x.shape;
  const [ch, cw] = o.crop, [sh, sw] = o.stride;
  const hGrids = Math.floor(Math.max(H - ch + sh - 1, 0) / sh) + 1;
  const wGrids = Math.floor(Math.max(W - cw + sw - 1, 0) / sw) + 1;
  // The sum and the count are allocated once; each window's scores are added in place into their view of them, and
  // each window's tensors are freed with its scope (memory: one N·K·H·W sum, not one per window).
  let sum: Tensor | null = null;
  const count = torch.zeros([1, 1, H, W], { device: x.device });
  try {
    for (let i = 0; i < hGrids; i++) {
      for (let j = 0; j < wGrids; j++) {
        const y2 = Math.min(i * sh + ch, H), x2 = Math.min(j * sw + cw, W);
        const y1 = Math.max(y2 - ch, 0), x1 = Math.max(x2 - cw, 0);
        // The first window's scope returns the sum it allocates (so it moves to the caller's scope); the others return nothing.
        const made: Tensor | null = torch.scope(() => {
          const scores = forward(x.narrow(2, y1, y2 - y1).narrow(3, x1, x2 - x1));
          if (scores.ndim !== 4 || scores.shape[0] !== n || scores.shape[2] !== y2 - y1 || scores.shape[3] !== x2 - x1) {
            throw new TypeError(`slideInference: a crop [${n}, ·, ${y2 - y1}, ${x2 - x1}] gave scores [${scores.shape}]; expected [${n}, K, ${y2 - y1}, ${x2 - x1}]`);
          }
          const into = sum ?? torch.zeros([n, scores.shape[1], H, W], { device: x.device });
          if (scores.shape[1] !== into.shape[1]) throw new TypeError(`slideInference: a crop gave scores of ${scores.shape[1]} channels, the first crop ${into.shape[1]}`);
          into.narrow(2, y1, y2 - y1).narrow(3, x1, x2 - x1).add_(scores.float());
          count.narrow(2, y1, y2 - y1).narrow(3, x1, x2 - x1).add_(1);
          return sum === null ? into : null;
        });
        if (made) sum = made;
      }
    }
    return sum!.div_(count);
  } catch (e) {
    (sum as Tensor | null)?.dispose();
    throw e;
  } finally {
    count.dispose();
  }
}
