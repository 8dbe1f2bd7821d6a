// Semantic FPN (Kirillov et al., "Panoptic Feature Pyramid Networks", CVPR
// 2019, §3 and Fig. 3) as mmseg 1.x's model "fpn" (configs/_base_/models/
// fpn_r50.py): a ResNet, torchvision's FPN neck (out 256; mmseg uses its own
// FPN with the same computation but xavier init and lateral_convs/fpn_convs
// names), and mmseg's FPNHead (mmseg/models/decode_heads/fpn_head.py: 128
// channels, feature strides 4, 8, 16, 32, dropout 0.1). Module names are
// mmseg's EncoderDecoder's (backbone, neck, decode_head) and FPNHead's
// (scale_heads.<i>.<j>.conv / .bn, conv_seg), to help porters; the backbone is
// torchvision's ResNet (its keys under backbone., as a classifier's), the neck
// torchvision's FPN (its keys under neck.). mmseg's checkpoints are not a target.
import { Module } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers/conv.js';
import { BatchNorm2d } from '../../nn/layers/norm.js';
import { ReLU, Dropout2d, Upsample } from '../../nn/layers/activation.js';
import { ModuleList, Sequential } from '../../nn/layers/container.js';
import * as init from '../../nn/init.js';
import * as F from '../../torch/functional.js';
import { Tensor } from '../../torch/tensor.js';
import { ARCHS, ResNetBackbone, type ResNetArch } from '../backbones/resnet.js';
import { FeaturePyramidNetwork } from '../necks/fpn.js';

/**
 * mmcv's ConvModule with BN and ReLU: conv (no bias: the norm follows), bn,
 * activate. Init as mmcv's: kaiming normal (fan_out, relu), zero bias; BN 1, 0.
 */
export class ConvModule extends Module {
  conv: Conv2d;
  bn: BatchNorm2d;
  activate: ReLU;
  constructor(inChannels: number, outChannels: number, kernelSize: number, padding: number) {
    super();
    this.conv = new Conv2d(inChannels, outChannels, kernelSize, { padding, bias: false });
    this.bn = new BatchNorm2d(outChannels);
    this.activate = new ReLU();
    init.kaimingNormal_(this.conv.weight, { mode: 'fan_out', nonlinearity: 'relu' });
  }
  forward(x: Tensor): Tensor {
    return this.activate.forward(this.bn.forward(this.conv.forward(x)));
  }
}

export interface FPNHeadOptions {
  /** Channels of each input level (mmseg in_channels: the neck's, [256, 256, 256, 256]). */
  inChannels: readonly number[];
  /** Strides of the input levels, powers of 2, the first the smallest (mmseg feature_strides; [4, 8, 16, 32]). */
  featureStrides: readonly number[];
  /** Classes. */
  numClasses: number;
  /** Channels of the scale heads (mmseg channels; 128 in fpn_r50). */
  channels?: number;
  /** Dropout2d before conv_seg (mmseg dropout_ratio; 0.1). */
  dropoutRatio?: number;
}

/**
 * mmseg's FPNHead: level i goes through max(1, log2(s_i / s_0)) ConvModules
 * (3x3, BN, ReLU), each followed by a bilinear x2 upsample (align_corners
 * false) unless s_i = s_0; the levels are summed at the first level's size
 * (resized bilinearly where the upsampled size differs), then Dropout2d and
 * conv_seg (1x1). Output [N, numClasses, h_0, w_0]. conv_seg: normal(std
 * 0.01), zero bias (mmseg's BaseDecodeHead init_cfg). conv_seg is declared
 * last (mmseg's state dict lists it first; the keys are the same) so that
 * GradNorm's default shared layer, the last weight, is the class scores.
 */
export class FPNHead extends Module {
  scale_heads: ModuleList;
  dropout: Dropout2d | null;
  conv_seg: Conv2d;
  readonly featureStrides: readonly number[];

  constructor(opts: FPNHeadOptions) {
    super();
    if (typeof opts !== 'object' || opts === null) throw new TypeError('FPNHead: options must be an object');
    const valid = ['inChannels', 'featureStrides', 'numClasses', 'channels', 'dropoutRatio'];
    for (const k of Object.keys(opts)) if (!valid.includes(k)) throw new TypeError(`FPNHead: unknown option '${k}' (valid: ${valid.join(', ')})`);
    const { inChannels, featureStrides, numClasses } = opts;
    const channels = opts.channels ?? 128;
    const dropoutRatio = opts.dropoutRatio ?? 0.1;
    if (!Array.isArray(inChannels) || inChannels.length === 0 || inChannels.some((c) => !Number.isInteger(c) || c < 1))
      throw new RangeError(`FPNHead: inChannels must be a non-empty array of positive integers, got ${JSON.stringify(inChannels)}`);
    if (!Array.isArray(featureStrides) || featureStrides.length !== inChannels.length)
      throw new RangeError(`FPNHead: featureStrides must have one stride per input level (${inChannels.length}), got ${JSON.stringify(featureStrides)}`);
    const s0 = featureStrides[0];
    for (const s of featureStrides) {
      if (!Number.isInteger(s) || s < 1 || !Number.isInteger(Math.log2(s)) || s < s0)
        throw new RangeError(`FPNHead: featureStrides must be powers of 2, the first the smallest, got ${JSON.stringify(featureStrides)}`);
    }
    for (const [k, v] of Object.entries({ numClasses, channels })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`FPNHead: ${k} must be a positive integer, got ${String(v)}`);
    }
    if (typeof dropoutRatio !== 'number' || !(dropoutRatio >= 0 && dropoutRatio < 1)) throw new RangeError(`FPNHead: dropoutRatio must be in [0, 1), got ${String(dropoutRatio)}`);

    this.scale_heads = new ModuleList(featureStrides.map((s, i) => {
      const length = Math.max(1, Math.log2(s) - Math.log2(s0));
      const mods: Module[] = [];
      for (let k = 0; k < length; k++) {
        mods.push(new ConvModule(k === 0 ? inChannels[i] : channels, channels, 3, 1));
        if (s !== s0) mods.push(new Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners: false }));
      }
      return new Sequential(...mods);
    }));
    this.dropout = dropoutRatio > 0 ? new Dropout2d(dropoutRatio) : null;
    this.conv_seg = new Conv2d(channels, numClasses, 1);
    init.normal_(this.conv_seg.weight, 0, 0.01);
    init.zeros_(this.conv_seg.bias!);
    this.featureStrides = [...featureStrides];
  }

  forward(x: Tensor[]): Tensor {
    const n = this.featureStrides.length;
    if (!Array.isArray(x) || x.length !== n) throw new TypeError(`FPNHead: expected a list of ${n} feature maps, got ${Array.isArray(x) ? x.length : String(x)}`);
    let out = (this.scale_heads.at(0) as Sequential).forward(x[0]) as Tensor;
    const size = [out.shape[2], out.shape[3]];
    for (let i = 1; i < n; i++) {
      let y = (this.scale_heads.at(i) as Sequential).forward(x[i]) as Tensor;
      // mmseg resizes every level to the first's size; at the same size bilinear (align_corners false) is the identity.
      if (y.shape[2] !== size[0] || y.shape[3] !== size[1]) y = F.interpolate(y, { size, mode: 'bilinear', alignCorners: false });
      out = out.add(y);
    }
    if (this.dropout) out = this.dropout.forward(out);
    return this.conv_seg.forward(out);
  }
}

export interface SemanticFPNOptions {
  /** Classes, background included. */
  numClasses: number;
  /** Input channels. Default 3. */
  inChannels?: number;
  /** The ResNet's base width (64). */
  width?: number;
  /** The neck's output channels (mmseg fpn_r50: 256). */
  neckChannels?: number;
  /** The head's channels (128). */
  channels?: number;
  /** Dropout2d before conv_seg (0.1). */
  dropoutRatio?: number;
}

export const SEMANTIC_FPN_OPTION_KEYS = ['numClasses', 'inChannels', 'width', 'neckChannels', 'channels', 'dropoutRatio'] as const;

/**
 * ResNet (stem + layer1..4: C2..C5 at strides 4..32) → FPN → FPNHead (stride
 * 4) → logits resized bilinearly (align_corners false) to the input's size, as
 * mmseg's EncoderDecoder. Any input size works (the FPN resizes to each
 * lateral's size).
 */
export class SemanticFPN extends Module {
  backbone: ResNetBackbone;
  neck: FeaturePyramidNetwork;
  decode_head: FPNHead;

  constructor(arch: ResNetArch, opts: SemanticFPNOptions) {
    super();
    if (typeof opts !== 'object' || opts === null) throw new TypeError('SemanticFPN: options must be an object');
    for (const k of Object.keys(opts)) {
      if (!(SEMANTIC_FPN_OPTION_KEYS as readonly string[]).includes(k)) throw new TypeError(`SemanticFPN: unknown option '${k}' (valid: ${SEMANTIC_FPN_OPTION_KEYS.join(', ')})`);
    }
    const neckChannels = opts.neckChannels ?? 256;
    this.backbone = new ResNetBackbone(arch, { inChannels: opts.inChannels ?? 3, width: opts.width ?? 64 });
    this.neck = new FeaturePyramidNetwork(this.backbone.stageChannels, neckChannels);
    this.decode_head = new FPNHead({
      inChannels: this.backbone.stageChannels.map(() => neckChannels),
      featureStrides: [4, 8, 16, 32],
      numClasses: opts.numClasses,
      channels: opts.channels ?? 128,
      dropoutRatio: opts.dropoutRatio ?? 0.1,
    });
  }

  forward(x: Tensor): Tensor {
    if (x.dim() !== 4) throw new RangeError(`SemanticFPN: expected input [N, C, H, W], got [${x.shape.join(', ')}]`);
    if (x.shape[1] !== this.backbone.conv1.inChannels) throw new RangeError(`SemanticFPN: expected ${this.backbone.conv1.inChannels} input channels, got input [${x.shape.join(', ')}]`);
    const feats = this.backbone.forwardFeatures(x).slice(1); // layer1..layer4
    const out = this.decode_head.forward(this.neck.forward(feats));
    return F.interpolate(out, { size: [x.shape[2], x.shape[3]], mode: 'bilinear', alignCorners: false });
  }
}

/** mmseg's fpn_r50 with torchvision's ResNet-18 (no mmseg config; the same neck and head). */
export function fpnResNet18(opts: SemanticFPNOptions): SemanticFPN { return new SemanticFPN(ARCHS.resnet18, opts); }
/** mmseg's fpn_r50 (configs/_base_/models/fpn_r50.py) on torchvision's ResNet-50. */
export function fpnResNet50(opts: SemanticFPNOptions): SemanticFPN { return new SemanticFPN(ARCHS.resnet50, opts); }
