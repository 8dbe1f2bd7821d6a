// Box regression losses on paired boxes [..., 4] xyxy, with torchvision 0.14's
// definitions (torchvision.ops: generalized_box_iou_loss, distance_box_iou_loss,
// complete_box_iou_loss, eps 1e-7) and mmdet's IoULoss (linear: 1 − IoU).
// GIoU: Rezatofighi et al. 2019; DIoU and CIoU: Zheng et al., AAAI 2020 (CIoU's
// trade-off α is computed without gradient, as both references do).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import { reduce, type Reduction } from './focal.js';

function parts(a: Tensor, b: Tensor, who: string) {
  if (a.shape.join() !== b.shape.join() || a.shape[a.ndim - 1] !== 4) throw new TypeError(`${who}: boxes must both be [..., 4] of one shape, got [${a.shape}] and [${b.shape}]`);
  const [x1, y1, x2, y2] = a.unbind(-1);
  const [x1g, y1g, x2g, y2g] = b.unbind(-1);
  const iw = x2.minimum(x2g).sub(x1.maximum(x1g)).clamp(0);
  const ih = y2.minimum(y2g).sub(y1.maximum(y1g)).clamp(0);
  const inter = iw.mul(ih);
  const union = x2.sub(x1).mul(y2.sub(y1)).add(x2g.sub(x1g).mul(y2g.sub(y1g))).sub(inter);
  const cw = x2.maximum(x2g).sub(x1.minimum(x1g)), ch = y2.maximum(y2g).sub(y1.minimum(y1g));
  return { x1, y1, x2, y2, x1g, y1g, x2g, y2g, inter, union, cw, ch };
}

export function iouLoss(a: Tensor, b: Tensor, opts: { eps?: number; reduction?: Reduction } = {}): Tensor {
  const p = parts(a, b, 'iouLoss');
  return reduce(p.inter.div(p.union.add(opts.eps ?? 1e-7)).rsub(1), opts.reduction ?? 'mean');
}

export function giouLoss(a: Tensor, b: Tensor, opts: { eps?: number; reduction?: Reduction } = {}): Tensor {
  const eps = opts.eps ?? 1e-7;
  const p = parts(a, b, 'giouLoss');
  const iou = p.inter.div(p.union.add(eps));
  const areaC = p.cw.mul(p.ch);
  return reduce(iou.sub(areaC.sub(p.union).div(areaC.add(eps))).rsub(1), opts.reduction ?? 'mean');
}

function diou(a: Tensor, b: Tensor, eps: number, who: string) {
  const p = parts(a, b, who);
  const iou = p.inter.div(p.union.add(eps));
  const diag = p.cw.square().add(p.ch.square()).add(eps);
  const dx = p.x1.add(p.x2).sub(p.x1g.add(p.x2g)).div(2), dy = p.y1.add(p.y2).sub(p.y1g.add(p.y2g)).div(2);
  return { p, iou, loss: iou.rsub(1).add(dx.square().add(dy.square()).div(diag)) };
}

export function diouLoss(a: Tensor, b: Tensor, opts: { eps?: number; reduction?: Reduction } = {}): Tensor {
  return reduce(diou(a, b, opts.eps ?? 1e-7, 'diouLoss').loss, opts.reduction ?? 'mean');
}

export function ciouLoss(a: Tensor, b: Tensor, opts: { eps?: number; reduction?: Reduction } = {}): Tensor {
  const eps = opts.eps ?? 1e-7;
  const { p, iou, loss } = diou(a, b, eps, 'ciouLoss');
  const atan = (t: Tensor): Tensor => torch.ops.callOp('aten::atan', t);
  const v = atan(p.x2g.sub(p.x1g).div(p.y2g.sub(p.y1g))).sub(atan(p.x2.sub(p.x1).div(p.y2.sub(p.y1)))).square().mul(4 / (Math.PI * Math.PI));
  const alpha = torch.noGrad(() => v.div(iou.rsub(1).add(v).add(eps)));
  return reduce(loss.add(alpha.mul(v)), opts.reduction ?? 'mean');
}
