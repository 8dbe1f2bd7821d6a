// Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 70,000 28×28 greyscale
// images of 10 clothing classes, 60,000 to train and 10,000 to test, in the
// IDX format of MNIST. Debian ships it: `apt-get install dataset-fashion-mnist`
// puts the files in /usr/share/datasets/fashion-mnist.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fromBytes, tensor } from '../torch/index.js';
import { TensorDataset } from './dataset.js';
import { readIdx } from './idx.js';

export const FASHION_MNIST_CLASSES: string[] = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]) as string[];

export const FASHION_MNIST_DEFAULT_ROOT = '/usr/share/datasets/fashion-mnist';

function findFile(root: string, base: string): string {
  for (const name of [`${base}.gz`, base]) {
    const p = join(root, name);
    if (existsSync(p)) return p;
  }
  throw new Error(
    `fashionMnist: ${join(root, base + '.gz')} not found (nor ${join(root, base)}). ` +
      `Install the data set with \`apt-get install dataset-fashion-mnist\` (files in ${FASHION_MNIST_DEFAULT_ROOT}), ` +
      'or set ARSENAL_FASHION_MNIST (or opts.root) to a folder holding the IDX files.',
  );
}

/** Fashion-MNIST as a TensorDataset: images uint8 [N,1,28,28], labels int64 [N] (N = 60000 train, 10000 test). */
export function fashionMnist(opts: { root?: string; split: 'train' | 'test' }): TensorDataset {
  if (opts === null || typeof opts !== 'object') throw new TypeError("fashionMnist: expected options { split: 'train' | 'test', root? }");
  const { split } = opts;
  if (split !== 'train' && split !== 'test') throw new TypeError(`fashionMnist: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  if (opts.root !== undefined && (typeof opts.root !== 'string' || opts.root === '')) throw new TypeError('fashionMnist: root must be a folder path');
  const root = opts.root ?? process.env.ARSENAL_FASHION_MNIST ?? FASHION_MNIST_DEFAULT_ROOT;
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesPath = findFile(root, `${prefix}-images-idx3-ubyte`);
  const labelsPath = findFile(root, `${prefix}-labels-idx1-ubyte`);

  const im = readIdx(imagesPath);
  if (im.dtype !== 'uint8' || im.shape.length !== 3 || im.shape[1] !== 28 || im.shape[2] !== 28) {
    throw new Error(`fashionMnist: ${imagesPath} holds ${im.dtype} [${im.shape.join(',')}], expected uint8 [N,28,28]`);
  }
  const lb = readIdx(labelsPath);
  if (lb.dtype !== 'uint8' || lb.shape.length !== 1) {
    throw new Error(`fashionMnist: ${labelsPath} holds ${lb.dtype} [${lb.shape.join(',')}], expected uint8 [N]`);
  }
  const n = im.shape[0];
  if (lb.shape[0] !== n) throw new Error(`fashionMnist: ${imagesPath} has ${n} images but ${labelsPath} has ${lb.shape[0]} labels`);
  for (let i = 0; i < n; i++) {
    if (lb.data[i] >= FASHION_MNIST_CLASSES.length) throw new Error(`fashionMnist: ${labelsPath}: label ${lb.data[i]} of sample ${i} is not a class index 0..9`);
  }
  const images = fromBytes(im.data, 'uint8', [n, 1, 28, 28]);
  const labels = tensor(BigInt64Array.from(lb.data, (x) => BigInt(x)));
  return new TensorDataset(images, labels, FASHION_MNIST_CLASSES);
}
