// Arsenal: train computer-vision models with the tricks that win benchmarks.
//
// Namespaces where PyTorch keeps the names (torch, F = torch.nn.functional,
// nn, optim, data = torch.utils.data, models = torchvision.models), each also a
// subpath export ('arsenal/models', 'arsenal/data', 'arsenal/engine', ...); the
// entry points a training script needs are also exported by name here.
export * as torch from './torch/index.js';
export * as F from './torch/functional.js';
export { Tensor } from './torch/tensor.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as augment from './augment/index.js';
export * as losses from './losses/index.js';
export * as models from './models/index.js';
export * as metrics from './metrics/index.js';
export * as infer from './infer/index.js';
export * as engine from './engine/index.js';

// Training from code: train(config) runs a config to completion; the Trainer, configs and their validation.
export {
  train, Trainer, loadConfig, validateConfig, applyOverrides, evaluateCheckpoint, runEnsemble, pseudoLabel,
  type TrainOptions, type TrainRun, type TrainResult, type TrainerOptions, type PseudoLabelOptions,
  type Config, type DataConfig, type ModelConfig, type OptimizerConfig, type ScheduleConfig, type AugmentConfig, type LossConfig,
  type LossTermConfig, type SwaConfig, type EmaConfig, type TrainConfig,
} from './engine/index.js';
// Models and their registry.
export {
  buildModel, modelNames, resnet18, resnet34, resnet50, ResNet, loadPretrained,
  type BuildModelOptions, type ModelName, type ResNetOptions, type StateDictKeys,
} from './models/index.js';
// Datasets and the loader.
export { DataLoader, TensorDataset, Subset, fashionMnist, imageFolder, type Dataset, type Batch } from './data/index.js';
// Test-time augmentation and ensembles of predictions.
export { TTA, ensembleProbs, type TtaOptions } from './infer/index.js';
