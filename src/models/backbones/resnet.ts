// ResNet-18/34/50 (He et al., "Deep Residual Learning for Image Recognition",
// CVPR 2016), laid out as torchvision's (torchvision/models/resnet.py, the
// "v1.5" Bottleneck with the stride on its 3x3 conv): the same module names, so
// after stripping Arsenal's 'backbone.' / 'head.' prefixes the state-dict keys
// are torchvision's and its checkpoints load (see pretrained.ts).
//
// State dicts: Arsenal's keys carry the 'backbone.' / 'head.' prefixes;
// stateDict({ keys: 'torchvision' }) gives torchvision's names, which
// torchvision's resnet18() (and the others) load with strict=True, and
// loadStateDict takes either naming.
//
// Split into a ResNetBackbone (stem + layer1..layer4 → feature map) and a
// ClassifierHead (global average pool → dropout → fc), so detection and
// segmentation models can reuse the backbone and fine-tuning can swap the head.
//
// replaceStrideWithDilation is torchvision's replace_stride_with_dilation (what
// its FCN and DeepLabV3 use): a stage keeps stride 1 and dilates its 3x3 convs
// instead (ResNet._make_layer with dilate=True: the stage's first block keeps
// the previous dilation, the others get the new one). torchvision refuses
// dilation in the BasicBlock ("Dilation > 1 not supported in BasicBlock");
// Arsenal allows it as mmseg does (mmseg/models/backbones/resnet.py BasicBlock:
// conv1 dilated, conv2 not), so ResNet-18/34 DeepLabV3 runs on a CPU. The
// Bottleneck's dilation is torchvision's exactly (its 3x3 conv2).
//
// normLayer (ResNetBackbone) is torchvision's norm_layer: 'batch' (BatchNorm2d)
// or 'frozen' (FrozenBatchNorm2d, what torchvision's detection builders use
// with a pretrained backbone); the keys are the same but num_batches_tracked.
import { Module, loadInto, type StateDict, type LoadResult, type LoadStateDictOptions } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers/conv.js';
import { BatchNorm2d, FrozenBatchNorm2d } from '../../nn/layers/norm.js';
import { Linear, Identity } from '../../nn/layers/linear.js';
import { ReLU, MaxPool2d, AdaptiveAvgPool2d } from '../../nn/layers/activation.js';
import { Sequential } from '../../nn/layers/container.js';
import * as init from '../../nn/init.js';
import * as F from '../../torch/functional.js';
import { Tensor } from '../../torch/tensor.js';

/**
 * 'imagenet': conv 7x7 stride 2 + BN + ReLU + max-pool 3x3 stride 2 (torchvision), /4 before layer1.
 * 'small': conv 3x3 stride 1 + BN + ReLU, no max-pool (CIFAR-style, for 28x28 / 32x32 inputs).
 */
export type Stem = 'imagenet' | 'small';

export interface ResNetOptions {
  /** Classes of the classifier head. Default 1000. */
  numClasses?: number;
  /** Input channels. Default 3. */
  inChannels?: number;
  /** Default 'imagenet'. */
  stem?: Stem;
  /** Channels of the stem and layer1; layer2..4 get 2x, 4x, 8x (times 4 for Bottleneck outputs). Default 64. */
  width?: number;
  /** Zero the last BN weight of every residual branch, so each block starts as the identity (torchvision zero_init_residual). Default false. */
  zeroInitResidual?: boolean;
  /** Dropout probability before the fc layer (timm's drop_rate). Default 0. */
  dropRate?: number;
  /** torchvision's replace_stride_with_dilation for layer2, layer3, layer4: [false, true, true] gives output stride 8 (its FCN and DeepLabV3), [false, false, true] 16. Default all false. */
  replaceStrideWithDilation?: readonly [boolean, boolean, boolean];
  /** torchvision's norm_layer: 'batch' (BatchNorm2d, default) or 'frozen' (FrozenBatchNorm2d: fixed statistics and affine, no batch statistics). */
  normLayer?: NormLayer;
}

/**
 * torchvision's norm_layer: 'batch' (nn.BatchNorm2d) or 'frozen'
 * (torchvision.ops.misc.FrozenBatchNorm2d: statistics and affine fixed,
 * buffers only, what torchvision's detectors fine-tune a pretrained backbone
 * with).
 */
export type NormLayer = 'batch' | 'frozen';
/** A norm of the kind `normLayer` names over `c` channels (torchvision's norm_layer(c); eps 1e-5 both). */
export function makeNorm(normLayer: NormLayer, c: number): BatchNorm2d | FrozenBatchNorm2d {
  return normLayer === 'frozen' ? new FrozenBatchNorm2d(c) : new BatchNorm2d(c);
}

export const RESNET_OPTION_KEYS = ['numClasses', 'inChannels', 'stem', 'width', 'zeroInitResidual', 'dropRate', 'replaceStrideWithDilation', 'normLayer'] as const;

type Required_ = Required<ResNetOptions>;

function resolveOptions(what: string, opts: ResNetOptions, keys: readonly string[] = RESNET_OPTION_KEYS): Required_ {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${what}: options must be an object`);
  for (const k of Object.keys(opts)) {
    if (!keys.includes(k)) throw new TypeError(`${what}: unknown option '${k}' (valid: ${keys.join(', ')})`);
  }
  const o: Required_ = {
    numClasses: opts.numClasses ?? 1000,
    inChannels: opts.inChannels ?? 3,
    stem: opts.stem ?? 'imagenet',
    width: opts.width ?? 64,
    zeroInitResidual: opts.zeroInitResidual ?? false,
    dropRate: opts.dropRate ?? 0,
    replaceStrideWithDilation: opts.replaceStrideWithDilation ?? [false, false, false],
    normLayer: opts.normLayer ?? 'batch',
  };
  if (o.normLayer !== 'batch' && o.normLayer !== 'frozen') throw new RangeError(`${what}: normLayer must be 'batch' or 'frozen', got ${JSON.stringify(o.normLayer)}`);
  for (const k of ['numClasses', 'inChannels', 'width'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`${what}: ${k} must be a positive integer, got ${String(o[k])}`);
  }
  if (o.stem !== 'imagenet' && o.stem !== 'small') throw new RangeError(`${what}: stem must be 'imagenet' or 'small', got '${String(o.stem)}'`);
  if (typeof o.zeroInitResidual !== 'boolean') throw new TypeError(`${what}: zeroInitResidual must be a boolean, got ${String(o.zeroInitResidual)}`);
  if (typeof o.dropRate !== 'number' || !(o.dropRate >= 0 && o.dropRate < 1)) throw new RangeError(`${what}: dropRate must be in [0, 1), got ${String(o.dropRate)}`);
  const d = o.replaceStrideWithDilation;
  // torchvision: "replace_stride_with_dilation should be None or a 3-element tuple".
  if (!Array.isArray(d) || d.length !== 3 || !d.every((v) => typeof v === 'boolean'))
    throw new TypeError(`${what}: replaceStrideWithDilation must be 3 booleans (layer2, layer3, layer4), got ${JSON.stringify(d)}`);
  return o;
}

// torchvision's conv3x3: padding = dilation keeps the size (at stride 1).
const conv3x3 = (inC: number, outC: number, stride = 1, dilation = 1) => new Conv2d(inC, outC, 3, { stride, padding: dilation, dilation, bias: false });
const conv1x1 = (inC: number, outC: number, stride = 1) => new Conv2d(inC, outC, 1, { stride, bias: false });

/**
 * Two 3x3 convs (ResNet-18/34). Properties in torchvision's order: conv1, bn1, relu, conv2, bn2, downsample.
 * dilation > 1 dilates conv1 only, as mmseg's BasicBlock (torchvision raises on it).
 */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  conv1: Conv2d;
  bn1: BatchNorm2d | FrozenBatchNorm2d;
  relu: ReLU;
  conv2: Conv2d;
  bn2: BatchNorm2d | FrozenBatchNorm2d;
  downsample: Sequential | null;
  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null, dilation = 1, normLayer: NormLayer = 'batch') {
    super();
    this.conv1 = conv3x3(inplanes, planes, stride, dilation);
    this.bn1 = makeNorm(normLayer, planes);
    this.relu = new ReLU();
    this.conv2 = conv3x3(planes, planes);
    this.bn2 = makeNorm(normLayer, planes);
    this.downsample = downsample;
  }
  /** The BN whose weight zeroInitResidual zeroes. */
  get lastBn(): BatchNorm2d | FrozenBatchNorm2d { return this.bn2; }
  forward(x: Tensor): Tensor {
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.bn2.forward(this.conv2.forward(out));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    out.add_(identity);
    return this.relu.forward(out);
  }
}

/** 1x1 → 3x3 (stride and dilation here, "v1.5") → 1x1 with 4x expansion (ResNet-50/101). */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: BatchNorm2d | FrozenBatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d | FrozenBatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d | FrozenBatchNorm2d;
  relu: ReLU;
  downsample: Sequential | null;
  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null, dilation = 1, normLayer: NormLayer = 'batch') {
    super();
    const width = planes; // torchvision: planes * (base_width / 64) * groups, with base_width 64, groups 1
    this.conv1 = conv1x1(inplanes, width);
    this.bn1 = makeNorm(normLayer, width);
    this.conv2 = conv3x3(width, width, stride, dilation);
    this.bn2 = makeNorm(normLayer, width);
    this.conv3 = conv1x1(width, planes * Bottleneck.expansion);
    this.bn3 = makeNorm(normLayer, planes * Bottleneck.expansion);
    this.relu = new ReLU();
    this.downsample = downsample;
  }
  get lastBn(): BatchNorm2d | FrozenBatchNorm2d { return this.bn3; }
  forward(x: Tensor): Tensor {
    let out = this.relu.forward(this.bn1.forward(this.conv1.forward(x)));
    out = this.relu.forward(this.bn2.forward(this.conv2.forward(out)));
    out = this.bn3.forward(this.conv3.forward(out));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    out.add_(identity);
    return this.relu.forward(out);
  }
}

type Block = typeof BasicBlock | typeof Bottleneck;

export interface ResNetArch { readonly block: 'basic' | 'bottleneck'; readonly layers: readonly [number, number, number, number] }

export const ARCHS = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2] },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
  resnet101: { block: 'bottleneck', layers: [3, 4, 23, 3] },
} as const satisfies Record<string, ResNetArch>;

/**
 * Stem + layer1..layer4; forward(x) → feature map [N, outChannels, h, w] (h = H/32 for 'imagenet', ⌈H/8⌉ for 'small';
 * each stage of replaceStrideWithDilation halves the reduction).
 */
export class ResNetBackbone extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d | FrozenBatchNorm2d;
  relu: ReLU;
  maxpool: MaxPool2d | Identity;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  layer4: Sequential;
  /** Channels of the feature map (512 for ResNet-18/34, 2048 for ResNet-50 at width 64). */
  readonly outChannels: number;
  /** Channels after layer1..layer4 (for FPN-style necks). */
  readonly stageChannels: readonly number[];
  readonly stem: Stem;
  /** The input's size over layer4's output's (32 for 'imagenet' without dilation; 8 with [false, true, true]). */
  readonly outputStride: number;
  readonly normLayer: NormLayer;

  constructor(arch: ResNetArch, opts: Omit<ResNetOptions, 'numClasses' | 'dropRate'> & { normLayer?: NormLayer } = {}) {
    super();
    const { normLayer = 'batch', ...rest } = opts ?? {};
    if (normLayer !== 'batch' && normLayer !== 'frozen') throw new RangeError(`ResNetBackbone: normLayer must be 'batch' or 'frozen', got ${JSON.stringify(normLayer)}`);
    const o = resolveOptions('ResNetBackbone', rest, ['inChannels', 'stem', 'width', 'zeroInitResidual', 'replaceStrideWithDilation']);
    const block: Block = arch.block === 'basic' ? BasicBlock : Bottleneck;
    const w = o.width;
    this.stem = o.stem;
    this.normLayer = normLayer;
    if (o.stem === 'imagenet') {
      this.conv1 = new Conv2d(o.inChannels, w, 7, { stride: 2, padding: 3, bias: false });
      this.bn1 = makeNorm(normLayer, w);
      this.relu = new ReLU();
      this.maxpool = new MaxPool2d(3, { stride: 2, padding: 1 });
    } else {
      this.conv1 = conv3x3(o.inChannels, w);
      this.bn1 = makeNorm(normLayer, w);
      this.relu = new ReLU();
      this.maxpool = new Identity();
    }
    let inplanes = w;
    let dilation = 1;
    let reduction = o.stem === 'imagenet' ? 4 : 1;
    // torchvision's ResNet._make_layer: with dilate, the stride becomes dilation; the first block keeps the previous one.
    const makeLayer = (planes: number, blocks: number, stride: number, dilate = false): Sequential => {
      const previousDilation = dilation;
      if (dilate) {
        dilation *= stride;
        stride = 1;
      }
      reduction *= stride;
      let downsample: Sequential | null = null;
      if (stride !== 1 || inplanes !== planes * block.expansion) {
        downsample = new Sequential(conv1x1(inplanes, planes * block.expansion, stride), makeNorm(normLayer, planes * block.expansion));
      }
      const mods: Module[] = [new block(inplanes, planes, stride, downsample, previousDilation, normLayer)];
      inplanes = planes * block.expansion;
      for (let i = 1; i < blocks; i++) mods.push(new block(inplanes, planes, 1, null, dilation, normLayer));
      return new Sequential(...mods);
    };
    const dil = o.replaceStrideWithDilation;
    this.layer1 = makeLayer(w, arch.layers[0], 1);
    this.layer2 = makeLayer(w * 2, arch.layers[1], 2, dil[0]);
    this.layer3 = makeLayer(w * 4, arch.layers[2], 2, dil[1]);
    this.layer4 = makeLayer(w * 8, arch.layers[3], 2, dil[2]);
    this.outputStride = reduction;
    this.stageChannels = [1, 2, 4, 8].map((m) => w * m * block.expansion);
    this.outChannels = inplanes;

    // torchvision's init: Kaiming normal (fan_out, relu) for convs; BN weight 1, bias 0 (the BN defaults).
    for (const m of this.modules()) {
      if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
      else if (m instanceof BatchNorm2d) {
        if (m.weight) init.ones_(m.weight);
        if (m.bias) init.zeros_(m.bias);
      }
    }
    // (A FrozenBatchNorm2d starts as torchvision's: weight 1, bias 0, mean 0, var 1.)
    if (o.zeroInitResidual) {
      for (const m of this.modules()) if ((m instanceof BasicBlock || m instanceof Bottleneck) && m.lastBn.weight) init.zeros_(m.lastBn.weight);
    }
  }

  /** Feature maps after the stem and each stage: [stem, layer1, layer2, layer3, layer4]. */
  forwardFeatures(x: Tensor): Tensor[] {
    this.checkInput(x);
    const feats: Tensor[] = [];
    x = this.maxpool.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x))));
    feats.push(x);
    for (const layer of [this.layer1, this.layer2, this.layer3, this.layer4]) {
      x = layer.forward(x);
      feats.push(x);
    }
    return feats;
  }

  private checkInput(x: Tensor): void {
    if (x.dim() !== 4) throw new RangeError(`ResNetBackbone: expected input [N, C, H, W], got [${x.shape.join(', ')}]`);
    if (x.shape[1] !== this.conv1.inChannels)
      throw new RangeError(`ResNetBackbone: expected ${this.conv1.inChannels} input channels, got input [${x.shape.join(', ')}]`);
  }

  forward(x: Tensor): Tensor {
    this.checkInput(x);
    x = this.maxpool.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x))));
    x = this.layer1.forward(x);
    x = this.layer2.forward(x);
    x = this.layer3.forward(x);
    return this.layer4.forward(x);
  }
}

/** Global average pool → flatten → dropout (training only) → fc. */
export class ClassifierHead extends Module {
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;
  readonly dropRate: number;
  constructor(inFeatures: number, numClasses: number, dropRate = 0) {
    super();
    if (!(dropRate >= 0 && dropRate < 1)) throw new RangeError(`ClassifierHead: dropRate must be in [0, 1), got ${dropRate}`);
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.fc = new Linear(inFeatures, numClasses); // PyTorch's default Linear init, as torchvision
    this.dropRate = dropRate;
  }
  forward(features: Tensor): Tensor {
    let x = this.avgpool.forward(features).flatten(1);
    if (this.training && this.dropRate > 0) x = F.dropout(x, this.dropRate, true);
    return this.fc.forward(x);
  }
}

/** How a ResNet's state-dict keys are named: Arsenal's ('backbone.conv1.weight', 'head.fc.weight') or torchvision's ('conv1.weight', 'fc.weight'). */
export type StateDictKeys = 'arsenal' | 'torchvision';

export interface ResNetStateDictOptions {
  /** Default 'arsenal'. */
  keys?: StateDictKeys;
}

const ARSENAL_PREFIX = /^(backbone|head)\./;

/** torchvision's key for an Arsenal key: the 'backbone.' / 'head.' prefix dropped (torchvision's ResNet is flat; fc is its head). */
export function toTorchvisionKey(key: string): string {
  return key.replace(ARSENAL_PREFIX, '');
}

/**
 * A ResNet classifier: `backbone` (ResNetBackbone) then `head` (ClassifierHead).
 *
 * `stateDict()` uses Arsenal's keys; `stateDict({ keys: 'torchvision' })` the
 * same live tensors under torchvision's keys (what torchvision's
 * `resnet18().load_state_dict(sd, strict=True)` wants). `loadStateDict` takes
 * either naming, told apart by the prefixes.
 */
export class ResNet extends Module {
  backbone: ResNetBackbone;
  head: ClassifierHead;
  constructor(arch: ResNetArch, opts: ResNetOptions = {}) {
    super();
    const o = resolveOptions('ResNet', opts);
    this.backbone = new ResNetBackbone(arch, { inChannels: o.inChannels, stem: o.stem, width: o.width, zeroInitResidual: o.zeroInitResidual, replaceStrideWithDilation: o.replaceStrideWithDilation, normLayer: o.normLayer });
    this.head = new ClassifierHead(this.backbone.outChannels, o.numClasses, o.dropRate);
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.backbone.forward(x));
  }

  /** Parameters and persistent buffers (the live tensors), under Arsenal's keys (default) or torchvision's. */
  override stateDict(opts: ResNetStateDictOptions = {}): StateDict {
    const keys = opts?.keys ?? 'arsenal';
    if (keys !== 'arsenal' && keys !== 'torchvision') throw new RangeError(`ResNet.stateDict: keys must be 'arsenal' or 'torchvision', got ${JSON.stringify(keys)}`);
    const sd = super.stateDict();
    if (keys === 'arsenal') return sd;
    return Object.fromEntries(Object.entries(sd).map(([k, t]) => [toTorchvisionKey(k), t]));
  }

  /**
   * Loads a state dict with Arsenal's keys (every key prefixed 'backbone.' or
   * 'head.') or torchvision's (none prefixed); a mix is an error. Strict by
   * default: a missing or unexpected key is an error naming it in the naming
   * the dict uses, and every shape is checked, before anything is copied. A
   * torchvision-keyed dict may lack `num_batches_tracked` (torchvision's own
   * ImageNet checkpoints do; PyTorch's BatchNorm fills it in for a state dict
   * without version metadata, _BatchNorm._load_from_state_dict): those keep
   * their value.
   */
  override loadStateDict(sd: StateDict, opts: LoadStateDictOptions = {}): LoadResult {
    if (typeof sd !== 'object' || sd === null || Array.isArray(sd)) throw new TypeError(`ResNet.loadStateDict: expected a state dict (an object of tensors by key), got ${Array.isArray(sd) ? 'an array' : String(sd)}`);
    const keys = Object.keys(sd);
    const prefixed = keys.filter((k) => ARSENAL_PREFIX.test(k));
    if (prefixed.length === keys.length) return loadInto(this.stateDict(), sd, opts, () => false, 'ResNet.loadStateDict');
    if (prefixed.length > 0) {
      const other = keys.find((k) => !ARSENAL_PREFIX.test(k));
      throw new Error(`ResNet.loadStateDict${opts.source ? ` (${opts.source})` : ''}: the state dict mixes Arsenal's keys ('${prefixed[0]}') and torchvision's ('${other}'); use one naming (torchvision's: no 'backbone.' / 'head.' prefixes)`);
    }
    const optional = (k: string) => k === 'num_batches_tracked' || k.endsWith('.num_batches_tracked');
    return loadInto(this.stateDict({ keys: 'torchvision' }), sd, opts, optional, 'ResNet.loadStateDict');
  }
}

export function resnet18(opts: ResNetOptions = {}): ResNet { return new ResNet(ARCHS.resnet18, opts); }
export function resnet34(opts: ResNetOptions = {}): ResNet { return new ResNet(ARCHS.resnet34, opts); }
export function resnet50(opts: ResNetOptions = {}): ResNet { return new ResNet(ARCHS.resnet50, opts); }
export function resnet101(opts: ResNetOptions = {}): ResNet { return new ResNet(ARCHS.resnet101, opts); }
