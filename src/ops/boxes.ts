// Box operations on whole tensors, torchvision 0.14's torchvision.ops names and
// semantics (ops/boxes.py, ops/_box_convert.py): boxes are [..., 4], xyxy
// unless a format says otherwise. Half-precision and small integer boxes are
// widened first (torchvision's _upcast) so areas do not overflow.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import { boxesArg } from './check.js';

export type BoxFormat = 'xyxy' | 'xywh' | 'cxcywh';
const FORMATS: readonly BoxFormat[] = ['xyxy', 'xywh', 'cxcywh'];

/** torchvision's _upcast: float16/bfloat16 → float32, 8/16-bit integers → int32. */
function upcast(t: Tensor): Tensor {
  const d = t.dtype;
  if (d === 'float16' || d === 'bfloat16') return t.float();
  if (d === 'uint8' || d === 'int8' || d === 'int16' || d === 'bool') return t.int();
  return t;
}

function areaOf(b: Tensor): Tensor {
  const [x1, y1, x2, y2] = upcast(b).unbind(-1);
  return x2.sub(x1).mul(y2.sub(y1));
}

/** box_area: (x2 − x1)(y2 − y1) of boxes [..., 4] xyxy → [...]. */
export function boxArea(boxes: Tensor): Tensor {
  const b = boxesArg(boxes, 'boxArea');
  return torch.scope(() => areaOf(b));
}

/** Pairwise intersection and union: [..., N, 4] × [..., M, 4] → [..., N, M] (torchvision's _box_inter_union, with leading dims broadcast). */
function interUnion(a: Tensor, b: Tensor): { inter: Tensor; union: Tensor } {
  const a1 = a.unsqueeze(-2), b1 = b.unsqueeze(-3); // [..., N, 1, 4], [..., 1, M, 4]
  const lt = a1.narrow(-1, 0, 2).maximum(b1.narrow(-1, 0, 2));
  const rb = a1.narrow(-1, 2, 2).minimum(b1.narrow(-1, 2, 2));
  const [w, h] = upcast(rb.sub(lt)).clamp(0).unbind(-1);
  const inter = w.mul(h);
  return { inter, union: areaOf(a).unsqueeze(-1).add(areaOf(b).unsqueeze(-2)).sub(inter) };
}

function pairArgs(boxes1: unknown, boxes2: unknown, who: string): [Tensor, Tensor] {
  const a = boxesArg(boxes1, who, 'boxes1'), b = boxesArg(boxes2, who, 'boxes2');
  if (a.ndim < 2 || a.ndim !== b.ndim) throw new TypeError(`${who}: boxes1 and boxes2 must be [N, 4] and [M, 4] (or [..., N, 4] and [..., M, 4]), got [${a.shape}] and [${b.shape}]`);
  if (a.dtype !== b.dtype) throw new TypeError(`${who}: boxes1 (${a.dtype}) and boxes2 (${b.dtype}) must have one dtype`);
  return [a, b];
}

/** box_iou: the [N, M] IoU matrix of boxes1 [N, 4] and boxes2 [M, 4] (xyxy; leading batch dims broadcast). */
export function boxIou(boxes1: Tensor, boxes2: Tensor): Tensor {
  const [a, b] = pairArgs(boxes1, boxes2, 'boxIou');
  return torch.scope(() => {
    const { inter, union } = interUnion(a, b);
    return inter.div(union);
  });
}

/** generalized_box_iou (Rezatofighi et al. 2019): IoU − (C − union) / C with C the smallest enclosing box's area, [N, M]. */
export function generalizedBoxIou(boxes1: Tensor, boxes2: Tensor): Tensor {
  const [a, b] = pairArgs(boxes1, boxes2, 'generalizedBoxIou');
  return torch.scope(() => {
    const { inter, union } = interUnion(a, b);
    const iou = inter.div(union);
    const a1 = a.unsqueeze(-2), b1 = b.unsqueeze(-3);
    const lti = a1.narrow(-1, 0, 2).minimum(b1.narrow(-1, 0, 2));
    const rbi = a1.narrow(-1, 2, 2).maximum(b1.narrow(-1, 2, 2));
    const [w, h] = upcast(rbi.sub(lti)).clamp(0).unbind(-1);
    const areai = w.mul(h);
    return iou.sub(areai.sub(union).div(areai));
  });
}

/** box_convert between 'xyxy' (corners), 'xywh' (top-left corner, size) and 'cxcywh' (centre, size); boxes [..., 4]. */
export function boxConvert(boxes: Tensor, inFmt: BoxFormat, outFmt: BoxFormat): Tensor {
  const b = boxesArg(boxes, 'boxConvert');
  for (const [k, v] of [['inFmt', inFmt], ['outFmt', outFmt]] as const)
    if (!FORMATS.includes(v)) throw new TypeError(`boxConvert: ${k} must be one of ${FORMATS.map((f) => `'${f}'`).join(', ')}, got ${JSON.stringify(v)}`);
  if (inFmt === outFmt) return b.clone();
  return torch.scope(() => {
    let xyxy = b;
    if (inFmt === 'xywh') {
      const [x, y, w, h] = b.unbind(-1);
      xyxy = torch.stack([x, y, x.add(w), y.add(h)], -1);
    } else if (inFmt === 'cxcywh') {
      const [cx, cy, w, h] = b.unbind(-1);
      const hw = w.mul(0.5), hh = h.mul(0.5);
      xyxy = torch.stack([cx.sub(hw), cy.sub(hh), cx.add(hw), cy.add(hh)], -1);
    }
    if (outFmt === 'xyxy') return xyxy;
    const [x1, y1, x2, y2] = xyxy.unbind(-1);
    const w = x2.sub(x1), h = y2.sub(y1);
    return outFmt === 'xywh' ? torch.stack([x1, y1, w, h], -1) : torch.stack([x1.add(x2).div(2), y1.add(y2).div(2), w, h], -1);
  });
}

/** clip_boxes_to_image: x into [0, width], y into [0, height]; size is [height, width] as torchvision's. */
export function clipBoxesToImage(boxes: Tensor, size: [number, number]): Tensor {
  const b = boxesArg(boxes, 'clipBoxesToImage');
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => typeof v === 'number' && v >= 0 && Number.isFinite(v)))
    throw new TypeError(`clipBoxesToImage: size must be [height, width] (non-negative numbers), got ${JSON.stringify(size)}`);
  const [h, w] = size;
  return torch.scope(() => {
    const [x1, y1, x2, y2] = b.unbind(-1);
    return torch.stack([x1.clamp(0, w), y1.clamp(0, h), x2.clamp(0, w), y2.clamp(0, h)], -1);
  });
}

/** remove_small_boxes: int64 indices of the boxes [N, 4] whose width and height are both ≥ minSize. */
export function removeSmallBoxes(boxes: Tensor, minSize: number): Tensor {
  const b = boxesArg(boxes, 'removeSmallBoxes', 'boxes', 2);
  if (typeof minSize !== 'number' || !Number.isFinite(minSize)) throw new TypeError(`removeSmallBoxes: minSize must be a number, got ${String(minSize)}`);
  return torch.scope(() => {
    const [x1, y1, x2, y2] = b.unbind(1);
    return x2.sub(x1).ge(minSize).logicalAnd(y2.sub(y1).ge(minSize)).nonzero().reshape(-1);
  });
}
