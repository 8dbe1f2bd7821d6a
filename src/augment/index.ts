export * from './batch/types.js';
export { RandomFlip, randomFlip, type FlipDirection, type RandomFlipOptions } from './batch/flip.js';
export { RandomCrop, type RandomCropOptions } from './batch/crop.js';
export { RandomErasing, sampleErasingRects, type RandomErasingOptions } from './batch/erasing.js';
export { Mixup, cutmixBox, softTargets, type MixupOptions, type MixParams } from './batch/mixup.js';
export { rectMask, emptyRects, type Rects } from './batch/rect_mask.js';
export { BatchPipeline, BATCH_TRANSFORMS, transformCheck, type TransformConfig } from './batch/pipeline.js';
