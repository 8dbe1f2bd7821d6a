// Feature Pyramid Network (Lin et al., "Feature Pyramid Networks for Object
// Detection", CVPR 2017) as torchvision 0.14's FeaturePyramidNetwork
// (torchvision/ops/feature_pyramid_network.py): its module names, so the state
// dict is torchvision's (inner_blocks.<i>.0.weight/bias: the 1x1 laterals;
// layer_blocks.<i>.0.weight/bias: the 3x3 output convs; extra_blocks.p6/p7 for
// LastLevelP6P7), its init (kaiming_uniform_(a=1), zero bias) and its forward.
// torchvision's norm_layer option (a norm in each block) is not ported.
//
// Input: a list of feature maps, highest resolution first (C2..C5); output:
// the list P2..P5 at the same sizes, then what the extra block adds
// (LastLevelMaxPool: 'pool'; LastLevelP6P7: 'p6', 'p7'). Detection plugs its
// own extra block by subclassing ExtraFPNBlock.
import { Module } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers/conv.js';
import { ModuleList, Sequential } from '../../nn/layers/container.js';
import * as init from '../../nn/init.js';
import * as F from '../../torch/functional.js';
import { Tensor } from '../../torch/tensor.js';

/** torchvision's ExtraFPNBlock: given the FPN's results P and its inputs C, returns P with extra levels appended. */
export abstract class ExtraFPNBlock extends Module {
  /** The names torchvision gives the levels this block adds ('pool'; 'p6', 'p7'). */
  abstract readonly names: readonly string[];
  abstract override forward(results: Tensor[], inputs: Tensor[]): Tensor[];
}

/** torchvision's LastLevelMaxPool: max_pool2d(P_last, kernel 1, stride 2) appended as 'pool' (Faster / Mask R-CNN's P6). */
export class LastLevelMaxPool extends ExtraFPNBlock {
  readonly names = ['pool'] as const;
  forward(results: Tensor[]): Tensor[] {
    return [...results, F.maxPool2d(results[results.length - 1], 1, { stride: 2, padding: 0 })];
  }
}

/**
 * torchvision's LastLevelP6P7 (RetinaNet): p6 = conv3x3/2(P5 if inChannels ==
 * outChannels else C5), p7 = conv3x3/2(relu(p6)); kaiming_uniform_(a=1), zero bias.
 */
export class LastLevelP6P7 extends ExtraFPNBlock {
  readonly names = ['p6', 'p7'] as const;
  p6: Conv2d;
  p7: Conv2d;
  readonly useP5: boolean;
  constructor(inChannels: number, outChannels: number) {
    super();
    for (const [k, v] of Object.entries({ inChannels, outChannels })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`LastLevelP6P7: ${k} must be a positive integer, got ${String(v)}`);
    }
    this.p6 = new Conv2d(inChannels, outChannels, 3, { stride: 2, padding: 1 });
    this.p7 = new Conv2d(outChannels, outChannels, 3, { stride: 2, padding: 1 });
    for (const m of [this.p6, this.p7]) {
      init.kaimingUniform_(m.weight, { a: 1 });
      init.zeros_(m.bias!);
    }
    this.useP5 = inChannels === outChannels;
  }
  forward(results: Tensor[], inputs: Tensor[]): Tensor[] {
    const x = this.useP5 ? results[results.length - 1] : inputs[inputs.length - 1];
    const p6 = this.p6.forward(x);
    const p7 = this.p7.forward(F.relu(p6));
    return [...results, p6, p7];
  }
}

export interface FPNOptions {
  /** Levels appended after the top-down path (torchvision extra_blocks; default none). */
  extraBlocks?: ExtraFPNBlock | null;
}

/**
 * torchvision.ops.FeaturePyramidNetwork(inChannelsList, outChannels, extra_blocks).
 * forward([C2, …, C5]) → [P2, …, P5, …extras]: P_last = layer(inner(C_last));
 * going down, last_inner = inner(C_i) + nearest-resize(last_inner, C_i's size),
 * P_i = layer(last_inner).
 */
export class FeaturePyramidNetwork extends Module {
  inner_blocks: ModuleList;
  layer_blocks: ModuleList;
  extra_blocks: ExtraFPNBlock | null;
  readonly inChannelsList: readonly number[];
  readonly outChannels: number;

  constructor(inChannelsList: readonly number[], outChannels: number, opts: FPNOptions = {}) {
    super();
    if (!Array.isArray(inChannelsList) || inChannelsList.length === 0) throw new TypeError('FeaturePyramidNetwork: inChannelsList must be a non-empty array of channel counts');
    inChannelsList.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 1) throw new RangeError(`FeaturePyramidNetwork: inChannelsList[${i}] must be a positive integer, got ${String(c)}`);
    });
    if (!Number.isInteger(outChannels) || outChannels < 1) throw new RangeError(`FeaturePyramidNetwork: outChannels must be a positive integer, got ${String(outChannels)}`);
    if (typeof opts !== 'object' || opts === null) throw new TypeError('FeaturePyramidNetwork: options must be an object');
    for (const k of Object.keys(opts)) if (k !== 'extraBlocks') throw new TypeError(`FeaturePyramidNetwork: unknown option '${k}' (valid: extraBlocks)`);
    const extra = opts.extraBlocks ?? null;
    if (extra !== null && !(extra instanceof ExtraFPNBlock)) throw new TypeError('FeaturePyramidNetwork: extraBlocks must be an ExtraFPNBlock (LastLevelMaxPool, LastLevelP6P7, …)');
    // Conv2dNormActivation without norm and activation: a Sequential of one conv with bias.
    this.inner_blocks = new ModuleList(inChannelsList.map((c) => new Sequential(new Conv2d(c, outChannels, 1))));
    this.layer_blocks = new ModuleList(inChannelsList.map(() => new Sequential(new Conv2d(outChannels, outChannels, 3, { padding: 1 }))));
    // torchvision initialises its own convs before the extra blocks are attached (theirs keep their init).
    for (const m of this.modules()) {
      if (m instanceof Conv2d) {
        init.kaimingUniform_(m.weight, { a: 1 });
        if (m.bias) init.zeros_(m.bias);
      }
    }
    this.extra_blocks = extra;
    this.inChannelsList = [...inChannelsList];
    this.outChannels = outChannels;
  }

  /** The names torchvision's forward gives the outputs for inputs named `names` (default '0', '1', …): the inputs' names, then the extra block's. */
  outputNames(names: readonly string[] = this.inChannelsList.map((_, i) => String(i))): string[] {
    return [...names, ...(this.extra_blocks?.names ?? [])];
  }

  forward(x: Tensor[]): Tensor[] {
    const n = this.inChannelsList.length;
    if (!Array.isArray(x) || x.length !== n) throw new TypeError(`FeaturePyramidNetwork: expected a list of ${n} feature maps (highest resolution first), got ${Array.isArray(x) ? x.length : String(x)}`);
    x.forEach((t, i) => {
      if (!(t instanceof Tensor) || t.dim() !== 4 || t.shape[1] !== this.inChannelsList[i])
        throw new RangeError(`FeaturePyramidNetwork: feature map ${i} must be [N, ${this.inChannelsList[i]}, H, W], got ${t instanceof Tensor ? `[${t.shape.join(', ')}]` : String(t)}`);
    });
    const inner = (i: number, t: Tensor) => (this.inner_blocks.at(i) as Sequential).forward(t) as Tensor;
    const layer = (i: number, t: Tensor) => (this.layer_blocks.at(i) as Sequential).forward(t) as Tensor;
    let lastInner = inner(n - 1, x[n - 1]);
    const results: Tensor[] = [layer(n - 1, lastInner)];
    for (let i = n - 2; i >= 0; i--) {
      const lateral = inner(i, x[i]);
      const topDown = F.interpolate(lastInner, { size: [lateral.shape[2], lateral.shape[3]], mode: 'nearest' });
      lastInner = lateral.add(topDown);
      results.unshift(layer(i, lastInner));
    }
    return this.extra_blocks ? this.extra_blocks.forward(results, x) : results;
  }
}
