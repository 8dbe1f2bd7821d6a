// Box operations, NMS and box merging (torchvision.ops' names): the layer
// above src/torch that detection models, TTA and ensembles share.
export { boxArea, boxIou, generalizedBoxIou, boxConvert, clipBoxesToImage, removeSmallBoxes, type BoxFormat } from './boxes.js';
export { nms, batchedNms, softNms, type SoftNmsOptions } from './nms.js';
export { weightedBoxesFusion, type Detections, type WbfOptions, type WbfConfType } from './wbf.js';
