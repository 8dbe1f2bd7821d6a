// Semantic segmentation on Pascal VOC 2012's layout (JPEGImages,
// SegmentationClass palette PNGs read by index, ImageSets/Segmentation;
// border 255 = ignore): torchvision's LR-ASPP MobileNetV3-Large, the light
// model a CPU can train, at 256 × 256: SGD (momentum 0.9, weight decay 4e-5 as
// torchvision's MobileNet recipes), mmseg's poly schedule (power 0.9),
// cross-entropy with mmseg's normaliser, flips, and flip TTA.
// A starting point for VOC, not measured here (no VOC on this machine; the
// measured recipes are configs/segmentation/scenes*.ts).
//   arsenal train configs/segmentation/lraspp-voc.ts --set data.root=/path/to/VOCdevkit/VOC2012
//   arsenal test configs/segmentation/lraspp-voc.ts --set data.root=… --checkpoint work_dirs/lraspp-voc/best.safetensors --tta
// The backbone from a classifier trained here (configs/segmentation/scenes-backbone.ts), at a tenth of the lr:
//   --set model.backbonePretrained=work_dirs/scenes-backbone/best.safetensors --set optimizer.paramwise.customKeys.backbone.lrMult=0.1
import type { Config } from '../../src/tasks/index.js';

export const VOC_CLASSES = [
  'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

export default {
  task: 'segmentation',
  seed: 42,
  data: { dataset: 'voc', root: 'data/VOCdevkit/VOC2012', classes: VOC_CLASSES, imageSize: [256, 256], batchSize: 8, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  model: { name: 'lraspp_mobilenet_v3_large' },
  optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9, weightDecay: 4e-5 },
  schedule: { type: 'poly', power: 0.9, warmupEpochs: 1 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  loss: { terms: [{ type: 'CrossEntropyLoss' }] },
  tta: { flips: ['h'], merge: 'mean' },
  train: { epochs: 30, amp: 'auto', channelsLast: true },
} satisfies Config;
