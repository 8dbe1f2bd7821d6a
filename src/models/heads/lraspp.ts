// Lite R-ASPP (Howard et al., "Searching for MobileNetV3", ICCV 2019, §6.4),
// as torchvision 0.14's (torchvision/models/segmentation/lraspp.py): the
// LRASPPHead, and LRASPP on a dilated MobileNetV3-Large
// (`lraspp_mobilenet_v3_large`). Module names are torchvision's, so the state
// dict is torchvision's as it is: `backbone.<i>…` (its IntermediateLayerGetter
// keeps features 0..16, all of them, under their indices) and
// `classifier.cbr.0.weight`, `classifier.scale.1.weight`,
// `classifier.low_classifier.weight`, `classifier.high_classifier.weight`.
import { Module, type StateDict } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers/conv.js';
import { BatchNorm2d } from '../../nn/layers/norm.js';
import { ReLU, Sigmoid, AdaptiveAvgPool2d } from '../../nn/layers/activation.js';
import { Sequential } from '../../nn/layers/container.js';
import * as F from '../../torch/functional.js';
import { Tensor } from '../../torch/tensor.js';
import { mobileNetV3LargeFeatures, type MobileNetV3Features } from '../backbones/mobilenet_v3.js';

/**
 * torchvision's LRASPPHead: high → cbr (1x1 conv, BN (PyTorch's defaults: eps
 * 1e-5, momentum 0.1), ReLU) times scale (global pool, 1x1 conv, sigmoid),
 * upsampled bilinearly (align_corners false) to the low features' size, through
 * high_classifier, plus low_classifier(low). Output [N, numClasses, h_low, w_low].
 * Convs keep PyTorch's default init (torchvision does not re-initialise the head).
 */
export class LRASPPHead extends Module {
  cbr: Sequential;
  scale: Sequential;
  low_classifier: Conv2d;
  high_classifier: Conv2d;
  constructor(lowChannels: number, highChannels: number, numClasses: number, interChannels = 128) {
    super();
    for (const [k, v] of Object.entries({ lowChannels, highChannels, numClasses, interChannels })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`LRASPPHead: ${k} must be a positive integer, got ${String(v)}`);
    }
    this.cbr = new Sequential(new Conv2d(highChannels, interChannels, 1, { bias: false }), new BatchNorm2d(interChannels), new ReLU());
    this.scale = new Sequential(new AdaptiveAvgPool2d(1), new Conv2d(highChannels, interChannels, 1, { bias: false }), new Sigmoid());
    this.low_classifier = new Conv2d(lowChannels, numClasses, 1);
    this.high_classifier = new Conv2d(interChannels, numClasses, 1);
  }
  forward(low: Tensor, high: Tensor): Tensor {
    let x = (this.cbr.forward(high) as Tensor).mul(this.scale.forward(high) as Tensor);
    x = F.interpolate(x, { size: [low.shape[2], low.shape[3]], mode: 'bilinear', alignCorners: false });
    return this.low_classifier.forward(low).add(this.high_classifier.forward(x));
  }
}

export interface LRASPPOptions {
  /** Classes, background included. Default 21 (torchvision's default, Pascal VOC). */
  numClasses?: number;
  /** Input channels of the backbone's first conv. Default 3. */
  inChannels?: number;
  /** The backbone's widthMult (torchvision's width_mult; its lraspp builder has none, _lraspp_mobilenetv3 takes any). Default 1. */
  widthMult?: number;
  /** Channels of the head's cbr and scale branches. Default 128. */
  interChannels?: number;
}

export const LRASPP_OPTION_KEYS = ['numClasses', 'inChannels', 'widthMult', 'interChannels'] as const;

/**
 * torchvision's LRASPP over a dilated MobileNetV3-Large: low = features[stageIndices[-4]]
 * (features[4], C2, output stride 8), high = features[stageIndices[-1]]
 * (features[16], the last conv, output stride 16). forward(x) → logits
 * [N, numClasses, H, W], upsampled bilinearly (align_corners false) to the
 * input's size (torchvision's result['out']; there is no auxiliary output).
 */
export class LRASPP extends Module {
  backbone: MobileNetV3Features;
  classifier: LRASPPHead;
  readonly lowPos: number;
  readonly highPos: number;
  constructor(opts: LRASPPOptions = {}) {
    super();
    if (typeof opts !== 'object' || opts === null) throw new TypeError('LRASPP: options must be an object');
    for (const k of Object.keys(opts)) {
      if (!(LRASPP_OPTION_KEYS as readonly string[]).includes(k)) throw new TypeError(`LRASPP: unknown option '${k}' (valid: ${LRASPP_OPTION_KEYS.join(', ')})`);
    }
    this.backbone = mobileNetV3LargeFeatures({ inChannels: opts.inChannels ?? 3, widthMult: opts.widthMult ?? 1, dilated: true });
    const s = this.backbone.stageIndices;
    this.lowPos = s[s.length - 4];
    this.highPos = s[s.length - 1];
    this.classifier = new LRASPPHead(this.backbone.channels[this.lowPos], this.backbone.channels[this.highPos], opts.numClasses ?? 21, opts.interChannels ?? 128);
  }
  forward(x: Tensor): Tensor {
    if (x.dim() !== 4) throw new RangeError(`LRASPP: expected input [N, C, H, W], got [${x.shape.join(', ')}]`);
    const [low, high] = this.backbone.forwardAt(x, [this.lowPos, this.highPos]);
    const out = this.classifier.forward(low, high);
    return F.interpolate(out, { size: [x.shape[2], x.shape[3]], mode: 'bilinear', alignCorners: false });
  }
  /** Arsenal's keys are torchvision's here: `keys` ('arsenal' or 'torchvision', as ResNet's) gives the same dict. */
  override stateDict(opts: { keys?: 'arsenal' | 'torchvision' } = {}): StateDict {
    const keys = opts?.keys ?? 'arsenal';
    if (keys !== 'arsenal' && keys !== 'torchvision') throw new RangeError(`LRASPP.stateDict: keys must be 'arsenal' or 'torchvision', got ${JSON.stringify(keys)}`);
    return super.stateDict();
  }
}

/** torchvision.models.segmentation.lraspp_mobilenet_v3_large(num_classes, weights_backbone=None): 3.22M parameters at 21 classes. */
export function lrasppMobileNetV3Large(opts: LRASPPOptions = {}): LRASPP { return new LRASPP(opts); }
