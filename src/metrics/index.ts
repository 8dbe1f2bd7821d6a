export { ClassificationMeter, scoreLogits } from './classification.js';
export { SegmentationMeter, type SegmentationMeterOptions, type SegmentationMeterState, type SegmentationMetrics, type SegmentationClassRow } from './segmentation.js';
