// configs/detection/scenes.ts with the detection tricks of YOLOX and mmdet:
// Mosaic on every sample, RandomAffine (scaling 0.1–2, border −size/2, which
// brings the 2× mosaic canvas back to 160 × 160 in the same warp) and YOLOX
// MixUp (mmdet's yolox config: ratio 0.8–1.6), all three off for the last 2 of the 12 epochs (YOLOX: the last 15 of
// 300; here more than one epoch of clean images before the test); an EMA of
// the weights (YOLOX's 0.9998 is for 300 epochs of COCO; 0.999 here, with
// warm-up); flip + two-scale TTA merged by weighted boxes fusion (Solovyev et
// al. 2019; iou 0.55, skip 0.0001). Not yet measured against the baseline
// (docs/tricks.md's detection section says what is).
//   arsenal train configs/detection/scenes-tricks.ts
import type { Config, DetectionConfig } from '../../src/tasks/index.js';
import scenes from './scenes.js';

const S = 160;
export default {
  ...scenes,
  augment: {
    train: [{ type: 'RandomFlip', prob: 0.5 }],
    sample: [
      { type: 'Mosaic', imgScale: [S, S], centerRatioRange: [0.5, 1.5], padVal: 114, prob: 1, offLastEpochs: 2 },
      { type: 'RandomAffine', scalingRatioRange: [0.1, 2], border: [-S / 2, -S / 2], offLastEpochs: 2 },
      { type: 'YoloxMixUp', imgScale: [S, S], ratioRange: [0.8, 1.6], padVal: 114, prob: 1, offLastEpochs: 2 },
    ],
  },
  ema: { decay: 0.999, warmup: true },
  tta: { flips: ['h'], scales: [0.8, 1.2], merge: 'wbf' },
} satisfies DetectionConfig satisfies Config;
