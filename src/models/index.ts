// Models: backbones, heads and task models.
export {
  ResNet, ResNetBackbone, ClassifierHead, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, ARCHS,
  toTorchvisionKey, type Stem, type ResNetOptions, type ResNetArch, type StateDictKeys, type ResNetStateDictOptions,
} from './backbones/resnet.js';
export { loadPretrained, type LoadPretrainedOptions, type LoadPretrainedResult } from './pretrained.js';
export { buildModel, modelNames, type BuildModelOptions, type ModelName } from './registry.js';
