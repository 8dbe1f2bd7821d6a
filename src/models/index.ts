// Models: backbones, heads and task models.
export {
  ResNet, ResNetBackbone, ClassifierHead, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, ARCHS,
  type Stem, type ResNetOptions, type ResNetArch,
} from './resnet.js';
export { loadPretrained, type LoadPretrainedOptions, type LoadPretrainedResult } from './pretrained.js';
export { buildModel, modelNames, type ModelConfig, type ModelName } from './registry.js';
