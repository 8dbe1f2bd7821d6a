// A small classification set for trainer tests: 16×16 one-channel images whose
// class (of 4) is their brightest quadrant, with noise from a generator of
// their own; the test set is the first `testN` training images.
import { torch, data } from 'arsenal';

export function quadrantSets(n: number, testN: number): { train: data.TensorDataset; test: data.TensorDataset } {
  const K = 4, classes = ['a', 'b', 'c', 'd'];
  const g = new data.Rng(123);
  const img = new Uint8Array(n * 256), labels = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % K;
    labels[i] = BigInt(c);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
      const q = (y < 8 ? 0 : 2) + (x < 8 ? 0 : 1);
      img[i * 256 + y * 16 + x] = Math.min(255, (q === c ? 150 : 40) + g.int(0, 60));
    }
  }
  const images = torch.tensor(img, { dtype: 'uint8' }).reshape(n, 1, 16, 16), y = torch.tensor(labels);
  return {
    train: new data.TensorDataset(images, y, classes),
    test: new data.TensorDataset(images.narrow(0, 0, testN).contiguous(), y.narrow(0, 0, testN).contiguous(), classes),
  };
}
