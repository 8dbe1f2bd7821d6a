// The scenes benchmark's baseline (`arsenal data scenes --out data/scenes`):
// torchvision's LR-ASPP MobileNetV3-Large, the light model a CPU trains, at
// the scenes' 192 × 192, its backbone started from the classifier trained on
// the scenes' own object crops (configs/segmentation/scenes-backbone.ts) with a
// tenth of the head's lr; SGD (momentum 0.9, weight decay 4e-5 as
// torchvision's MobileNet recipes), mmseg's poly schedule (power 0.9) after a
// one-epoch warm-up, cross-entropy with mmseg's normaliser, horizontal flips.
// The plain recipe the torchvision peer (bench/seg_peer.py) trains the same way.
//   arsenal data scenes --out data/scenes
//   arsenal train configs/segmentation/scenes-backbone.ts
//   arsenal train configs/segmentation/scenes.ts
// The data: $ARSENAL_SCENES (default data/scenes, relative to where arsenal runs).
import type { Config, SegmentationConfig } from '../../src/tasks/index.js';
import { CLASS_RULES } from '../../src/data/scenes/classes.js';
import { fineTuneBackbone, MEAN, STD } from './scenes-backbone.js';

export const SCENES = process.env.ARSENAL_SCENES ?? 'data/scenes';
/** The generator's classes (meta.json's `classes`): background, then its 12 object classes. */
export const SCENES_CLASSES = ['background', ...CLASS_RULES.map((r) => r.name)];

const plain: SegmentationConfig = {
  task: 'segmentation',
  seed: 42,
  data: { dataset: 'mmseg', root: SCENES, classes: SCENES_CLASSES, batchSize: 8, mean: MEAN, std: STD },
  model: { name: 'lraspp_mobilenet_v3_large' },
  optimizer: { type: 'SGD', lr: 0.02, momentum: 0.9, weightDecay: 4e-5 },
  schedule: { type: 'poly', power: 0.9, warmupEpochs: 1 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  loss: { terms: [{ type: 'CrossEntropyLoss' }] },
  train: { epochs: 20, amp: 'auto', channelsLast: true },
};

export default fineTuneBackbone(plain) satisfies Config;
/** The same recipe from scratch (no backbone weights, one lr). */
export const fromScratch = plain;
