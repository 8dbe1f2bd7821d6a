// The engine (`arsenal/engine`): training from a config, the Trainer, config
// loading and validation, evaluation, checkpoints, ensembles and pseudo-labelling.
export { train, type TrainOptions, type TrainRun } from './train.js';
export { Trainer, type TrainResult, type TrainerOptions } from './trainer.js';
export { loadConfig } from './load_config.js';
export {
  validateConfig, applyOverrides, lossOptions,
  type Config, type DataConfig, type ModelConfig, type OptimizerConfig, type ScheduleConfig, type AugmentConfig, type LossConfig,
  type LossTermConfig, type SwaConfig, type EmaConfig, type TrainConfig,
} from './config.js';
export { buildDatasets } from './datasets.js';
export { evaluateCheckpoint, loadForEvaluation } from './evaluate.js';
export { runEnsemble, type Member as EnsembleMember, type Row as EnsembleRow } from './ensemble.js';
export { pseudoLabel, stratifiedSplit, selectConfident, labelRepeats, type PseudoLabelOptions, type RoundRow } from './pseudo_label.js';
export { writeCheckpoint, readCheckpoint, latestTag, checkpointFiles, type CheckpointFiles } from './checkpoint.js';
