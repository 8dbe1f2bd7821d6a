// Per-image transforms on a large batch, a few images at a time. A batch of
// 128 × 3×224×224 floats is 77 MB: each whole-batch intermediate is then a
// fresh mmap (glibc serves blocks over 32 MB that way, page faults included)
// streamed through DRAM, while torchvision's per-sample transforms work on
// 600 KB images that stay in cache. Running the per-image steps on chunks of
// about CHUNK_BYTES, each chunk in its own scope (its intermediates are freed
// and reused, cache-hot, by the next) and copied into one output, does the same
// work in cache. Batches under CHUNK_FROM_BYTES (Fashion-MNIST's 128 × 28×28
// is 0.4 MB) run whole, as before. The chunk size depends only on the image
// shape and dtype, so the same seed still gives the same batch on any machine;
// random draws happen chunk by chunk (all steps on chunk 1, then chunk 2, ...).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { itemSize } from '../../torch/dtype.js';
import type { AugmentContext, BatchTransform, ImageBatch } from './types.js';

export const CHUNK_BYTES = 2 << 20;
export const CHUNK_FROM_BYTES = 8 << 20;

/** Images per chunk for this batch, or 0 to run it whole. */
export function chunkImages(images: Tensor): number {
  const [n] = images.shape;
  const bytes = images.numel() * itemSize(images.dtype);
  if (n < 2 || bytes < CHUNK_FROM_BYTES) return 0;
  return Math.max(1, Math.floor(CHUNK_BYTES / (bytes / n)));
}

function slice(b: ImageBatch, start: number, len: number): ImageBatch {
  const out: ImageBatch = { images: b.images.narrow(0, start, len) };
  if (b.labels) out.labels = b.labels.narrow(0, start, len);
  if (b.masks) out.masks = b.masks.narrow(0, start, len);
  if (b.masks2) out.masks2 = b.masks2.narrow(0, start, len);
  if (b.lam) out.lam = b.lam.narrow(0, start, len);
  if (b.boxes) out.boxes = b.boxes.slice(start, start + len);
  if (b.boxLabels) out.boxLabels = b.boxLabels.slice(start, start + len);
  return out;
}

/** Runs `steps` (per-image transforms) over b in chunks of `per` images; images, labels and masks are copied into one output each. */
export function applyByChunks(steps: BatchTransform[], b: ImageBatch, ctx: AugmentContext, per: number): ImageBatch {
  const n = b.images.shape[0];
  const dense = ['images', 'labels', 'masks', 'masks2', 'lam'] as const;
  const out: ImageBatch = { ...b };
  const boxes: Tensor[] = [], boxLabels: Tensor[] = [];
  for (let start = 0; start < n; start += per) {
    const len = Math.min(per, n - start);
    // What the scope returns (this chunk's boxes, and the first chunk's dense results) moves to the caller's scope.
    const c = torch.scope(() => {
      let c = slice(b, start, len);
      for (const s of steps) c = s.apply(c, ctx);
      if (start > 0) {
        for (const k of dense) {
          const t = c[k];
          if (!t) continue;
          if (!out[k] || out[k]!.shape.slice(1).join() !== t.shape.slice(1).join() || out[k]!.dtype !== t.dtype) {
            throw new Error(`augment: a per-image step gave ${k} [${t.shape}] ${t.dtype} for images ${start}…${start + len - 1}, unlike the first chunk's`);
          }
          out[k]!.narrow(0, start, len).copy_(t);
        }
        return { boxes: c.boxes, boxLabels: c.boxLabels } as ImageBatch;
      }
      return c;
    });
    if (start === 0) {
      for (const k of dense) {
        const t = c[k];
        if (!t) { delete out[k]; continue; }
        out[k] = torch.empty([n, ...t.shape.slice(1)], { dtype: t.dtype });
        out[k]!.narrow(0, 0, len).copy_(t);
        t.dispose();
      }
    }
    if (c.boxes) boxes.push(...c.boxes);
    if (c.boxLabels) boxLabels.push(...c.boxLabels);
  }
  if (b.boxes) out.boxes = boxes;
  if (b.boxLabels) out.boxLabels = boxLabels;
  return out;
}
