export { ClassificationMeter, scoreLogits } from './classification.js';
export { SegmentationMeter, type SegmentationMeterOptions, type SegmentationMeterState, type SegmentationMetrics, type SegmentationClassRow } from './segmentation.js';
export { CocoMeter, formatCocoSummary, COCO_STAT_NAMES, type CocoStats, type CocoStatName, type CocoMeterState, type CocoAccumulation } from './coco_eval.js';
export { COCO_IOU_THRS, COCO_REC_THRS, COCO_MAX_DETS, COCO_AREA_RANGES, COCO_AREA_LABELS, boxIou as cocoBoxIou } from './coco_match.js';
export { VocMeter, averagePrecision, type VocMeterOptions, type VocMeterState, type VocClassRow, type VocApMode } from './voc_ap.js';
export type { Detections, DetectionTruth, BoxesInput, ValuesInput } from './detection_input.js';
