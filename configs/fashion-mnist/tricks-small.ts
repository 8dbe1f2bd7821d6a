// The tricks recipe at a sixteenth of the compute, for studies over many
// seeds on a small machine: ResNet-18 at width 16 (channels 16-32-64-128
// instead of 64-128-256-512) on the first 30,000 training images, 6 epochs
// (cosine over 4 after a 1-epoch warm-up, then SWA over epochs 5-6 at the lr
// the cosine ends on); otherwise the same tricks as
// configs/fashion-mnist/tricks.ts. About 4 minutes a run on 2 cores.
//   arsenal train configs/fashion-mnist/tricks-small.ts
//   node scripts/seed-study.mjs configs/fashion-mnist/tricks-small.ts --name test-time   (docs/tricks.md)
import type { Config } from '../../src/tasks/index.js';
import tricks from './tricks.js';

export default {
  ...tricks,
  data: { ...tricks.data, trainSubset: 30000 },
  model: { ...tricks.model, width: 16 },
  train: { ...tricks.train, epochs: 6 },
} satisfies Config;
