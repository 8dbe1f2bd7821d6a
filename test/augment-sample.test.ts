// Multi-sample transforms (src/augment/sample): Mosaic places four samples
// around a random centre, and every output box frames exactly the pixels of its
// source box (the pixels under it are the source pixels under the source box),
// inside the canvas; masks travel with the pixels. YoloxMixUp blends 0.5/0.5 and
// keeps both box sets, the partner's moved with its pixels. Same seed, same output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, type Tensor } from 'arsenal';
import { Mosaic } from '../src/augment/sample/mosaic.js';
import { YoloxMixUp } from '../src/augment/sample/yolox_mixup.js';
import { MultiImageMixDataset, collate } from '../src/augment/sample/multi_image.js';
import type { Sample } from '../src/data/sample.js';
import { Rng } from '../src/data/rng.js';
import { frame } from './helpers/frame.js';

/** A sample of h×w: noise in [0, 1), one rectangle of value v (box label k, mask class k + 1). */
function sample(h: number, w: number, rect: [number, number, number, number], v: number, k: number): Sample {
  const [x0, y0, x1, y1] = rect;
  const image = torch.rand(3, h, w);
  image.index(':', `${y0}:${y1}`, `${x0}:${x1}`).fill_(v);
  const mask = torch.zeros([h, w], { dtype: 'int64' });
  mask.index(`${y0}:${y1}`, `${x0}:${x1}`).fill_(k + 1);
  return { image, mask, boxes: torch.tensor([rect], { dtype: 'float32' }), boxLabels: torch.tensor([k]) };
}

test('Mosaic: a 2H×2W canvas; each box lies inside it and frames exactly its source pixels; masks follow; same seed, same mosaic', () => {
  const H = 20, W = 24;
  let clippedOrDropped = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const rng = new Rng(seed);
    const rects: [number, number, number, number][] = [[2, 3, 10, 12], [14, 1, 23, 9], [0, 10, 6, 20], [8, 8, 20, 18]];
    const samples = rects.map((r, k) => sample(H, W, r, 10 + k, k));
    const out = new Mosaic({ imgScale: [H, W] }).apply(samples, rng);
    assert.deepEqual(out.image.shape, [3, 2 * H, 2 * W]);
    const boxes = out.boxes!.toArray() as number[][];
    const labels = out.boxLabels!.toArray() as number[];
    for (let k = 0; k < 4; k++) {
      const seen = frame(out.image.index(0), 10 + k);
      const i = labels.indexOf(k);
      if (i < 0) { clippedOrDropped++; assert.ok(seen.length === 0, `seed ${seed}: box ${k} dropped but its pixels are visible`); continue; }
      const [x1, y1, x2, y2] = boxes[i];
      assert.ok(x1 >= 0 && y1 >= 0 && x2 <= 2 * W && y2 <= 2 * H, `seed ${seed}: box ${k} outside the canvas`);
      assert.deepEqual([x1, y1, x2, y2], seen, `seed ${seed}: box ${k} does not frame its pixels`);
      const full = rects[k];
      if (x2 - x1 < full[2] - full[0] || y2 - y1 < full[3] - full[1]) clippedOrDropped++;
      assert.ok(out.mask!.eq(k + 1).equal(out.image.index(0).eq(10 + k)), `seed ${seed}: mask ${k} does not follow its pixels`);
    }
    // The canvas outside the four tiles is the pad value, with mask 255 (ignore).
    assert.ok(out.mask!.eq(255).equal(out.image.index(0).eq(114)), `seed ${seed}: ignore exactly on the padding`);
    if (seed === 1) {
      const again = new Mosaic({ imgScale: [H, W] }).apply(samples, new Rng(seed));
      assert.ok(again.image.equal(out.image) && again.boxes!.equal(out.boxes!));
    }
  }
  assert.ok(clippedOrDropped > 0, 'no box was ever clipped: the centre range was not exercised');
});

test('Mosaic: larger samples are resized to fit imgScale keeping their ratio; boxes scale with them', () => {
  const H = 16, W = 16;
  const big = [0, 1, 2, 3].map((k) => sample(64, 32, [8, 16, 24, 48], 10 + k, k)); // ratio min(16/64, 16/32) = 0.25
  const out = new Mosaic({ imgScale: [H, W], centerRatioRange: [1, 1] }).apply(big, new Rng(1));
  const b = out.boxes!.toArray() as number[][];
  for (const [x1, y1, x2, y2] of b) { assert.equal(x2 - x1, 4); assert.equal(y2 - y1, 8); }
  assert.equal(b.length, 4);
  assert.throws(() => new Mosaic({ imgScale: [H, W] }).apply(big.slice(0, 3), new Rng(1)), /expected 4 samples/);
  assert.throws(() => new Mosaic({ imgScale: [0, 4] as [number, number] }), /imgScale must be \[H, W\]/);
});

test('YoloxMixUp: a 0.5/0.5 blend keeping both box sets; the partner flips with its boxes', () => {
  const H = 12, W = 16;
  const zeros = (): Sample => ({ image: torch.zeros(3, H, W), boxes: torch.tensor([[1, 1, 5, 5]], { dtype: 'float32' }), boxLabels: torch.tensor([0]) });
  const partner = (): Sample => {
    const image = torch.zeros(3, H, W);
    image.index(':', '2:7', '9:15').fill_(40);
    return { image, boxes: torch.tensor([[9, 2, 15, 7]], { dtype: 'float32' }), boxLabels: torch.tensor([3]) };
  };
  for (const flipRatio of [0, 1]) {
    const out = new YoloxMixUp({ imgScale: [H, W], ratioRange: [1, 1], flipRatio, padVal: 0 }).apply([zeros(), partner()], new Rng(2));
    const expected = flipRatio ? [W - 15, 2, W - 9, 7] : [9, 2, 15, 7];
    assert.deepEqual(out.boxLabels!.toArray(), [0, 3]);
    assert.deepEqual(out.boxes!.toArray(), [[1, 1, 5, 5], expected]);
    assert.deepEqual(frame(out.image.index(0), 20), expected, 'the partner pixels, blended at 0.5, lie under the partner box');
  }
  assert.throws(() => new YoloxMixUp({ imgScale: [H, W] }).apply([{ ...zeros(), mask: torch.zeros([H, W], { dtype: 'int64' }) }, partner()], new Rng(1)), /no class mask/);
});

test('MultiImageMixDataset: draws partners from the source, switches steps off for the last epochs, collates to a batch', async () => {
  const H = 16, W = 16;
  const source = { length: 10, getSample: (i: number) => sample(H, W, [2, 2, 8 + (i % 4), 9], 10 + i, i) };
  const ds = new MultiImageMixDataset(source, [{ type: 'Mosaic', imgScale: [6, 6], offLastEpochs: 2 }], { epochs: 10 });
  const on = await ds.getSamples([0, 1], new Rng(3), 8);
  assert.deepEqual(on[0].image.shape, [3, 12, 12]);
  const b = collate(on);
  assert.deepEqual(b.images.shape, [2, 3, 12, 12]);
  assert.equal(b.boxes!.length, 2);
  assert.ok(b.boxes![0].shape[0] >= 1 && b.boxes![0].shape[0] <= 4);
  const off = await ds.getSample(0, new Rng(3), 9);
  assert.deepEqual(off.image.shape, [3, 16, 16], 'epoch 9 of 10: Mosaic is off, the source sample passes through');
  assert.deepEqual(off.boxes!.toArray(), [[2, 2, 8, 9]]);
  const again = await new MultiImageMixDataset(source, [{ type: 'Mosaic', imgScale: [8, 8] }]).getSample(0, new Rng(3));
  const once = await new MultiImageMixDataset(source, [{ type: 'Mosaic', imgScale: [8, 8] }]).getSample(0, new Rng(3));
  assert.ok(again.boxes!.equal(once.boxes!), 'same seed, same partners');
  assert.throws(() => new MultiImageMixDataset(source, [{ type: 'Mosiac' } as never]), /unknown transform "Mosiac" \(expected one of Mosaic, YoloxMixUp, RandomAffine\)/);
  assert.throws(() => collate([sample(4, 4, [0, 0, 2, 2], 1, 0), sample(5, 4, [0, 0, 2, 2], 1, 0)]), /sample 1 is 3×5×4, sample 0 is 3×4×4/);
});
