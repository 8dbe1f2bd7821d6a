// DataLoader sharding for data-parallel training (rank, worldSize;
// src/data/loader.ts): rank r takes order[r::W] of the epoch's shared order,
// so the ranks' k-th batches of B/W samples are together one process's k-th
// batch of B; evaluation shards cover every sample once, with no padding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataLoader, TensorDataset, torch } from 'arsenal';

const ds = (n: number) => new TensorDataset(torch.zeros([n, 1, 2, 2]), torch.zeros([n], { dtype: 'int64' }), ['a']);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

test('training shards (dropLast): the ranks\' k-th batches of B/W are one process\'s k-th batch of B, for every epoch', () => {
  for (const [n, B, W] of [[11, 4, 2], [30, 6, 3], [8, 4, 4]]) {
    const one = new DataLoader(ds(n), { batchSize: B, shuffle: true, dropLast: true, seed: 5 });
    const ranks = Array.from({ length: W }, (_, r) => new DataLoader(ds(n), { batchSize: B / W, shuffle: true, dropLast: true, seed: 5, rank: r, worldSize: W }));
    for (const epoch of [1, 2]) {
      const whole = one.batches(epoch);
      const parts = ranks.map((l) => l.batches(epoch));
      for (const p of parts) assert.equal(p.length, whole.length, `n ${n}, B ${B}, W ${W}: every rank has one process's number of batches`);
      whole.forEach((b, k) => assert.deepEqual(sorted(parts.flatMap((p) => p[k])), sorted(b), `n ${n}, B ${B}, W ${W}, epoch ${epoch}, batch ${k}`));
    }
  }
});

test('evaluation shards (no dropLast): every sample exactly once over the ranks, none padded; ranks may differ by a batch', () => {
  const n = 11;
  const ranks = [0, 1].map((r) => new DataLoader(ds(n), { batchSize: 2, rank: r, worldSize: 2 }));
  assert.deepEqual(ranks.map((l) => l.length), [3, 3]);
  assert.deepEqual(ranks.map((l) => l.batches(0).flat()), [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9]]);
  const three = [0, 1, 2].map((r) => new DataLoader(ds(n), { batchSize: 4, rank: r, worldSize: 3 }));
  assert.deepEqual(sorted(three.flatMap((l) => l.batches(0).flat())), Array.from({ length: n }, (_, i) => i));
  assert.deepEqual(three.map((l) => l.length), [1, 1, 1]);
  assert.deepEqual(new DataLoader(ds(5), { batchSize: 1, rank: 3, worldSize: 4 }).batches(0), [[3]]);
  assert.equal(new DataLoader(ds(3), { batchSize: 1, rank: 3, worldSize: 4 }).length, 0, 'a rank past the last sample gets no batch');
});

test('a rank outside [0, worldSize) or a bad worldSize is named', () => {
  assert.throws(() => new DataLoader(ds(4), { batchSize: 1, rank: 2, worldSize: 2 }), /rank must be an integer in \[0, 2\), got 2/);
  assert.throws(() => new DataLoader(ds(4), { batchSize: 1, worldSize: 0 }), /worldSize must be a positive integer, got 0/);
});
