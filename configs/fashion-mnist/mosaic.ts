// Mosaic and YOLOX MixUp on each training sample before batching
// (`augment.sample`, mmdet's MultiImageMixDataset), switched off for the last
// epochs, on top of the baseline recipe (ResNet-18, SGD, step schedule).
// The transforms' settings are YOLOX's (Ge et al. 2021, "YOLOX: Exceeding YOLO
// Series in 2021", and its reference code): Mosaic on every sample (prob 1)
// with the centre uniform in (0.5, 1.5) × imgScale and grey padding 114; then
// MixUp on every sample (prob 1) with the partner's scale jittered in
// (0.5, 1.5) and flipped with probability 0.5, blended 0.5 / 0.5; and the
// strong augmentation off at the end (YOLOX: the last 15 of 300 epochs; here
// the last 2 of 15, YOLOX's 5% rounded up so the model trains on whole
// garments for more than one epoch before the test).
// imgScale is the image size (28 × 28): the 56 × 56 mosaic is resized back to
// 28 × 28. Labels: a mosaic takes the label of the garment covering the most
// of it, a MixUp blend the partner's only where the partner covers at least
// half (src/augment/sample/mosaic.ts, yolox_mixup.ts). YOLOX's settings are
// for detection; this recipe is their ablation on classification, no tuned
// result (its effect is to be measured as in docs/tricks.md).
//   arsenal train configs/fashion-mnist/mosaic.ts
//   arsenal augment configs/fashion-mnist/mosaic.ts --out mosaic.png --n 16
import type { Config } from '../../src/tasks/index.js';
import baseline from './baseline.js';

const epochs = 15;

export default {
  ...baseline,
  augment: {
    sample: [
      { type: 'Mosaic', imgScale: [28, 28], centerRatioRange: [0.5, 1.5], padVal: 114, prob: 1, offLastEpochs: 2 },
      { type: 'YoloxMixUp', imgScale: [28, 28], ratioRange: [0.5, 1.5], flipRatio: 0.5, padVal: 114, prob: 1, offLastEpochs: 2 },
    ],
  },
  train: { ...baseline.train, epochs },
} satisfies Config;
