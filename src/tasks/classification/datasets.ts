// Train and test datasets from the data section of a config.
import { join } from 'node:path';
import { fashionMnist, imageFolder, Subset, type Dataset } from '../../data/index.js';
import { longTailSubset } from '../../data/long_tail.js';
import type { DataConfig } from './config.js';

export async function buildDatasets(d: DataConfig): Promise<{ train: Dataset; test: Dataset }> {
  let train: Dataset, test: Dataset;
  if (d.dataset === 'fashion-mnist') {
    if (d.trainSplit !== undefined || d.testSplit !== undefined) throw new TypeError('config: data.trainSplit / data.testSplit are imagefolder sub-folders; fashion-mnist has its own train and test files');
    train = fashionMnist({ root: d.root, split: 'train' });
    test = fashionMnist({ root: d.root, split: 'test' });
  } else {
    if (!d.root) throw new TypeError('config: data.root is required for imagefolder (a folder with train/<class>/* and test/<class>/*)');
    const [trainDir, testDir] = [d.trainSplit ?? 'train', d.testSplit ?? 'test'];
    const opts = { size: d.imageSize, channels: d.channels };
    train = await imageFolder(join(d.root, trainDir), opts);
    let size = d.imageSize;
    if (!size) {
      const probe = await train.getBatch([0]);
      size = probe.images.shape.slice(2) as [number, number];
      probe.images.dispose();
      probe.labels.dispose();
    }
    test = await imageFolder(join(d.root, testDir), { ...opts, size });
    if (train.classes.join('\u0000') !== test.classes.join('\u0000'))
      throw new Error(`imagefolder: ${join(d.root, trainDir)} and ${join(d.root, testDir)} have different class folders (${train.classes.join(', ')} vs ${test.classes.join(', ')})`);
  }
  if (d.longTail !== undefined) train = longTailSubset(train, d.longTail);
  if (d.trainSubset && d.trainSubset < train.length) train = new Subset(train, Array.from({ length: d.trainSubset }, (_, i) => i));
  if (d.testSubset && d.testSubset < test.length) test = new Subset(test, Array.from({ length: d.testSubset }, (_, i) => i));
  return { train, test };
}
