// FCN and DeepLabV3 as torchvision 0.14 builds them
// (torchvision/models/segmentation/_utils.py _SimpleSegmentationModel,
// fcn.py, deeplabv3.py): a backbone whose last stage feeds the classifier and,
// with auxLoss, whose stage before feeds an auxiliary FCNHead; both outputs
// upsampled bilinearly (align_corners false) to the input's size.
//
//   ResNet-50/101 (torchvision): resnet with replace_stride_with_dilation
//     [False, True, True] (output stride 8); out = layer4 (2048 channels),
//     aux = layer3 (1024), torchvision's IntermediateLayerGetter. ResNet-18 is
//     Arsenal's (mmseg's DeepLabV3-R18 shape): dilated BasicBlocks, 512 / 256.
//     outputStride 16 dilates layer4 only, and DeepLabV3's ASPP then uses the
//     paper's rates for stride 16, (6, 12, 18) (Chen et al. 2017 §4.1;
//     torchvision always uses (12, 24, 36), the rates for stride 8).
//   MobileNetV3-Large: the dilated features (output stride 16); out =
//     features[16] (960 channels), aux = features[4] (C2, 40 channels,
//     stride 8), torchvision's stage_indices[-1] and [-4].
//
// Module names are torchvision's, so the state dict is torchvision's as it
// is: `backbone.conv1.weight`, `backbone.layer4.2.bn3.running_var` (or
// `backbone.16.0.weight`), `classifier.0.convs.4.1.weight`,
// `aux_classifier.4.bias`. forward(x) in eval mode gives `out` alone, a tensor
// [N, K, H, W] (what torchvision calls result['out'], what the predictor and
// metrics read); in training mode a model built with auxLoss gives
// { out, aux } (torchvision's result dict; the loss weighs `aux`), without it
// `out`.
import { Module, loadInto, type StateDict, type LoadResult, type LoadStateDictOptions } from '../../nn/module.js';
import * as F from '../../torch/functional.js';
import { Tensor } from '../../torch/tensor.js';
import { ResNetBackbone, ARCHS, type ResNetArch } from '../backbones/resnet.js';
import { mobileNetV3LargeFeatures, MobileNetV3Features } from '../backbones/mobilenet_v3.js';
import { FCNHead } from './fcn.js';
import { DeepLabHead } from './deeplabv3.js';

/** A training-mode output of a model with an auxiliary head (torchvision's result dict). */
export interface SegOutputs { out: Tensor; aux: Tensor }

export interface SegmentationModelOptions {
  /** Classes, background included. Default 21 (torchvision's default, Pascal VOC). */
  numClasses?: number;
  /** Input channels. Default 3. */
  inChannels?: number;
  /** ResNet's base width (64): narrower models for tests. */
  width?: number;
  /** MobileNetV3's width multiplier (1). */
  widthMult?: number;
  /** ResNet: 8 (torchvision's; layer3 and layer4 dilated) or 16 (layer4 dilated). Default 8. */
  outputStride?: number;
  /** The auxiliary FCNHead (torchvision aux_loss). Default false. */
  auxLoss?: boolean;
  /** DeepLabV3's ASPP width (torchvision: 256): narrower heads for tests. */
  headChannels?: number;
}

const RESNET_KEYS = ['numClasses', 'inChannels', 'width', 'outputStride', 'auxLoss'] as const;
const MOBILENET_KEYS = ['numClasses', 'inChannels', 'widthMult', 'auxLoss'] as const;

function resolve(what: string, opts: SegmentationModelOptions, keys: readonly string[]): Required<SegmentationModelOptions> {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${what}: options must be an object`);
  for (const [k, v] of Object.entries(opts)) {
    if (v !== undefined && !keys.includes(k)) throw new TypeError(`${what}: unknown option '${k}' (valid: ${keys.join(', ')})`);
  }
  const o = {
    numClasses: opts.numClasses ?? 21,
    inChannels: opts.inChannels ?? 3,
    width: opts.width ?? 64,
    widthMult: opts.widthMult ?? 1,
    outputStride: opts.outputStride ?? 8,
    auxLoss: opts.auxLoss ?? false,
    headChannels: opts.headChannels ?? 256,
  };
  for (const k of ['numClasses', 'inChannels', 'width', 'headChannels'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`${what}: ${k} must be a positive integer, got ${String(o[k])}`);
  }
  if (o.outputStride !== 8 && o.outputStride !== 16) throw new RangeError(`${what}: outputStride must be 8 or 16, got ${String(o.outputStride)}`);
  if (typeof o.auxLoss !== 'boolean') throw new TypeError(`${what}: auxLoss must be a boolean, got ${String(o.auxLoss)}`);
  return o;
}

/**
 * torchvision's _SimpleSegmentationModel: `backbone`, `classifier`,
 * `aux_classifier` (null without auxLoss). The backbone is a ResNetBackbone
 * (out = layer4, aux = layer3) or MobileNetV3Features (out = features[outPos],
 * aux = features[auxPos]).
 */
export class SimpleSegmentationModel extends Module {
  backbone: ResNetBackbone | MobileNetV3Features;
  classifier: Module;
  aux_classifier: FCNHead | null;
  /** MobileNetV3: the features' indices of `out` and `aux` (torchvision's stage_indices[-1] and [-4]); ResNet: -1. */
  readonly outPos: number;
  readonly auxPos: number;
  constructor(backbone: ResNetBackbone | MobileNetV3Features, classifier: Module, auxClassifier: FCNHead | null, positions: { outPos: number; auxPos: number } = { outPos: -1, auxPos: -1 }) {
    super();
    this.backbone = backbone;
    this.classifier = classifier;
    this.aux_classifier = auxClassifier;
    this.outPos = positions.outPos;
    this.auxPos = positions.auxPos;
  }

  /** The backbone's `out` and (when `withAux`) `aux` features (torchvision's IntermediateLayerGetter). */
  private features(x: Tensor, withAux: boolean): { out: Tensor; aux: Tensor | null } {
    if (this.backbone instanceof ResNetBackbone) {
      const f = this.backbone.forwardFeatures(x);
      return { out: f[4], aux: withAux ? f[3] : null };
    }
    const [aux, out] = this.backbone.forwardAt(x, [this.auxPos, this.outPos]);
    return { out, aux: withAux ? aux : null };
  }

  forward(x: Tensor): Tensor | SegOutputs {
    if (x.dim() !== 4) throw new RangeError(`${this.constructor.name}: expected input [N, C, H, W], got [${x.shape.join(', ')}]`);
    const size = [x.shape[2], x.shape[3]];
    const withAux = this.training && this.aux_classifier !== null;
    const f = this.features(x, withAux);
    const up = (t: Tensor) => F.interpolate(t, { size, mode: 'bilinear', alignCorners: false });
    const out = up(this.classifier.forward(f.out) as Tensor);
    if (!withAux) return out;
    return { out, aux: up(this.aux_classifier!.forward(f.aux!) as Tensor) };
  }

  /**
   * GradNorm's shared layer (src/tasks/grad_norm.ts): with an auxiliary head
   * the last weight matrix (the aux head's) is not reached by the main terms,
   * so the last one both heads share: the last weight of the stage `aux` reads
   * (layer3, or features[auxPos]). Without one, undefined (the default: the
   * classifier's last weight).
   */
  gradNormParameter(): string | undefined {
    if (!this.aux_classifier) return undefined;
    const prefix = this.backbone instanceof ResNetBackbone ? 'backbone.layer3.' : `backbone.${this.auxPos}.`;
    return [...this.namedParameters()].filter(([n, p]) => n.startsWith(prefix) && p.ndim >= 2).at(-1)?.[0];
  }

  /** Arsenal's keys are torchvision's here: `keys` ('arsenal' or 'torchvision', as ResNet's) gives the same dict. */
  override stateDict(opts: { keys?: 'arsenal' | 'torchvision' } = {}): StateDict {
    const keys = opts?.keys ?? 'arsenal';
    if (keys !== 'arsenal' && keys !== 'torchvision') throw new RangeError(`${this.constructor.name}.stateDict: keys must be 'arsenal' or 'torchvision', got ${JSON.stringify(keys)}`);
    return super.stateDict();
  }

  /**
   * Strict by default (torchvision's keys). `num_batches_tracked` may be
   * missing: PyTorch's BatchNorm fills it in for a state dict without version
   * metadata (as a safetensors file is), as ResNet.loadStateDict does.
   */
  override loadStateDict(sd: StateDict, opts: LoadStateDictOptions = {}): LoadResult {
    return loadInto(this.stateDict(), sd, opts, (k) => k.endsWith('.num_batches_tracked'), `${this.constructor.name}.loadStateDict`);
  }
}

/** torchvision's DeepLabV3 (a _SimpleSegmentationModel whose classifier is a DeepLabHead). */
export class DeepLabV3 extends SimpleSegmentationModel {}
/** torchvision's FCN (a _SimpleSegmentationModel whose classifier is an FCNHead). */
export class FCN extends SimpleSegmentationModel {}

type Head = 'deeplabv3' | 'fcn';

function resnetModel(head: Head, arch: ResNetArch, what: string, opts: SegmentationModelOptions): SimpleSegmentationModel {
  const o = resolve(what, opts, head === 'deeplabv3' ? [...RESNET_KEYS, 'headChannels'] : RESNET_KEYS);
  const backbone = new ResNetBackbone(arch, {
    inChannels: o.inChannels,
    width: o.width,
    replaceStrideWithDilation: o.outputStride === 8 ? [false, true, true] : [false, false, true],
  });
  const [, , c3, c4] = backbone.stageChannels;
  const aux = o.auxLoss ? new FCNHead(c3, o.numClasses) : null;
  if (head === 'fcn') return new FCN(backbone, new FCNHead(c4, o.numClasses), aux);
  const rates = o.outputStride === 8 ? [12, 24, 36] : [6, 12, 18];
  return new DeepLabV3(backbone, new DeepLabHead(c4, o.numClasses, { channels: o.headChannels, rates }), aux);
}

/** torchvision.models.segmentation.deeplabv3_resnet50(num_classes, aux_loss, weights_backbone=None): 39.6M parameters at 21 classes without aux (42.0M with). */
export function deeplabv3Resnet50(opts: SegmentationModelOptions = {}): DeepLabV3 { return resnetModel('deeplabv3', ARCHS.resnet50, 'deeplabv3Resnet50', opts); }
/** torchvision.models.segmentation.deeplabv3_resnet101. */
export function deeplabv3Resnet101(opts: SegmentationModelOptions = {}): DeepLabV3 { return resnetModel('deeplabv3', ARCHS.resnet101, 'deeplabv3Resnet101', opts); }
/** DeepLabV3 on a dilated ResNet-18 (mmseg's DeepLabV3-R18 shape; torchvision has none): for CPUs. */
export function deeplabv3Resnet18(opts: SegmentationModelOptions = {}): DeepLabV3 { return resnetModel('deeplabv3', ARCHS.resnet18, 'deeplabv3Resnet18', opts); }
/** torchvision.models.segmentation.fcn_resnet50(num_classes, aux_loss, weights_backbone=None). */
export function fcnResnet50(opts: SegmentationModelOptions = {}): FCN { return resnetModel('fcn', ARCHS.resnet50, 'fcnResnet50', opts); }
/** torchvision.models.segmentation.fcn_resnet101. */
export function fcnResnet101(opts: SegmentationModelOptions = {}): FCN { return resnetModel('fcn', ARCHS.resnet101, 'fcnResnet101', opts); }
/** FCN on a dilated ResNet-18 (torchvision has none). */
export function fcnResnet18(opts: SegmentationModelOptions = {}): FCN { return resnetModel('fcn', ARCHS.resnet18, 'fcnResnet18', opts); }

/** torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(num_classes, aux_loss, weights_backbone=None) (its builder has no width_mult; _deeplabv3_mobilenetv3 takes any). */
export function deeplabv3MobileNetV3Large(opts: SegmentationModelOptions = {}): DeepLabV3 {
  const o = resolve('deeplabv3MobileNetV3Large', opts, [...MOBILENET_KEYS, 'headChannels']);
  const backbone = mobileNetV3LargeFeatures({ inChannels: o.inChannels, widthMult: o.widthMult, dilated: true });
  const s = backbone.stageIndices;
  const outPos = s[s.length - 1], auxPos = s[s.length - 4];
  const aux = o.auxLoss ? new FCNHead(backbone.channels[auxPos], o.numClasses) : null;
  return new DeepLabV3(backbone, new DeepLabHead(backbone.channels[outPos], o.numClasses, { channels: o.headChannels }), aux, { outPos, auxPos });
}
