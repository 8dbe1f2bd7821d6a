// FCOS (Tian et al., "FCOS: Fully Convolutional One-Stage Object Detection",
// ICCV 2019; the v2 refinements torchvision has: centre sampling, GIoU,
// centre-ness on the regression tower) laid out as torchvision 0.14's
// (torchvision/models/detection/fcos.py fcos_resnet50_fpn):
//   backbone.body.*   ResNet conv1..layer4 (torchvision's norm_layer: FrozenBatchNorm2d
//                     with a pretrained backbone, BatchNorm2d without), conv1 and layer1
//                     frozen by default (trainable_backbone_layers 3)
//   backbone.fpn.*    FPN on layer2..layer4 (returned_layers [2, 3, 4]) to outChannels (256),
//                     extra block LastLevelP6P7(256, 256): in == out, so P6 comes from P5
//                     (use_P5), P7 from relu(P6) → P3..P7
//   head.*            FCOSHead (fcos_head.ts), GroupNorm(32), numConvs 4
// so a torchvision state dict (random-init: BatchNorm2d with num_batches_tracked;
// pretrained: FrozenBatchNorm2d without) loads strictly and gives torchvision's head
// outputs. forward(x) → the head's outputs with the points (anchors.ts) —
// torchvision's FCOS.forward before its loss or postprocessing, which are
// fcosLoss (fcos_loss.ts, FCOS.loss) and fcosPostprocess (fcos_postprocess.ts).
//
// Not ported: GeneralizedRCNNTransform. Arsenal feeds fixed-size batches
// already normalised (the Predictor subtracts the mean and divides by the std:
// torchvision's ImageNet mean / std there), so there is no resize to
// min_size 800 / max_size 1333, no padding to 32 and no rescaling of boxes back.
//
// fcosMobileNetV3LargeFpn is Arsenal's (torchvision has no FCOS on MobileNet):
// torchvision's mobilenet_backbone('mobilenet_v3_large', fpn=True) layout
// (backbone.body.<i>.*, backbone.fpn.*) with returned_layers [2, 3, 5] —
// features 4, 7 and 16, strides 8, 16, 32 — and LastLevelP6P7(256, 256), so
// the levels and anchor sizes are the ResNet's; BatchNorm2d only (eps 0.001,
// the classifier's).
import { Module, loadInto, type StateDict, type LoadResult, type LoadStateDictOptions } from '../../nn/module.js';
import { frozenBnExtraKeys } from '../../nn/layers/norm.js';
import { Tensor } from '../../torch/tensor.js';
import { ResNetBackbone, ARCHS, type ResNetArch, type NormLayer } from '../backbones/resnet.js';
import { mobileNetV3LargeFeatures } from '../backbones/mobilenet_v3.js';
import { LastLevelP6P7 } from '../necks/fpn.js';
import { BackboneWithFPN, freezeResNetLayers, freezeMobileNetLayers } from './backbone_fpn.js';
import { FCOSHead, type FCOSHeadOutputs } from './fcos_head.js';
import { fcosAnchors, FCOS_ANCHOR_SIZES } from './anchors.js';
import { fcosLoss, type FCOSTarget, type FCOSLosses, type FCOSLossOptions } from './fcos_loss.js';
import { batchedNms } from '../../ops/nms.js';
import { fcosPostprocess, type BatchedNms, type FCOSDetections, type FCOSPostprocessOptions } from './fcos_postprocess.js';

/** FCOS.forward: the head's outputs over all levels, the points, and what postprocessing needs. */
export interface FCOSOutputs extends FCOSHeadOutputs {
  /** [A, 4] xyxy: one anchor per location of every level (the same for every image). */
  anchors: Tensor;
  /** Locations per level, finest (P3) first. */
  numAnchorsPerLevel: number[];
  /** [H, W] of the input. */
  imageSize: [number, number];
}

export interface FCOSOptions {
  /** Classes (torchvision: background included in the count, 91 for COCO; FCOS's sigmoid head scores each). Default 91. */
  numClasses?: number;
  /** Convs per head tower. Default 4. */
  numConvs?: number;
  /** FPN and head channels (torchvision: 256, fixed by _resnet_fpn_extractor). Must divide by 32 (the head's GroupNorm). Default 256. */
  outChannels?: number;
  /** ResNet's norm: 'frozen' (FrozenBatchNorm2d, torchvision's with weights_backbone, its default) or 'batch' (its without). Default 'frozen'. */
  normLayer?: NormLayer;
  /**
   * torchvision's trainable_backbone_layers: the stages trained, from the last
   * (ResNet: layer4, layer3, layer2, layer1, conv1; 5 also bn1; MobileNetV3: 0..6
   * stages). Default 3 (torchvision's with a pretrained backbone; it trains all
   * — 5, 6 — without one).
   */
  trainableBackboneLayers?: number;
  /** ResNet's base width (64): narrow models for tests. */
  width?: number;
  /** MobileNetV3's width multiplier (1). */
  widthMult?: number;
  /** Input channels. Default 3. */
  inChannels?: number;
  /** Anchor size per level, P3..P7 (torchvision's anchor_sizes). Default [8, 16, 32, 64, 128]. */
  anchorSizes?: number[];
  /** Centre-sampling radius in anchor sizes (torchvision center_sampling_radius). Default 1.5. */
  centerSamplingRadius?: number;
}

/** torchvision's FCOS(backbone, num_classes) with one anchor per location: `backbone` (BackboneWithFPN), `head` (FCOSHead). */
export class FCOS extends Module {
  backbone: BackboneWithFPN;
  head: FCOSHead;
  readonly numClasses: number;
  readonly anchorSizes: readonly number[];
  readonly centerSamplingRadius: number;
  /** Where a classifier's backbone lands (loadBackbone, torchvision's weights_backbone): the body of the BackboneWithFPN. */
  readonly backbonePrefix = 'backbone.body.';

  constructor(backbone: BackboneWithFPN, numClasses: number, opts: { numConvs?: number; anchorSizes?: readonly number[]; centerSamplingRadius?: number } = {}) {
    super();
    if (!(backbone instanceof BackboneWithFPN)) throw new TypeError('FCOS: backbone must be a BackboneWithFPN');
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`FCOS: numClasses must be a positive integer, got ${String(numClasses)}`);
    const sizes = opts.anchorSizes ?? FCOS_ANCHOR_SIZES;
    if (!Array.isArray(sizes) || sizes.length === 0 || !sizes.every((s) => typeof s === 'number' && s > 0)) throw new RangeError(`FCOS: anchorSizes must be positive numbers, one per level, got ${JSON.stringify(sizes)}`);
    const radius = opts.centerSamplingRadius ?? 1.5;
    if (typeof radius !== 'number' || !(radius > 0)) throw new RangeError(`FCOS: centerSamplingRadius must be > 0, got ${String(radius)}`);
    this.backbone = backbone;
    this.head = new FCOSHead(backbone.outChannels, 1, numClasses, opts.numConvs ?? 4);
    this.numClasses = numClasses;
    this.anchorSizes = [...sizes];
    this.centerSamplingRadius = radius;
  }

  forward(x: Tensor): FCOSOutputs {
    if (!(x instanceof Tensor) || x.dim() !== 4) throw new RangeError(`FCOS: expected input [N, C, H, W], got ${x instanceof Tensor ? `[${x.shape.join(', ')}]` : String(x)}`);
    const feats = this.backbone.forward(x);
    if (feats.length !== this.anchorSizes.length)
      throw new RangeError(`FCOS: the backbone gives ${feats.length} feature maps but there are ${this.anchorSizes.length} anchor sizes (one per level)`);
    const imageSize: [number, number] = [x.shape[2], x.shape[3]];
    const grids = feats.map((f) => [f.shape[2], f.shape[3]] as [number, number]);
    const head = this.head.forward(feats);
    return { ...head, anchors: fcosAnchors(grids, imageSize, this.anchorSizes), numAnchorsPerLevel: grids.map(([h, w]) => h * w), imageSize };
  }

  /** torchvision's training losses on `out` (this model's forward) and a target per image. */
  loss(out: FCOSOutputs, targets: readonly FCOSTarget[], opts: Omit<FCOSLossOptions, 'centerSamplingRadius'> = {}): FCOSLosses {
    return fcosLoss(out, targets, { ...opts, centerSamplingRadius: this.centerSamplingRadius });
  }

  /** The detections per image (fcosPostprocess; `nms` is torchvision's batched_nms: src/ops/nms.ts by default). */
  postprocess(out: FCOSOutputs, nms: BatchedNms = batchedNms, opts: FCOSPostprocessOptions = {}): FCOSDetections[] {
    return fcosPostprocess(out, nms, opts);
  }

  /** Arsenal's keys are torchvision's here: `keys` ('arsenal' or 'torchvision', as ResNet's) gives the same dict. */
  override stateDict(opts: { keys?: 'arsenal' | 'torchvision' } = {}): StateDict {
    const keys = opts?.keys ?? 'arsenal';
    if (keys !== 'arsenal' && keys !== 'torchvision') throw new RangeError(`FCOS.stateDict: keys must be 'arsenal' or 'torchvision', got ${JSON.stringify(keys)}`);
    return super.stateDict();
  }

  /**
   * Strict by default, torchvision's keys. Both kinds of torchvision dict load
   * into either norm: a BatchNorm2d's `num_batches_tracked` is dropped where
   * the model has a FrozenBatchNorm2d (torchvision's
   * FrozenBatchNorm2d._load_from_state_dict deletes it), and may be missing
   * where it has a BatchNorm2d (PyTorch's BatchNorm fills it in for a dict
   * without version metadata, as a safetensors file is).
   */
  override loadStateDict(sd: StateDict, opts: LoadStateDictOptions = {}): LoadResult {
    if (typeof sd !== 'object' || sd === null || Array.isArray(sd)) throw new TypeError('FCOS.loadStateDict: expected a state dict (an object of tensors by key)');
    const own = this.stateDict();
    const drop = new Set(frozenBnExtraKeys(own, sd));
    const kept = Object.fromEntries(Object.entries(sd).filter(([k]) => !drop.has(k)));
    return loadInto(own, kept, opts, (k) => k.endsWith('.num_batches_tracked'), 'FCOS.loadStateDict');
  }
}

const COMMON_KEYS = ['numClasses', 'numConvs', 'outChannels', 'trainableBackboneLayers', 'inChannels', 'anchorSizes', 'centerSamplingRadius'] as const;
export const FCOS_RESNET_OPTION_KEYS = [...COMMON_KEYS, 'normLayer', 'width'] as const;
export const FCOS_MOBILENET_OPTION_KEYS = [...COMMON_KEYS, 'widthMult'] as const;

function checkOptions(what: string, opts: FCOSOptions, keys: readonly string[]): void {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${what}: options must be an object`);
  for (const [k, v] of Object.entries(opts)) {
    if (v !== undefined && !keys.includes(k)) throw new TypeError(`${what}: unknown option '${k}' (valid: ${keys.join(', ')})`);
  }
  for (const k of ['numClasses', 'outChannels', 'inChannels', 'width'] as const) {
    const v = opts[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new RangeError(`${what}: ${k} must be a positive integer, got ${String(v)}`);
  }
  if (opts.outChannels !== undefined && opts.outChannels % 32 !== 0) throw new RangeError(`${what}: outChannels must be a multiple of 32 (the head's GroupNorm(32)), got ${opts.outChannels}`);
  if (opts.numConvs !== undefined && (!Number.isInteger(opts.numConvs) || opts.numConvs < 0)) throw new RangeError(`${what}: numConvs must be a non-negative integer, got ${String(opts.numConvs)}`);
}

function fcosResNet(arch: ResNetArch, what: string, opts: FCOSOptions): FCOS {
  checkOptions(what, opts, FCOS_RESNET_OPTION_KEYS);
  const normLayer = opts.normLayer ?? 'frozen';
  if (normLayer !== 'batch' && normLayer !== 'frozen') throw new RangeError(`${what}: normLayer must be 'batch' or 'frozen', got ${JSON.stringify(normLayer)}`);
  const out = opts.outChannels ?? 256;
  const body = new ResNetBackbone(arch, { inChannels: opts.inChannels ?? 3, width: opts.width ?? 64, normLayer });
  try {
    freezeResNetLayers(body, opts.trainableBackboneLayers ?? 3);
  } catch (e) {
    throw new RangeError(`${what}: ${(e as Error).message}`);
  }
  const backbone = new BackboneWithFPN(body, [2, 3, 4], out, new LastLevelP6P7(out, out));
  return new FCOS(backbone, opts.numClasses ?? 91, { numConvs: opts.numConvs, anchorSizes: opts.anchorSizes, centerSamplingRadius: opts.centerSamplingRadius });
}

/** torchvision.models.detection.fcos_resnet50_fpn(num_classes, trainable_backbone_layers) with weights_backbone (FrozenBatchNorm2d; 'batch' and 5 layers: without): 32.27M parameters at 91 classes. */
export function fcosResnet50Fpn(opts: FCOSOptions = {}): FCOS { return fcosResNet(ARCHS.resnet50, 'fcosResnet50Fpn', opts); }
/** FCOS on ResNet-101 (torchvision's resnet_fpn_backbone('resnet101') layout). */
export function fcosResnet101Fpn(opts: FCOSOptions = {}): FCOS { return fcosResNet(ARCHS.resnet101, 'fcosResnet101Fpn', opts); }
/** FCOS on ResNet-34 (resnet_fpn_backbone('resnet34'): C3..C5 of 128, 256, 512 channels). */
export function fcosResnet34Fpn(opts: FCOSOptions = {}): FCOS { return fcosResNet(ARCHS.resnet34, 'fcosResnet34Fpn', opts); }
/** FCOS on ResNet-18 (resnet_fpn_backbone('resnet18'); mmdet has an FCOS-R18 recipe): for CPUs. */
export function fcosResnet18Fpn(opts: FCOSOptions = {}): FCOS { return fcosResNet(ARCHS.resnet18, 'fcosResnet18Fpn', opts); }

/** FCOS on torchvision's MobileNetV3-Large FPN layout (see the header: returned_layers [2, 3, 5], P6/P7 from P5). */
export function fcosMobileNetV3LargeFpn(opts: FCOSOptions = {}): FCOS {
  const what = 'fcosMobileNetV3LargeFpn';
  checkOptions(what, opts, FCOS_MOBILENET_OPTION_KEYS);
  const out = opts.outChannels ?? 256;
  const body = mobileNetV3LargeFeatures({ inChannels: opts.inChannels ?? 3, widthMult: opts.widthMult ?? 1 });
  try {
    freezeMobileNetLayers(body, opts.trainableBackboneLayers ?? 3);
  } catch (e) {
    throw new RangeError(`${what}: ${(e as Error).message}`);
  }
  const backbone = new BackboneWithFPN(body, [2, 3, 5], out, new LastLevelP6P7(out, out));
  return new FCOS(backbone, opts.numClasses ?? 91, { numConvs: opts.numConvs, anchorSizes: opts.anchorSizes, centerSamplingRadius: opts.centerSamplingRadius });
}
