// Long-tailed Fashion-MNIST (imbalance ratio 10: class 0 keeps its 6000
// training images, class 9 keeps 600; Cui et al. 2019's profile) with class
// weighting by the effective number of samples. The test set stays balanced;
// watch balanced accuracy. Compare against plain cross-entropy with
//   arsenal train configs/fashion-mnist/long-tail.ts --set loss.classWeight=null
// (or delete the key).
import type { Config } from '../../src/tasks/index.js';

export default {
  task: 'classification',
  seed: 42,
  data: { dataset: 'fashion-mnist', batchSize: 128, mean: [0.286], std: [0.353], longTail: 10 },
  model: { name: 'resnet18', stem: 'small', width: 16 },
  optimizer: { type: 'SGD', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4, paramwise: { normDecayMult: 0, biasDecayMult: 0 } },
  schedule: { type: 'cosine', warmupEpochs: 1, warmupStartFactor: 0.1 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  loss: { classWeight: 'effective-number', classWeightBeta: 0.999 },
  train: { epochs: 6, amp: 'auto', channelsLast: true },
} satisfies Config;
