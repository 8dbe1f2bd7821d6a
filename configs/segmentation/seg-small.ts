// The scenes recipe (./scenes.ts) at a fraction of the compute, for trick
// studies over seeds on 2 cores (docs/tricks.md): the first 2,000 training
// images resized to 128 × 128, the full 500-image test split at the same
// size, 12 epochs (about 10 min a run on the 2-core EPYC). Each trick is this
// recipe with one change (scripts/ablate.mjs --variant '...=--set ...').
// Tuned by 4-epoch runs (seed 1, scripts/ablate.mjs --set train.epochs=4):
// the backbone at a tenth of the lr (lrMult 0.1, lr 0.02) underfits (train
// loss 0.531, mIoU 12.6%); the whole model at lr 0.02: 0.445, 17.0%; at 0.05:
// 0.408, 17.2%. So the backbone here trains at the head's lr 0.05 (the
// classifier it starts from reached only 35% on held-out drawings).
//   node scripts/ablate.mjs configs/segmentation/seg-small.ts --name seg-loss --variant 'CE=' \
//     --variant 'CE + Dice=--set loss.terms=[{"type":"CrossEntropyLoss"},{"type":"DiceLoss"}]'
import type { Config } from '../../src/tasks/index.js';
import { fineTuneBackbone } from './scenes-backbone.js';
import { fromScratch } from './scenes.js';

export default fineTuneBackbone({
  ...fromScratch,
  data: { ...fromScratch.data, trainSubset: 2000, imageSize: [128, 128] },
  optimizer: { ...fromScratch.optimizer, lr: 0.05 },
  train: { ...fromScratch.train, epochs: 12 },
}, undefined, 1) satisfies Config;
