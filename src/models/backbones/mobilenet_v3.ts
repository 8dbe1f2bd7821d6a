// MobileNetV3-Large (Howard et al., "Searching for MobileNetV3", ICCV 2019),
// laid out exactly as torchvision 0.14's (torchvision/models/mobilenetv3.py):
// the same inverted-residual table (`_mobilenet_v3_conf`), the same rounding
// of widths (`_make_divisible`), squeeze-excitation with
// `_make_divisible(expanded // 4, 8)` channels (ReLU, then Hardsigmoid),
// BatchNorm eps 0.001 and momentum 0.01, and the same module names, so the
// state-dict keys are torchvision's as they are (`features.0.0.weight`,
// `features.1.block.0.0.weight`, …, `classifier.0.weight`) and its
// checkpoints load with no renaming.
//
// `dilated` is torchvision's `_mobilenet_v3_conf(dilated=True)` (what its
// segmentation models use): the last stage (features 13..15) keeps stride 1
// and dilates its depthwise convs by 2, so the output stride is 16, not 32.
import { Module, type StateDict } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers/conv.js';
import { BatchNorm2d } from '../../nn/layers/norm.js';
import { Linear } from '../../nn/layers/linear.js';
import { ReLU, Hardswish, Hardsigmoid, AdaptiveAvgPool2d, Dropout } from '../../nn/layers/activation.js';
import { Sequential, forwardChain } from '../../nn/layers/container.js';
import * as init from '../../nn/init.js';
import { Tensor } from '../../torch/tensor.js';

/**
 * torchvision's `_make_divisible` (from TensorFlow's slim MobileNet): `v` rounded
 * to the nearest multiple of `divisor`, at least `minValue` (default `divisor`),
 * and never more than 10% below `v`.
 */
export function makeDivisible(v: number, divisor = 8, minValue?: number): number {
  const min = minValue ?? divisor;
  let n = Math.max(min, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** One row of the paper's Table 1 (torchvision's InvertedResidualConfig), channels already scaled by widthMult. */
export interface InvertedResidualConfig {
  readonly inputChannels: number;
  readonly kernel: number;
  readonly expandedChannels: number;
  readonly outChannels: number;
  readonly useSe: boolean;
  /** Hardswish ('HS') instead of ReLU ('RE'). */
  readonly useHs: boolean;
  readonly stride: number;
  readonly dilation: number;
}

// [input, kernel, expanded, out, SE, activation, stride]; the last three rows are the stage C4 that `dilated` dilates.
const LARGE: readonly (readonly [number, number, number, number, boolean, 'RE' | 'HS', number])[] = [
  [16, 3, 16, 16, false, 'RE', 1],
  [16, 3, 64, 24, false, 'RE', 2], // C1
  [24, 3, 72, 24, false, 'RE', 1],
  [24, 5, 72, 40, true, 'RE', 2], // C2
  [40, 5, 120, 40, true, 'RE', 1],
  [40, 5, 120, 40, true, 'RE', 1],
  [40, 3, 240, 80, false, 'HS', 2], // C3
  [80, 3, 200, 80, false, 'HS', 1],
  [80, 3, 184, 80, false, 'HS', 1],
  [80, 3, 184, 80, false, 'HS', 1],
  [80, 3, 480, 112, true, 'HS', 1],
  [112, 3, 672, 112, true, 'HS', 1],
  [112, 5, 672, 160, true, 'HS', 2], // C4
  [160, 5, 960, 160, true, 'HS', 1],
  [160, 5, 960, 160, true, 'HS', 1],
];

/**
 * torchvision's `_mobilenet_v3_conf('mobilenet_v3_large', width_mult, reduced_tail, dilated)`:
 * the block table and the classifier's hidden width (last_channel, C5).
 */
export function mobileNetV3LargeConfig(opts: { widthMult?: number; reducedTail?: boolean; dilated?: boolean } = {}): { blocks: InvertedResidualConfig[]; lastChannel: number } {
  const w = opts.widthMult ?? 1;
  const div = opts.reducedTail ? 2 : 1;
  const dilation = opts.dilated ? 2 : 1;
  const adjust = (c: number) => makeDivisible(c * w, 8);
  const blocks = LARGE.map(([inC, k, exp, out, se, act, stride], i): InvertedResidualConfig => {
    const tail = i >= 12; // C4: reduced and dilated
    const d = (c: number, first: boolean) => (tail && !(i === 12 && first) ? Math.trunc(c / div) : c);
    return {
      inputChannels: adjust(d(inC, true)),
      kernel: k,
      expandedChannels: adjust(i === 12 ? exp : d(exp, false)),
      outChannels: adjust(d(out, false)),
      useSe: se,
      useHs: act === 'HS',
      stride,
      dilation: tail ? dilation : 1,
    };
  });
  return { blocks, lastChannel: adjust(Math.trunc(1280 / div)) };
}

const backboneBn = (c: number) => new BatchNorm2d(c, { eps: 0.001, momentum: 0.01 });

/** torchvision's Conv2dNormActivation: conv (no bias, "same" padding (k - 1) / 2 · dilation) → BN(eps 0.001, momentum 0.01) → activation (none for the projections). */
export class Conv2dNormActivation extends Sequential {
  readonly outChannels: number;
  constructor(inC: number, outC: number, kernel: number, opts: { stride?: number; groups?: number; dilation?: number; activation?: 'relu' | 'hardswish' | null } = {}) {
    const dilation = opts.dilation ?? 1;
    const mods: Module[] = [
      new Conv2d(inC, outC, kernel, { stride: opts.stride ?? 1, padding: Math.floor((kernel - 1) / 2) * dilation, dilation, groups: opts.groups ?? 1, bias: false }),
      backboneBn(outC),
    ];
    const act = opts.activation === undefined ? 'relu' : opts.activation;
    if (act === 'relu') mods.push(new ReLU());
    else if (act === 'hardswish') mods.push(new Hardswish());
    super(...mods);
    this.outChannels = outC;
  }
}

/** torchvision.ops.SqueezeExcitation as MobileNetV3 uses it: avgpool → fc1 → ReLU → fc2 → Hardsigmoid, times the input. */
export class SqueezeExcitation extends Module {
  avgpool: AdaptiveAvgPool2d;
  fc1: Conv2d;
  fc2: Conv2d;
  activation: ReLU;
  scale_activation: Hardsigmoid;
  constructor(inputChannels: number, squeezeChannels: number) {
    super();
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.fc1 = new Conv2d(inputChannels, squeezeChannels, 1);
    this.fc2 = new Conv2d(squeezeChannels, inputChannels, 1);
    this.activation = new ReLU();
    this.scale_activation = new Hardsigmoid();
  }
  forward(x: Tensor): Tensor {
    let s = this.avgpool.forward(x);
    s = this.activation.forward(this.fc1.forward(s));
    s = this.scale_activation.forward(this.fc2.forward(s));
    return s.mul(x);
  }
}

/** MobileNetV3's block (torchvision's InvertedResidual): [expand 1x1] → depthwise k×k → [SE] → project 1x1, plus the input when shapes allow. */
export class InvertedResidual extends Module {
  block: Sequential;
  readonly useResConnect: boolean;
  readonly outChannels: number;
  /** The config's stride is 2: the block starts a stage (torchvision's `_is_cn`, even when dilation keeps stride 1). */
  readonly isCn: boolean;
  constructor(cnf: InvertedResidualConfig) {
    super();
    if (!(cnf.stride >= 1 && cnf.stride <= 2)) throw new RangeError(`InvertedResidual: stride must be 1 or 2, got ${cnf.stride}`);
    this.useResConnect = cnf.stride === 1 && cnf.inputChannels === cnf.outChannels;
    const activation = cnf.useHs ? 'hardswish' : 'relu';
    const layers: Module[] = [];
    if (cnf.expandedChannels !== cnf.inputChannels) layers.push(new Conv2dNormActivation(cnf.inputChannels, cnf.expandedChannels, 1, { activation }));
    const stride = cnf.dilation > 1 ? 1 : cnf.stride;
    layers.push(new Conv2dNormActivation(cnf.expandedChannels, cnf.expandedChannels, cnf.kernel, { stride, dilation: cnf.dilation, groups: cnf.expandedChannels, activation }));
    if (cnf.useSe) layers.push(new SqueezeExcitation(cnf.expandedChannels, makeDivisible(Math.trunc(cnf.expandedChannels / 4), 8)));
    layers.push(new Conv2dNormActivation(cnf.expandedChannels, cnf.outChannels, 1, { activation: null }));
    this.block = new Sequential(...layers);
    this.outChannels = cnf.outChannels;
    this.isCn = cnf.stride > 1;
  }
  forward(x: Tensor): Tensor {
    const out = this.block.forward(x) as Tensor;
    if (this.useResConnect) out.add_(x);
    return out;
  }
}

export interface MobileNetV3Options {
  /** Classes of the classifier. Default 1000. */
  numClasses?: number;
  /** Input channels of the first conv. Default 3. */
  inChannels?: number;
  /** torchvision's width_mult: every width times this, rounded by makeDivisible(·, 8). Default 1. */
  widthMult?: number;
  /** torchvision's reduced_tail: the last stage's widths halved. Default false. */
  reducedTail?: boolean;
  /** torchvision's dilated: the last stage at stride 1, dilation 2 (output stride 16, for segmentation). Default false. */
  dilated?: boolean;
  /** Dropout before the last Linear. Default 0.2 (torchvision). */
  dropout?: number;
}

export const MOBILENET_V3_OPTION_KEYS = ['numClasses', 'inChannels', 'widthMult', 'reducedTail', 'dilated', 'dropout'] as const;

function resolveOptions(what: string, opts: MobileNetV3Options, keys: readonly string[]): Required<MobileNetV3Options> {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${what}: options must be an object`);
  for (const k of Object.keys(opts)) {
    if (!keys.includes(k)) throw new TypeError(`${what}: unknown option '${k}' (valid: ${keys.join(', ')})`);
  }
  const o = {
    numClasses: opts.numClasses ?? 1000,
    inChannels: opts.inChannels ?? 3,
    widthMult: opts.widthMult ?? 1,
    reducedTail: opts.reducedTail ?? false,
    dilated: opts.dilated ?? false,
    dropout: opts.dropout ?? 0.2,
  };
  for (const k of ['numClasses', 'inChannels'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`${what}: ${k} must be a positive integer, got ${String(o[k])}`);
  }
  if (typeof o.widthMult !== 'number' || !(o.widthMult > 0) || !Number.isFinite(o.widthMult)) throw new RangeError(`${what}: widthMult must be a positive number, got ${String(o.widthMult)}`);
  for (const k of ['reducedTail', 'dilated'] as const) {
    if (typeof o[k] !== 'boolean') throw new TypeError(`${what}: ${k} must be a boolean, got ${String(o[k])}`);
  }
  if (typeof o.dropout !== 'number' || !(o.dropout >= 0 && o.dropout <= 1)) throw new RangeError(`${what}: dropout must be in [0, 1], got ${String(o.dropout)}`);
  return o;
}

/**
 * torchvision's `features`: the stem (conv 3x3 stride 2, Hardswish), the 15
 * inverted residuals, the last conv 1x1 to 6× the last width (Hardswish).
 * forward(x) → [N, outChannels, H/32, W/32] (H/16 when dilated).
 */
export class MobileNetV3Features extends Sequential {
  /** Channels of the output (960 at widthMult 1). */
  readonly outChannels: number;
  /** torchvision's stage_indices: 0, the blocks that start a stage (C1..C4), the last conv (C5): [0, 2, 4, 7, 13, 16]. */
  readonly stageIndices: readonly number[];
  /** Channels of features[i]'s output, per index. */
  readonly channels: readonly number[];
  readonly config: readonly InvertedResidualConfig[];
  constructor(blocks: InvertedResidualConfig[], inChannels = 3) {
    const first = blocks[0].inputChannels;
    const last = blocks[blocks.length - 1].outChannels;
    const mods: (Conv2dNormActivation | InvertedResidual)[] = [
      new Conv2dNormActivation(inChannels, first, 3, { stride: 2, activation: 'hardswish' }),
      ...blocks.map((b) => new InvertedResidual(b)),
      new Conv2dNormActivation(last, 6 * last, 1, { activation: 'hardswish' }),
    ];
    super(...mods);
    this.outChannels = 6 * last;
    this.config = blocks;
    this.channels = mods.map((m) => m.outChannels);
    this.stageIndices = [0, ...mods.flatMap((m, i) => (m instanceof InvertedResidual && m.isCn ? [i] : [])), mods.length - 1];
  }

  /** The outputs of features[i] for each i of `indices` (torchvision's IntermediateLayerGetter): stops after the largest. */
  forwardAt(x: Tensor, indices: readonly number[]): Tensor[] {
    const mods = this.children();
    if (!indices.every((i) => Number.isInteger(i) && i >= 0 && i < mods.length)) throw new RangeError(`MobileNetV3Features.forwardAt: indices must be in [0, ${mods.length}), got [${indices.join(', ')}]`);
    return forwardChain(mods, x, indices) as Tensor[]; // under no-grad, the blocks' outputs freed as it goes
  }
}

/** torchvision's MobileNetV3 init: convs Kaiming normal (fan_out), conv biases 0, BN 1 / 0, Linear N(0, 0.01) with bias 0. */
function initMobileNet(root: Module): void {
  for (const m of root.modules()) {
    if (m instanceof Conv2d) {
      init.kaimingNormal_(m.weight, { mode: 'fan_out' });
      if (m.bias) init.zeros_(m.bias);
    } else if (m instanceof BatchNorm2d) {
      if (m.weight) init.ones_(m.weight);
      if (m.bias) init.zeros_(m.bias);
    } else if (m instanceof Linear) {
      init.normal_(m.weight, 0, 0.01);
      if (m.bias) init.zeros_(m.bias);
    }
  }
}

/** Builds torchvision's features (initialised as torchvision's MobileNetV3) for a backbone. */
export function mobileNetV3LargeFeatures(opts: Omit<MobileNetV3Options, 'numClasses' | 'dropout'> = {}): MobileNetV3Features {
  const o = resolveOptions('mobileNetV3LargeFeatures', opts, ['inChannels', 'widthMult', 'reducedTail', 'dilated']);
  const features = new MobileNetV3Features(mobileNetV3LargeConfig(o).blocks, o.inChannels);
  initMobileNet(features);
  return features;
}

/**
 * torchvision's MobileNetV3 classifier: features → global average pool →
 * Linear(6·C, lastChannel) → Hardswish → Dropout → Linear(lastChannel, numClasses).
 * Its module names are torchvision's, so `stateDict()` is torchvision's state
 * dict and `loadStateDict` takes it as it is.
 */
export class MobileNetV3 extends Module {
  features: MobileNetV3Features;
  avgpool: AdaptiveAvgPool2d;
  classifier: Sequential;
  constructor(opts: MobileNetV3Options = {}) {
    super();
    const o = resolveOptions('MobileNetV3', opts, MOBILENET_V3_OPTION_KEYS);
    const { blocks, lastChannel } = mobileNetV3LargeConfig(o);
    this.features = new MobileNetV3Features(blocks, o.inChannels);
    this.avgpool = new AdaptiveAvgPool2d(1);
    const c = this.features.outChannels;
    this.classifier = new Sequential(new Linear(c, lastChannel), new Hardswish(), new Dropout(o.dropout), new Linear(lastChannel, o.numClasses));
    initMobileNet(this);
  }
  forward(x: Tensor): Tensor {
    if (x.dim() !== 4) throw new RangeError(`MobileNetV3: expected input [N, C, H, W], got [${x.shape.join(', ')}]`);
    const f = this.features.forward(x) as Tensor;
    return this.classifier.forward(this.avgpool.forward(f).flatten(1)) as Tensor;
  }
  /** Arsenal's keys are torchvision's here: `keys` ('arsenal' or 'torchvision', as ResNet's) gives the same dict. */
  override stateDict(opts: { keys?: 'arsenal' | 'torchvision' } = {}): StateDict {
    const keys = opts?.keys ?? 'arsenal';
    if (keys !== 'arsenal' && keys !== 'torchvision') throw new RangeError(`MobileNetV3.stateDict: keys must be 'arsenal' or 'torchvision', got ${JSON.stringify(keys)}`);
    return super.stateDict();
  }
}

/** torchvision.models.mobilenet_v3_large (weights=None): 5.48M parameters at 1000 classes. */
export function mobileNetV3Large(opts: MobileNetV3Options = {}): MobileNetV3 { return new MobileNetV3(opts); }
