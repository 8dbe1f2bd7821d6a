// Arsenal: train computer-vision models with the tricks that win benchmarks.
//
// Namespaces where PyTorch keeps the names (torch, F = torch.nn.functional,
// nn, optim, data = torch.utils.data, models = torchvision.models), each also a
// subpath export ('arsenal/models', 'arsenal/data', 'arsenal/engine', ...); the
// entry points a training script needs are also exported by name here.
export * as torch from './torch/index.js';
export * as F from './torch/functional.js';
export { Tensor } from './torch/tensor.js';
export * as ops from './ops/index.js';
export * as nn from './nn/index.js';
export * as distributed from './distributed/index.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as augment from './augment/index.js';
export * as losses from './losses/index.js';
export * as models from './models/index.js';
export * as metrics from './metrics/index.js';
export * as infer from './infer/index.js';
export * as tasks from './tasks/index.js';
export * as engine from './engine/index.js';
export * as commands from './commands/index.js';
export * as config from './config/index.js';

// Training from code: train(config) runs a config to completion; the Trainer, configs and their validation.
export { train, Trainer, loadConfig, type TrainOptions, type TrainRun, type TrainResult, type TrainerOptions } from './engine/index.js';
export { evaluateCheckpoint, runEnsemble, pseudoLabel, type PseudoLabelOptions } from './commands/index.js';
export { applyOverrides, type OptimizerConfig, type ScheduleConfig, type AugmentConfig, type SwaConfig, type EmaConfig, type TtaConfig, type TrainConfig } from './config/index.js';
// Tasks: the config union, its validation, and registerTask for a task of your own.
export {
  validateConfig, registerTask, getTask, classification,
  type Config, type ClassificationConfig, type DataConfig, type ModelConfig, type LossConfig, type LossTermConfig, type Task, type Meter, type TaskLoss, type DataInfo,
} from './tasks/index.js';
// Models and their registry.
export {
  buildModel, modelNames, resnet18, resnet34, resnet50, ResNet, loadPretrained,
  type BuildModelOptions, type ModelName, type ResNetOptions, type StateDictKeys,
} from './models/index.js';
// Datasets and the loader.
export { DataLoader, TensorDataset, Subset, fashionMnist, imageFolder, type Dataset, type Batch } from './data/index.js';
// Test-time augmentation and ensembles of predictions.
export { TTA, mergeProbs, type TtaOptions } from './infer/index.js';
