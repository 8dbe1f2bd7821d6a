// torchvision 0.14's BoxLinearCoder (torchvision/models/detection/_utils.py),
// FCOS's box parametrisation: the distances (l, t, r, b) from a reference
// box's centre (FCOS's point) to a box's four edges, divided by the reference
// box's width / height when normalizeBySize (FCOS: true, so each level
// regresses distances in units of its anchor size).
import type { Tensor } from '../../torch/tensor.js';
import { stack } from '../../torch/join.js';

export class BoxLinearCoder {
  constructor(readonly normalizeBySize = true) {}

  /** (l, t, r, b) of `boxes` [..., 4] xyxy from the centres of `reference` [..., 4] xyxy (broadcast). */
  encode(reference: Tensor, boxes: Tensor): Tensor {
    const [rx1, ry1, rx2, ry2] = reference.unbind(-1);
    const [x1, y1, x2, y2] = boxes.unbind(-1);
    const cx = rx1.add(rx2).mul(0.5), cy = ry1.add(ry2).mul(0.5);
    const t = stack([cx.sub(x1), cy.sub(y1), x2.sub(cx), y2.sub(cy)], -1);
    if (!this.normalizeBySize) return t;
    const w = rx2.sub(rx1), h = ry2.sub(ry1);
    return t.div(stack([w, h, w, h], -1));
  }

  /** Boxes [..., 4] xyxy from distances `relCodes` [..., 4] and the reference boxes [..., 4] (broadcast). */
  decode(relCodes: Tensor, reference: Tensor): Tensor {
    const ref = reference.to({ dtype: relCodes.dtype });
    const [rx1, ry1, rx2, ry2] = ref.unbind(-1);
    const cx = rx1.add(rx2).mul(0.5), cy = ry1.add(ry2).mul(0.5);
    let d = relCodes;
    if (this.normalizeBySize) {
      const w = rx2.sub(rx1), h = ry2.sub(ry1);
      d = d.mul(stack([w, h, w, h], -1));
    }
    const [l, t, r, b] = d.unbind(-1);
    return stack([cx.sub(l), cy.sub(t), cx.add(r), cy.add(b)], -1);
  }
}
