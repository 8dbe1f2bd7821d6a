// torchvision 0.14's BackboneWithFPN (torchvision/models/detection/backbone_utils.py):
// `body` (the classifier's feature extractor, as its IntermediateLayerGetter
// keeps it: a ResNet's conv1..layer4, a MobileNetV3's features 0..last) and
// `fpn` (FeaturePyramidNetwork with an extra block), so the keys are
// torchvision's backbone.body.* / backbone.fpn.*.
//
// Frozen layers are torchvision's _resnet_fpn_extractor / _mobilenet_extractor
// trainable_layers: the parameters of the stages not trained get
// requires_grad false (a frozen stage's BatchNorm still updates its running
// statistics in training mode, as in torchvision; FrozenBatchNorm2d has none to update).
import { Module } from '../../nn/module.js';
import { Tensor } from '../../torch/tensor.js';
import { noGrad } from '../../torch/runtime.js';
import { ResNetBackbone } from '../backbones/resnet.js';
import { MobileNetV3Features } from '../backbones/mobilenet_v3.js';
import { FeaturePyramidNetwork, type ExtraFPNBlock } from '../necks/fpn.js';

/** ResNet stages by the names _resnet_fpn_extractor freezes, last first (trainable_layers 5 also trains bn1). */
const RESNET_STAGES = ['layer4', 'layer3', 'layer2', 'layer1', 'conv1'] as const;

/**
 * Freezes a ResNet body as torchvision's _resnet_fpn_extractor: the
 * `trainableLayers` last of layer4, layer3, layer2, layer1, conv1 train (5:
 * bn1 too); every other parameter gets requires_grad false.
 */
export function freezeResNetLayers(body: ResNetBackbone, trainableLayers: number): void {
  if (!Number.isInteger(trainableLayers) || trainableLayers < 0 || trainableLayers > 5)
    throw new RangeError(`trainableBackboneLayers must be an integer in [0, 5] for a ResNet, got ${String(trainableLayers)}`);
  const train: string[] = RESNET_STAGES.slice(0, trainableLayers);
  if (trainableLayers === 5) train.push('bn1');
  noGrad(() => {
    for (const [name, p] of body.namedParameters()) p.requiresGrad_(train.some((l) => name.startsWith(l)));
  });
}

/**
 * Freezes a MobileNetV3 body as torchvision's _mobilenet_extractor: features
 * before stageIndices[numStages − trainableLayers] get requires_grad false
 * (0: all of them).
 */
export function freezeMobileNetLayers(body: MobileNetV3Features, trainableLayers: number): void {
  const s = body.stageIndices;
  if (!Number.isInteger(trainableLayers) || trainableLayers < 0 || trainableLayers > s.length)
    throw new RangeError(`trainableBackboneLayers must be an integer in [0, ${s.length}] for a MobileNetV3, got ${String(trainableLayers)}`);
  const mods = body.children();
  const freezeBefore = trainableLayers === 0 ? mods.length : s[s.length - trainableLayers];
  noGrad(() => {
    mods.forEach((m, i) => {
      for (const p of m.parameters()) p.requiresGrad_(i >= freezeBefore);
    });
  });
}

/**
 * `body` → the maps of `returnedLayers` → `fpn` → [P…, extras]. For a ResNet,
 * returnedLayers are stage numbers 1..4 (layer1..layer4; FCOS: 2, 3, 4); for a
 * MobileNetV3, indices into its stageIndices (torchvision's returned_layers).
 */
export class BackboneWithFPN extends Module {
  body: ResNetBackbone | MobileNetV3Features;
  fpn: FeaturePyramidNetwork;
  readonly returnedLayers: readonly number[];
  /** The FPN's channels (torchvision's out_channels attribute). */
  readonly outChannels: number;

  constructor(body: ResNetBackbone | MobileNetV3Features, returnedLayers: readonly number[], outChannels: number, extraBlocks: ExtraFPNBlock | null) {
    super();
    let inChannels: number[];
    if (body instanceof ResNetBackbone) {
      if (!returnedLayers.length || !returnedLayers.every((l) => Number.isInteger(l) && l >= 1 && l <= 4))
        throw new RangeError(`BackboneWithFPN: each returned layer should be in the range [1, 4], got [${returnedLayers.join(', ')}]`);
      inChannels = returnedLayers.map((l) => body.stageChannels[l - 1]);
    } else {
      const s = body.stageIndices;
      if (!returnedLayers.length || !returnedLayers.every((l) => Number.isInteger(l) && l >= 0 && l < s.length))
        throw new RangeError(`BackboneWithFPN: each returned layer should be in the range [0, ${s.length - 1}], got [${returnedLayers.join(', ')}]`);
      inChannels = returnedLayers.map((l) => body.channels[s[l]]);
    }
    this.body = body;
    this.fpn = new FeaturePyramidNetwork(inChannels, outChannels, { extraBlocks });
    this.returnedLayers = [...returnedLayers];
    this.outChannels = outChannels;
  }

  /** The body's maps torchvision's IntermediateLayerGetter returns, finest first. */
  features(x: Tensor): Tensor[] {
    if (this.body instanceof ResNetBackbone) {
      const f = this.body.forwardFeatures(x);
      return this.returnedLayers.map((l) => f[l]);
    }
    const s = this.body.stageIndices;
    return this.body.forwardAt(x, this.returnedLayers.map((l) => s[l]));
  }

  forward(x: Tensor): Tensor[] {
    return this.fpn.forward(this.features(x));
  }
}
