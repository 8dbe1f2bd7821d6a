// Detection on the scenes benchmark (`arsenal data scenes --out data/scenes`,
// its COCO json: annotations/instances_{train,val}.json over img_dir/{train,val}):
// FCOS (torchvision's fcos_resnet18_fpn layout; mmdet has an FCOS-R18 recipe)
// at 160 × 160, a light FPN and head for a CPU (128 channels, 2 convs per
// tower; torchvision: 256 and 4). SGD lr 0.01, momentum 0.9, weight decay
// 1e-4 (mmdet's FCOS schedule), a linear warm-up then cosine, gradients clipped
// at norm 35 (mmdet FCOS's optim_wrapper clip_grad max_norm 35), horizontal
// flips, torchvision's test settings (score > 0.2, NMS 0.6, 100 per image).
//
// From scratch: no backbone weights, so the backbone's norms are BatchNorm2d
// and every stage trains (normLayer 'batch', trainableBackboneLayers 5:
// torchvision's choice without weights_backbone). 'frozen' norms and 3
// trainable stages are right only with a pre-trained backbone
// (model.backbonePretrained: a ResNet-18 classifier trained on the scenes'
// crops, configs/detection/scenes-backbone.ts; configs/detection/scenes-pretrained.ts
// fine-tunes from it).
//   arsenal data scenes --out data/scenes
//   arsenal train configs/detection/scenes.ts
// The data: $ARSENAL_SCENES (default data/scenes, relative to where arsenal runs).
import type { Config, DetectionConfig } from '../../src/tasks/index.js';
import { CLASS_RULES } from '../../src/data/scenes/classes.js';

const SCENES = process.env.ARSENAL_SCENES ?? 'data/scenes';
/** The json's categories (ids 1..12, in the generator's class order). */
export const SCENES_OBJECT_CLASSES = CLASS_RULES.map((r) => r.name);

export default {
  task: 'detection',
  seed: 42,
  data: {
    dataset: 'coco', root: SCENES, classes: SCENES_OBJECT_CLASSES, imageSize: [160, 160], batchSize: 8,
    mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
  },
  model: { name: 'fcos_resnet18_fpn', outChannels: 128, numConvs: 2, normLayer: 'batch', trainableBackboneLayers: 5 },
  optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 },
  schedule: { type: 'cosine', warmupEpochs: 1, warmupStartFactor: 1 / 3 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  postprocess: { preset: 'torchvision' },
  tta: { flips: ['h'], merge: 'nms' },
  train: { epochs: 12, amp: 'auto', clipGradNorm: 35 },
} satisfies DetectionConfig satisfies Config;
