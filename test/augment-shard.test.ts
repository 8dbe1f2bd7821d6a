// Batch augmentation in a data-parallel run (AugmentContext.shard;
// src/augment/batch/types.ts drawCount/shardRows): each transform draws its
// per-sample parameters for the global batch and a rank keeps its rows
// (positions rank, rank + W, …, the DataLoader's shard layout), so rank r's
// augmented rows equal one process's rows r::W of the whole batch, and every
// rank's generator ends where one process's does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, data, augment, type Tensor } from 'arsenal';

const rows = (t: Tensor, r: number, w: number) => t.slice(0, r, null, w);

test('every per-sample draw of the pipeline: rank r of 2 gets one process\'s rows r::2, images and masks; the generators stay in step', () => {
  const pipeline = new augment.BatchPipeline([
    { type: 'RandomFlip', prob: 0.5 }, { type: 'RandomCrop', padding: 2 }, { type: 'ColorJitter', brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, prob: 0.8 },
    { type: 'PhotoMetricDistortion' }, { type: 'RandomResizeCrop', cropSize: 12, catMaxRatio: 0.75 }, { type: 'RandomResizedCrop', size: 12 },
    { type: 'RandomErasing', prob: 0.7 },
  ]);
  torch.manualSeed(0);
  const images = torch.rand([8, 3, 16, 16]);
  const masks = torch.randint(0, 3, [8, 16, 16]);
  const ctx = (shard?: { rank: number; worldSize: number }) => ({ rng: new data.Rng(11), mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], numClasses: 3, ...(shard ? { shard } : {}) });
  const one = ctx();
  const whole = pipeline.apply({ images, masks }, one, 1, 10);
  const after = one.rng.random();
  for (const r of [0, 1]) {
    const c = ctx({ rank: r, worldSize: 2 });
    const part = pipeline.apply({ images: rows(images, r, 2), masks: rows(masks, r, 2) }, c, 1, 10);
    assert.deepEqual(part.images.shape, [4, 3, 12, 12]);
    const d = part.images.sub(rows(whole.images, r, 2)).abs().max().item();
    assert.ok(d < 1e-5, `rank ${r}: images differ by ${d}`);
    assert.ok(part.masks!.equal(rows(whole.masks!, r, 2)), `rank ${r}: masks`);
    assert.equal(c.rng.random(), after, `rank ${r}: the generator where one process's is`);
  }
});

test('shardRows keeps positions rank, rank + W, … of typed arrays, arrays and the array fields of an object; numbers stay', () => {
  const c = { rng: new data.Rng(1), mean: [0], std: [1], numClasses: 2, shard: { rank: 1, worldSize: 3 } };
  assert.equal(augment.drawCount(c, 4), 12);
  assert.deepEqual(Array.from(augment.shardRows(c, Int32Array.from([0, 1, 2, 3, 4, 5, 6]))), [1, 4]);
  assert.deepEqual(augment.shardRows(c, { top: [0, 1, 2, 3], h: 5, box: { left: Float64Array.from([9, 8, 7]) } }), { top: [1], h: 5, box: { left: Float64Array.from([8]) } });
  const single = { rng: new data.Rng(1), mean: [0], std: [1], numClasses: 2 };
  const xs = [1, 2, 3];
  assert.equal(augment.shardRows(single, xs), xs);
  assert.equal(augment.drawCount(single, 4), 4);
});
