// torch.optim: optimizers, parameter groups from name rules, schedulers, SWA and EMA.
export { Optimizer, type ParamGroup, type GroupSpec, type ParamsArg, type OptimizerStateDict } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { paramGroups, type ParamwiseOptions, type KeyRule, type GroupSummary } from './paramwise.js';
export { clipGradNorm } from './clip.js';
export * as lrScheduler from './lr_scheduler.js';
export { AveragedModel, SWALR, updateBn, type AveragedModelOptions } from './swa.js';
export { ModelEma, type ModelEmaOptions } from './ema.js';
