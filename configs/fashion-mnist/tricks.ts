// The tricks recipe: ResNet-18 (small-input stem) on Fashion-MNIST with
// cosine annealing after a linear warm-up (per iteration), label smoothing 0.1
// (Szegedy et al. 2016), horizontal flips, pad-2 random crops, random erasing
// (Zhong et al. 2020: p 0.5, noise fill), no weight decay on norms and biases
// (bag of tricks, He et al. 2019), and SWA over the last quarter (Izmailov et
// al. 2018) at the lr the cosine ends on, with BatchNorm statistics recomputed;
// the final model is also scored with horizontal-flip TTA (metrics.ttaAccuracy).
// bf16 autocast where the CPU has it, channels-last layout. Each trick is one
// key or pipeline entry: delete it (or --set key=null) to ablate it.
//   arsenal train configs/fashion-mnist/tricks.ts
import type { Config } from '../../src/tasks/index.js';

export default {
  task: 'classification',
  seed: 42,
  data: { dataset: 'fashion-mnist', batchSize: 128, mean: [0.286], std: [0.353] },
  model: { name: 'resnet18', stem: 'small' },
  optimizer: { type: 'SGD', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4, paramwise: { normDecayMult: 0, biasDecayMult: 0 } },
  schedule: { type: 'cosine', warmupEpochs: 1, warmupStartFactor: 0.1, etaMinRatio: 0.05 },
  augment: {
    train: [
      { type: 'RandomFlip', prob: 0.5 },
      { type: 'RandomCrop', padding: 2 },
      { type: 'RandomErasing', prob: 0.5, mode: 'pixel' },
    ],
  },
  loss: { labelSmoothing: 0.1 },
  swa: { start: 0.75, lr: 0.005, annealEpochs: 1 },
  tta: { flips: ['h'], merge: 'mean' },
  train: { epochs: 12, amp: 'auto', channelsLast: true },
} satisfies Config;
