// torch.nn: modules, parameters, init and the functional kernels.
export { Module, loadInto, type StateDict, type LoadResult, type LoadStateDictOptions } from './module.js';
export { Parameter, parameter, buffer } from './parameter.js';
export { Conv2d, ConvTranspose2d, type Conv2dOptions } from './layers/conv.js';
export { Linear, Identity, Flatten } from './layers/linear.js';
export { BatchNorm2d, FrozenBatchNorm2d, frozenBnExtraKeys, GroupNorm, LayerNorm, type BatchNormOptions } from './layers/norm.js';
export { ReLU, ReLU6, SiLU, GELU, Sigmoid, Hardswish, Hardsigmoid, LeakyReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, Dropout2d, Upsample } from './layers/activation.js';
export { Sequential, ModuleList, ModuleDict, forwardChain } from './layers/container.js';
export * as init from './init.js';
export * as functional from '../torch/functional.js';
export { deepCopy } from './copy.js';
