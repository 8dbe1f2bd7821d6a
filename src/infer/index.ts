// Inference-time tricks: test-time augmentation views and the one merge that TTA and ensembles share.
export { TTA, buildViews, shiftImage, scaleImage, DEFAULT_TTA, type View, type TtaOptions } from './tta.js';
export { mergeProbs, MERGES, type Merge } from './merge.js';
export { slideInference, type SlideOptions } from './slide.js';
