// Keep-ratio resizing of one sample (mmcv imresize with keep_ratio): the image
// bilinearly (half-pixel centres, as cv2.INTER_LINEAR), the mask by nearest
// neighbour, boxes scaled by the same factor.
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Sample } from './types.js';

/** The image [C,H,W] resized to h×w, as float (pixel units kept). */
export function resizeImage(image: Tensor, h: number, w: number): Tensor {
  const [, h0, w0] = image.shape;
  const x = image.float();
  if (h === h0 && w === w0) return x;
  return F.interpolate(x.unsqueeze(0), { size: [h, w], mode: 'bilinear' }).squeeze(0);
}

export function resizeMask(mask: Tensor, h: number, w: number): Tensor {
  if (mask.shape[0] === h && mask.shape[1] === w) return mask;
  // upsample_nearest2d has no int64 kernel: class ids (≤ 255) travel as uint8.
  return F.interpolate(mask.to('uint8').reshape(1, 1, mask.shape[0], mask.shape[1]), { size: [h, w], mode: 'nearest' }).reshape(h, w).long();
}

/** Scale factor min(H/h, W/w) so the sample fits in H×W keeping its aspect ratio (mmdet Mosaic/MixUp). */
export function fitRatio(h: number, w: number, maxH: number, maxW: number): number {
  return Math.min(maxH / h, maxW / w);
}

/** Resizes a sample by `ratio` (sizes truncated as mmdet does: int(w·ratio)); image comes back float. */
export function rescaleSample(s: Sample, ratio: number): Sample {
  const [, h0, w0] = s.image.shape;
  const h = Math.max(1, Math.trunc(h0 * ratio)), w = Math.max(1, Math.trunc(w0 * ratio));
  const out: Sample = { ...s, image: resizeImage(s.image, h, w) };
  if (s.mask) out.mask = resizeMask(s.mask, h, w);
  if (s.boxes) out.boxes = s.boxes.mul(ratio);
  return out;
}

/** Resizes a sample to exactly h×w (the aspect ratio is not kept): image bilinear (float), mask nearest, boxes scaled per axis. */
export function resizeSampleTo(s: Sample, h: number, w: number): Sample {
  const [, h0, w0] = s.image.shape;
  if (h === h0 && w === w0) return s;
  const out: Sample = { ...s, image: resizeImage(s.image, h, w) };
  if (s.mask) out.mask = resizeMask(s.mask, h, w);
  if (s.boxes) out.boxes = s.boxes.float().mul(torch.tensor([w / w0, h / h0, w / w0, h / h0], { dtype: 'float32' }));
  return out;
}

export function canvas(c: number, h: number, w: number, value: number): Tensor {
  return torch.full([c, h, w], value, { dtype: 'float32' });
}
