// Models: backbones, heads and task models.
export {
  ResNet, ResNetBackbone, ClassifierHead, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, resnet101, ARCHS,
  toTorchvisionKey, makeNorm, type NormLayer, type Stem, type ResNetOptions, type ResNetArch, type StateDictKeys, type ResNetStateDictOptions,
} from './backbones/resnet.js';
export { loadPretrained, describePretrained, type LoadPretrainedOptions, type LoadPretrainedResult } from './pretrained.js';
export { buildModel, modelNames, type BuildModelOptions, type ModelName } from './registry.js';
export {
  MobileNetV3, MobileNetV3Features, InvertedResidual, SqueezeExcitation, Conv2dNormActivation, mobileNetV3Large,
  mobileNetV3LargeFeatures, mobileNetV3LargeConfig, makeDivisible, MOBILENET_V3_OPTION_KEYS,
  type MobileNetV3Options, type InvertedResidualConfig,
} from './backbones/mobilenet_v3.js';
export { LRASPP, LRASPPHead, lrasppMobileNetV3Large, LRASPP_OPTION_KEYS, type LRASPPOptions } from './heads/lraspp.js';
export { FeaturePyramidNetwork, ExtraFPNBlock, LastLevelMaxPool, LastLevelP6P7, type FPNOptions } from './necks/fpn.js';
export { FPNHead, ConvModule, SemanticFPN, fpnResNet18, fpnResNet50, SEMANTIC_FPN_OPTION_KEYS, type FPNHeadOptions, type SemanticFPNOptions } from './heads/fpn_head.js';
export { UNet, UnetDecoder, DecoderBlock, unetResNet18, unetResNet34, UNET_OPTION_KEYS, UNET_DIVISOR, type UNetOptions } from './heads/unet.js';
export { FCNHead } from './heads/fcn.js';
export { ASPP, ASPPConv, ASPPPooling, DeepLabHead } from './heads/deeplabv3.js';
export {
  SimpleSegmentationModel, DeepLabV3, FCN, deeplabv3Resnet50, deeplabv3Resnet101, deeplabv3Resnet18, fcnResnet50, fcnResnet101,
  fcnResnet18, deeplabv3MobileNetV3Large, type SegmentationModelOptions, type SegOutputs,
} from './heads/segmentation_model.js';
export { buildSegmentationModel, SEG_MODEL_NAMES, type SegModelName, type SegModelOptions } from './segmentation.js';
export { loadBackbone, describeBackbone, backboneNaming, backboneKeyMap, type BackboneNaming, type BackboneTransferResult } from './backbone_transfer.js';
export * from './detection/index.js';
