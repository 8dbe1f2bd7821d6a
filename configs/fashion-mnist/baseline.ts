// Plain training: ResNet-18 (small-input stem) on Fashion-MNIST, SGD with
// momentum, a step schedule, no tricks.
//   arsenal train configs/fashion-mnist/baseline.ts --epochs 1
import type { Config } from '../../src/tasks/index.js';

export default {
  task: 'classification',
  seed: 42,
  data: { dataset: 'fashion-mnist', batchSize: 128, mean: [0.286], std: [0.353] },
  model: { name: 'resnet18', stem: 'small' },
  optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
  schedule: { type: 'step', stepEpochs: 10, gamma: 0.1, byEpoch: true },
  train: { epochs: 15, amp: 'auto', channelsLast: true },
} satisfies Config;
