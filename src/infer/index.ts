// Inference-time tricks (issue 6): test-time augmentation and ensembles.
export { TTA, buildViews, mergePredictions, shiftImage, scaleImage, MERGES, type View, type Merge, type TtaOptions } from './tta.js';
export { ensembleProbs, type EnsembleMerge } from './ensemble.js';
