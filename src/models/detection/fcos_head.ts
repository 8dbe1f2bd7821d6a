// FCOS's head as torchvision 0.14's FCOSHead (torchvision/models/detection/fcos.py):
// shared over the pyramid's levels, two towers of `numConvs` × (conv 3x3 →
// GroupNorm(32) → ReLU), then
//   classification_head.cls_logits   conv 3x3 → K logits per location
//   regression_head.bbox_reg         conv 3x3 → ReLU → 4 distances (in anchor sizes)
//   regression_head.bbox_ctrness     conv 3x3 → 1 centre-ness logit (on the regression
//                                    tower: "centerness on reg", FCOS v2)
// Module names, so state-dict keys, are torchvision's
// (head.classification_head.conv.0.weight, head.regression_head.bbox_ctrness.bias);
// init too: every conv N(0, 0.01), biases 0 but cls_logits' −log((1 − π) / π)
// with prior π = 0.01 (Lin et al. 2017 §4.1). GroupNorms start at weight 1, bias 0.
// Outputs per level [N, C·A, H, W] → [N, H·W·A, C], levels concatenated.
import { Module } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers/conv.js';
import { GroupNorm } from '../../nn/layers/norm.js';
import { ReLU } from '../../nn/layers/activation.js';
import { Sequential } from '../../nn/layers/container.js';
import * as init from '../../nn/init.js';
import { Tensor } from '../../torch/tensor.js';
import { cat } from '../../torch/join.js';

/** torchvision's GroupNorm groups in the FCOS head (partial(nn.GroupNorm, 32)). */
export const FCOS_HEAD_NORM_GROUPS = 32;

function tower(inChannels: number, numConvs: number): Sequential {
  const mods: Module[] = [];
  for (let i = 0; i < numConvs; i++) {
    const conv = new Conv2d(inChannels, inChannels, 3, { padding: 1 });
    init.normal_(conv.weight, 0, 0.01);
    init.zeros_(conv.bias!);
    mods.push(conv, new GroupNorm(FCOS_HEAD_NORM_GROUPS, inChannels), new ReLU());
  }
  return new Sequential(...mods);
}

/** [N, C·A, H, W] → [N, H·W·A, C] (torchvision's view → permute(0, 3, 4, 1, 2) → reshape). */
function flattenLevel(t: Tensor, c: number): Tensor {
  const [n, , h, w] = t.shape;
  return t.view(n, -1, c, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, c);
}

function checkLevels(who: string, x: Tensor[], channels: number): void {
  if (!Array.isArray(x) || x.length === 0) throw new TypeError(`${who}: expected a non-empty list of feature maps`);
  x.forEach((t, i) => {
    if (!(t instanceof Tensor) || t.dim() !== 4 || t.shape[1] !== channels)
      throw new RangeError(`${who}: feature map ${i} must be [N, ${channels}, H, W], got ${t instanceof Tensor ? `[${t.shape.join(', ')}]` : String(t)}`);
  });
}

/** torchvision's FCOSClassificationHead: `conv` (the tower), `cls_logits`. */
export class FCOSClassificationHead extends Module {
  conv: Sequential;
  cls_logits: Conv2d;
  constructor(readonly inChannels: number, readonly numAnchors: number, readonly numClasses: number, numConvs = 4, priorProbability = 0.01) {
    super();
    this.conv = tower(inChannels, numConvs);
    this.cls_logits = new Conv2d(inChannels, numAnchors * numClasses, 3, { padding: 1 });
    init.normal_(this.cls_logits.weight, 0, 0.01);
    init.constant_(this.cls_logits.bias!, -Math.log((1 - priorProbability) / priorProbability));
  }
  /** Logits [N, Σ H·W·A, K]. */
  forward(x: Tensor[]): Tensor {
    checkLevels('FCOSClassificationHead', x, this.inChannels);
    return cat(x.map((f) => flattenLevel(this.cls_logits.forward(this.conv.forward(f) as Tensor), this.numClasses)), 1);
  }
}

/** torchvision's FCOSRegressionHead: `conv` (the tower), `bbox_reg`, `bbox_ctrness`. */
export class FCOSRegressionHead extends Module {
  conv: Sequential;
  bbox_reg: Conv2d;
  bbox_ctrness: Conv2d;
  constructor(readonly inChannels: number, readonly numAnchors: number, numConvs = 4) {
    super();
    this.conv = tower(inChannels, numConvs);
    this.bbox_reg = new Conv2d(inChannels, numAnchors * 4, 3, { padding: 1 });
    this.bbox_ctrness = new Conv2d(inChannels, numAnchors, 3, { padding: 1 });
    for (const c of [this.bbox_reg, this.bbox_ctrness]) {
      init.normal_(c.weight, 0, 0.01);
      init.zeros_(c.bias!);
    }
  }
  /** Distances [N, Σ H·W·A, 4] (ReLU'd, in anchor sizes) and centre-ness logits [N, Σ H·W·A, 1]. */
  forward(x: Tensor[]): [Tensor, Tensor] {
    checkLevels('FCOSRegressionHead', x, this.inChannels);
    const reg: Tensor[] = [], ctr: Tensor[] = [];
    for (const f of x) {
      const t = this.conv.forward(f) as Tensor;
      reg.push(flattenLevel(this.bbox_reg.forward(t).relu(), 4));
      ctr.push(flattenLevel(this.bbox_ctrness.forward(t), 1));
    }
    return [cat(reg, 1), cat(ctr, 1)];
  }
}

/** The head's outputs over all levels (torchvision's dict: cls_logits, bbox_regression, bbox_ctrness). */
export interface FCOSHeadOutputs {
  /** [N, Σ H·W·A, K] */
  clsLogits: Tensor;
  /** [N, Σ H·W·A, 4] */
  bboxRegression: Tensor;
  /** [N, Σ H·W·A, 1] */
  bboxCtrness: Tensor;
}

/** torchvision's FCOSHead: `classification_head`, `regression_head`. */
export class FCOSHead extends Module {
  classification_head: FCOSClassificationHead;
  regression_head: FCOSRegressionHead;
  constructor(inChannels: number, numAnchors: number, numClasses: number, numConvs = 4) {
    super();
    for (const [k, v] of Object.entries({ inChannels, numAnchors, numClasses })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`FCOSHead: ${k} must be a positive integer, got ${String(v)}`);
    }
    if (!Number.isInteger(numConvs) || numConvs < 0) throw new RangeError(`FCOSHead: numConvs must be a non-negative integer, got ${String(numConvs)}`);
    if (inChannels % FCOS_HEAD_NORM_GROUPS !== 0)
      throw new RangeError(`FCOSHead: inChannels (${inChannels}) must be divisible by the head's GroupNorm groups (${FCOS_HEAD_NORM_GROUPS}, torchvision's)`);
    this.classification_head = new FCOSClassificationHead(inChannels, numAnchors, numClasses, numConvs);
    this.regression_head = new FCOSRegressionHead(inChannels, numAnchors, numConvs);
  }
  forward(x: Tensor[]): FCOSHeadOutputs {
    const clsLogits = this.classification_head.forward(x);
    const [bboxRegression, bboxCtrness] = this.regression_head.forward(x);
    return { clsLogits, bboxRegression, bboxCtrness };
  }
}
