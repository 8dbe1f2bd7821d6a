// The scenes recipe (./scenes.ts) at a fraction of the compute, for trick
// studies over seeds on 2 cores (docs/tricks.md): the first
// 2,000 training images resized to 128 × 128, the full 500-image test split at
// the same size, 12 epochs (10.7 min a run on the 2-core EPYC). Each trick
// is this recipe with one change (scripts/ablate.mjs --variant '...=--set ...').
// Not yet tuned: its first run (seed 1) ended at mIoU 14.9% with the loss
// flat from epoch 6, so the schedule underfits; tune it before a study.
//   node scripts/ablate.mjs configs/segmentation/seg-small.ts --name seg-loss --variant 'CE=' \
//     --variant 'CE + Dice=--set loss.terms=[{"type":"CrossEntropyLoss"},{"type":"DiceLoss"}]'
import type { Config } from '../../src/tasks/index.js';
import scenes from './scenes.js';

export default {
  ...scenes,
  data: { ...scenes.data, trainSubset: 2000, imageSize: [128, 128] },
  train: { ...scenes.train, epochs: 12 },
} satisfies Config;
