// A long-tailed (imbalanced) subset of a dataset, as in Cui et al., CVPR 2019
// (long-tailed CIFAR): class c keeps n_c = ⌊n_max · ratio^(−c/(K−1))⌋ of its
// samples (the first ones, in dataset order), so class 0 keeps all and the last
// class 1/ratio of them. Needs the dataset's targets (known without images).
import { Subset, type Dataset } from './dataset.js';

export function longTailSubset(ds: Dataset, ratio: number): Subset {
  if (!(Number.isFinite(ratio) && ratio >= 1)) throw new RangeError(`longTailSubset: ratio must be a number >= 1, got ${ratio}`);
  const t = ds.targets;
  if (!t) throw new TypeError('longTailSubset: the dataset does not expose its targets');
  const k = ds.classes.length;
  const counts = ds.classCounts();
  const nMax = Math.max(...counts);
  const keep = counts.map((n, c) => Math.min(n, Math.floor(nMax * Math.pow(ratio, -c / Math.max(1, k - 1)))));
  const taken = new Array<number>(k).fill(0);
  const idx: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (taken[c] < keep[c]) { taken[c]++; idx.push(i); }
  }
  return new Subset(ds, idx);
}
