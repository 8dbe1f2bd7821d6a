// The commands as functions (`arsenal/commands`): what `arsenal test`,
// `ensemble` and `pseudo-label` run, for code.
export { evaluateCheckpoint, type TestResult, type TestOptions } from './test.js';
export { runEnsemble, type Member as EnsembleMember, type Row as EnsembleRow, type EnsembleOptions } from './ensemble.js';
export { pseudoLabel, stratifiedSplit, selectConfident, labelRepeats, type PseudoLabelOptions, type RoundRow } from './pseudo_label.js';
export { datasetsFound } from './info.js';
export { evalSeg, type EvalSegOptions } from './eval_seg.js';
