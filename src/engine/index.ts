// The engine (`arsenal/engine`): training from a config, the Trainer and its
// hooks, the predictor (preprocessing, precision, streamed evaluation, TTA),
// models loaded for evaluation, the time budget, config loading and
// checkpoints. The commands (`arsenal/commands`) are built on it.
export { train, type TrainOptions, type TrainRun } from './train.js';
export { Trainer, type TrainResult, type TrainerOptions } from './trainer.js';
export * as hooks from './hooks/index.js';
export type { Hook, StepInfo, EpochRecord, HookState } from './hooks/index.js';
export { Predictor } from './predictor.js';
export { buildForEvaluation, loadForEvaluation, loadWeights, disposeEvalModel, type EvalModel } from './evaluation.js';
export { planBudget, parseDuration, stepsThatFit, evalPasses, type BudgetPlan } from './budget.js';
export { buildOptimizer, buildSchedule, swaStartEpoch } from './build.js';
export { resolveAmp, type Amp } from './precision.js';
export { loadConfig } from './load_config.js';
export { validateConfig, type Config } from '../tasks/index.js';
export { applyOverrides } from '../config/overrides.js';
export { writeCheckpoint, readCheckpoint, latestTag, checkpointFiles, type CheckpointFiles } from './checkpoint.js';
