// The scenes baseline (./scenes.ts) with the segmentation tricks: mmseg's
// training pipeline (RandomResize ratio 0.5–2.0 + RandomCrop 192 with
// cat_max_ratio 0.75, flips, PhotoMetricDistortion), cross-entropy + Dice and
// flip + multi-scale TTA (mmseg's img_ratios 0.5–1.75, probabilities averaged).
//   arsenal train configs/segmentation/scenes-tricks.ts
import type { Config } from '../../src/tasks/index.js';
import baseline from './scenes.js';

export default {
  ...baseline,
  augment: {
    train: [
      { type: 'RandomResizeCrop', cropSize: 192 },
      { type: 'RandomFlip', prob: 0.5 },
      { type: 'PhotoMetricDistortion' },
    ],
  },
  loss: { terms: [{ type: 'CrossEntropyLoss' }, { type: 'DiceLoss', weight: 1 }] },
  tta: { flips: ['h'], ratios: [0.5, 0.75, 1.25, 1.5, 1.75], merge: 'mean' },
} satisfies Config;
