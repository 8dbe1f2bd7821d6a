// Box bookkeeping shared by the geometric transforms: boxes are float [M,4]
// xyxy in pixels, one tensor per image, with labels int64 [M]. After a move,
// boxes are clipped to the image and those narrower or shorter than
// `minSize` pixels are dropped with their labels (mmdet FilterAnnotations,
// min_gt_bbox_wh = 1).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { clipBoxesToImage } from '../../ops/boxes.js';

/** Flips boxes in an image of h×w: horizontal maps x to w − x, vertical y to h − y. */
export function flipBoxes(b: Tensor, h: number, w: number, horizontal: boolean, vertical: boolean): Tensor {
  const [x1, y1, x2, y2] = b.unbind(1);
  const nx1 = horizontal ? x2.rsub(w) : x1, nx2 = horizontal ? x1.rsub(w) : x2;
  const ny1 = vertical ? y2.rsub(h) : y1, ny2 = vertical ? y1.rsub(h) : y2;
  return torch.stack([nx1, ny1, nx2, ny2], 1);
}

/** Shifts boxes by (dx, dy), clips them to w×h and keeps those at least minSize wide and high. */
export function shiftClipFilter(b: Tensor, labels: Tensor, dx: number, dy: number, h: number, w: number, minSize: number): { boxes: Tensor; labels: Tensor } {
  if (b.shape[0] === 0) return { boxes: b, labels };
  const shifted = b.add(torch.tensor([dx, dy, dx, dy], { dtype: 'float32' }).to({ dtype: b.dtype }));
  return filterBoxes(clipBoxesToImage(shifted, [h, w]), labels, minSize);
}

/** Keeps the boxes at least minSize wide and high and with positive area (torchvision's removeSmallBoxes keeps zero-area boxes at minSize 0). */
export function filterBoxes(b: Tensor, labels: Tensor, minSize: number): { boxes: Tensor; labels: Tensor } {
  if (b.shape[0] === 0) return { boxes: b, labels };
  const [x1, y1, x2, y2] = b.unbind(1);
  const bw = x2.sub(x1), bh = y2.sub(y1);
  const keep = bw.ge(minSize).logicalAnd(bh.ge(minSize)).logicalAnd(bw.gt(0)).logicalAnd(bh.gt(0));
  const idx = keep.nonzero().reshape(-1);
  return { boxes: b.indexSelect(0, idx), labels: labels.indexSelect(0, idx) };
}

/** Checks that boxes and boxLabels come together, one [M,4] / [M] pair per image. */
export function checkBoxes(boxes: Tensor[] | undefined, labels: Tensor[] | undefined, n: number, who: string): void {
  if (!boxes && !labels) return;
  if (!boxes || !labels || boxes.length !== n || labels.length !== n) throw new TypeError(`${who}: boxes and boxLabels must both be given, one per image (${n})`);
  boxes.forEach((b, i) => {
    if (b.ndim !== 2 || b.shape[1] !== 4) throw new TypeError(`${who}: boxes[${i}] must be [M, 4] xyxy, got [${b.shape}]`);
    if (labels[i].ndim !== 1 || labels[i].shape[0] !== b.shape[0]) throw new TypeError(`${who}: boxLabels[${i}] must be [${b.shape[0]}], got [${labels[i].shape}]`);
  });
}
