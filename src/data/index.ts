// The data layer (docs/architecture.md §1, §4, §7): the seeded JS-side generator,
// datasets that hand out whole batches, readers for IDX files, Fashion-MNIST
// and image folders, segmentation folders (mmseg and VOC layouts, masks read by
// palette index), detection sets (COCO json, Pascal VOC xml, YOLO txt), and
// the prefetching loader.
export { Rng } from './rng.js';
export { type Sample, type SampleSource, checkSample, IGNORE_INDEX } from './sample.js';
export { type Batch, type Dataset, TensorDataset, Subset } from './dataset.js';
export { readIdx, idxTensor, type IdxDType } from './idx.js';
export { FASHION_MNIST_CLASSES, fashionMnist } from './fashion_mnist.js';
export { imageFolder, IMAGE_EXTENSIONS, type ImageFolderOptions } from './image_folder.js';
export { readMaskPng, decodeMaskPng, encodeMaskPng, type MaskPng } from './mask_png.js';
export { vocPalette } from './palette.js';
export { segmentationFolder, SegmentationFolderDataset, SEG_IMAGE_EXTENSIONS, type SegmentationFolderOptions } from './segmentation_folder.js';
export { MaskDataset } from './mask_dataset.js';
export { BoxDataset, type BoxBatch } from './box_dataset.js';
export { DetectionDataset, type DetectionBatch, type DetectionRecord, type DropReport, type OnBadBox, type BadBoxReason } from './detection_dataset.js';
export { cocoDetection, parseCocoJson, cocoResults, CocoCategories, CocoDetectionDataset, type CocoDetectionOptions, type CocoRecord, type CocoSegmentation, type CocoRle, type CocoPolygons, type CocoResult } from './coco_json.js';
export { vocDetection, parseVocXml, VOC_CLASSES, type VocDetectionOptions, type VocRecord, type VocXml, type VocObject } from './voc_xml.js';
export { yoloDetection, parseYoloLabels, yoloNames, type YoloDetectionOptions, type YoloRecord } from './yolo_txt.js';
export * as scenes from './scenes/index.js';
export { DataLoader, type LoaderOptions } from './loader.js';
