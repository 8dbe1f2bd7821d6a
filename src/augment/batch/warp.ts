// Kornia-style resampling of a whole batch: each image's source window
// (x0, y0, width, height in pixels, may reach outside the image) and optional
// horizontal flip become one affine matrix; affine_grid + grid_sample (both
// ATen) resample all images at once to the output size, and the same mapping
// moves masks (nearest) and boxes. With alignCorners false, a window that
// matches the output size pixel for pixel is an exact copy, and bilinear
// resampling equals F.interpolate's (torchvision's tensor resize).
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import type { Tensor } from '../../torch/tensor.js';
import { type AugmentContext, type ImageBatch, normalisedFill } from './types.js';
import { IGNORE_INDEX } from '../../data/sample.js';
import { filterBoxes } from './boxes.js';

export interface Windows {
  x0: Float64Array; y0: Float64Array; w: Float64Array; h: Float64Array;
  /** 1 where the output is mirrored left-right. */
  flip?: Uint8Array;
}

/** theta [N,2,3] mapping normalised output coordinates to normalised input coordinates. */
export function windowTheta(win: Windows, inH: number, inW: number): Tensor {
  const n = win.x0.length;
  const t = new Float32Array(n * 6);
  for (let i = 0; i < n; i++) {
    const sx = win.w[i] / inW, sy = win.h[i] / inH;
    const f = win.flip?.[i] ? -1 : 1;
    t.set([f * sx, 0, (2 * win.x0[i] + win.w[i]) / inW - 1, 0, sy, (2 * win.y0[i] + win.h[i]) / inH - 1], i * 6);
  }
  return torch.tensor(t).reshape(n, 2, 3);
}

/** Masks [N,H,W] sampled nearest at grid [N,h,w,2] (normalised input coordinates) → [N,h,w]; outside the image 255. */
export function sampleMasks(masks: Tensor, grid: Tensor): Tensor {
  const g = grid.to({ dtype: 'float32' });
  const inside = g.abs().le(1 + 1e-6).all(3);
  const m = F.gridSample(masks.unsqueeze(1).float(), g, { mode: 'nearest', paddingMode: 'border', alignCorners: false }).round().long().squeeze(1);
  return m.maskedFill(inside.logicalNot(), IGNORE_INDEX);
}

/** Resamples the batch's windows to outH×outW: images bilinear (outside = fill, in 0–1 pixel units), masks nearest (outside = 255), boxes mapped, clipped and filtered. */
export function warpWindows(b: ImageBatch, win: Windows, outH: number, outW: number, ctx: AugmentContext, opts: { fill?: number | number[]; mode?: 'bilinear' | 'nearest'; minBoxSize?: number } = {}): ImageBatch {
  const [n, c, h, w] = b.images.shape;
  const grid = F.affineGrid(windowTheta(win, h, w).to({ dtype: b.images.dtype }), [n, c, outH, outW], false);
  const fill = torch.tensor(normalisedFill(opts.fill ?? 0, ctx, c), { dtype: 'float32' }).reshape(1, c, 1, 1).to({ dtype: b.images.dtype });
  // Border padding replicates the edge within its half pixel (as F.interpolate clamps); beyond the image is fill.
  const inside = grid.abs().le(1 + 1e-6).all(3).unsqueeze(1);
  const sampled = F.gridSample(b.images, grid, { mode: opts.mode ?? 'bilinear', paddingMode: 'border', alignCorners: false });
  const out: ImageBatch = { ...b, images: torch.where(inside, sampled, fill.expandAs(sampled)) };
  if (b.masks) out.masks = sampleMasks(b.masks, grid);
  if (b.masks2) out.masks2 = sampleMasks(b.masks2, grid);
  if (b.boxes) {
    const kept = b.boxes.map((bx, i) => {
      if (bx.shape[0] === 0) return { boxes: bx, labels: b.boxLabels![i] };
      const sx = outW / win.w[i], sy = outH / win.h[i];
      let [x1, y1, x2, y2] = bx.unbind(1).map((v, j) => (j % 2 === 0 ? v.sub(win.x0[i]).mul(sx) : v.sub(win.y0[i]).mul(sy)));
      if (win.flip?.[i]) [x1, x2] = [x2.rsub(outW), x1.rsub(outW)];
      const clipped = torch.stack([x1.clamp(0, outW), y1.clamp(0, outH), x2.clamp(0, outW), y2.clamp(0, outH)], 1);
      return filterBoxes(clipped, b.boxLabels![i], opts.minBoxSize ?? 1);
    });
    out.boxes = kept.map((k) => k.boxes);
    out.boxLabels = kept.map((k) => k.labels);
  }
  return out;
}
