// Arsenal: train computer-vision models with the tricks that win benchmarks.
export * as torch from './torch/index.js';
export * as F from './torch/functional.js';
export { Tensor } from './torch/tensor.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as metrics from './metrics/index.js';
export * as augment from './augment/index.js';
export * as losses from './losses/index.js';
export * as models from './models/index.js';
export * as infer from './infer/index.js';
export type { Config } from './engine/config.js';
