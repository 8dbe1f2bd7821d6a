// Test-time augmentation and ensembles (src/infer): TTA with a horizontal flip
// never changes the prediction of a flip-symmetric input and costs one batched
// forward per view; views invert themselves on dense predictions; the merges
// and the ensemble rules equal their formulas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, nn, type Tensor } from 'arsenal';
import { TTA, buildViews, shiftImage, scaleImage } from '../src/infer/tta.js';
import { mergeProbs } from '../src/infer/merge.js';

test('TTA: flip-symmetric inputs keep their prediction; one batched forward per view', () => {
  torch.manualSeed(3);
  const model = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 8 * 8, 5));
  model.eval();
  const x0 = torch.randn(16, 1, 8, 8);
  const x = x0.add(x0.flip(3)).div(2); // symmetric under a horizontal flip
  const calls: number[] = [];
  const forward = (v: Tensor) => { calls.push(v.shape[0]); return model.forward(v); };
  torch.noGrad(() => {
    const plain = model.forward(x).argmax(1);
    for (const merge of ['mean', 'logits', 'gmean', 'max'] as const) {
      calls.length = 0;
      const p = new TTA(forward, { flips: ['h'], merge }).predict(x);
      assert.ok(p.argmax(1).equal(plain), `${merge}: a prediction changed`);
      assert.ok(p.sum(1).allclose(torch.ones(16), 1e-5, 1e-6), `${merge}: probabilities sum to 1`);
      assert.deepEqual(calls, [16, 16], 'one forward of the whole batch per view');
    }
    calls.length = 0;
    new TTA(forward, { flips: ['h', 'v'], shifts: [[1, 0], [0, -1]], scales: [0.9, 1.1] }).predict(x0);
    assert.deepEqual(calls, [16, 16, 16, 16, 16, 16, 16]);
  });
  assert.throws(() => new TTA(forward, { merge: 'median' as never }), /merge must be one of mean, logits, gmean, max/);
  assert.throws(() => buildViews({ flips: ['d' as never] }), /tta\.flips: expected 'h' or 'v'/);
});

test('TTA views invert on dense predictions; shifts and scales keep the size', () => {
  const m = torch.rand(2, 3, 10, 12);
  for (const v of buildViews({ flips: ['h', 'v'], shifts: [[2, -1]] })) {
    const back = v.invert(v.apply(m));
    assert.deepEqual(back.shape, [2, 3, 10, 12]);
    if (v.name.startsWith('shift')) assert.ok(back.index(':', ':', '1:', ':10').equal(m.index(':', ':', '1:', ':10')), 'inside the shifted frame');
    else assert.ok(back.equal(m), v.name);
  }
  assert.ok(shiftImage(m, 2, 1).index(':', ':', '1:', '2:').equal(m.index(':', ':', ':9', ':10')));
  assert.deepEqual(scaleImage(m, 1.5).shape, [2, 3, 10, 12]);
  assert.deepEqual(scaleImage(m, 0.5).shape, [2, 3, 10, 12]);
  assert.throws(() => shiftImage(m, 12, 0), /as large as the image/);
});

test('one merge for TTA views and ensemble members equals its formulas', () => {
  const a = torch.tensor([[2, 0, -1]], { dtype: 'float32' }), b = torch.tensor([[0, 1, 0.5]], { dtype: 'float32' });
  const pa = a.softmax(1), pb = b.softmax(1);
  assert.ok(mergeProbs([a, b], { how: 'mean' }).allclose(pa.add(pb).div(2)));
  assert.ok(mergeProbs([a, b], { how: 'logits' }).allclose(a.add(b).div(2).softmax(1)));
  const g = pa.mul(pb).sqrt();
  assert.ok(mergeProbs([a, b], { how: 'gmean' }).allclose(g.div(g.sum(1, true))));
  const mx = pa.maximum(pb);
  assert.ok(mergeProbs([a, b], { how: 'max' }).allclose(mx.div(mx.sum(1, true))));
  assert.ok(mergeProbs([a, b], { how: 'mean', weights: [3, 1] }).allclose(pa.mul(0.75).add(pb.mul(0.25))));
  assert.ok(mergeProbs([a, b], { how: 'logits', weights: [1, 1] }).allclose(a.add(b).div(2).softmax(1)));
  const c = torch.tensor([[0, 3, 0]], { dtype: 'float32' });
  assert.ok(mergeProbs([a, b, c], { how: 'vote' }).allclose(torch.tensor([[1 / 3, 2 / 3, 0]], { dtype: 'float32' })), 'vote shares');
  assert.deepEqual(mergeProbs([a, b, c], { how: 'vote', weights: [2, 1, 0] }).argmax(1).toArray(), [0]);
  assert.throws(() => mergeProbs([a, torch.zeros(1, 4)]), /prediction 1 is \[1,4\], prediction 0 \[1,3\]/);
  assert.throws(() => mergeProbs([a, b], { weights: [1] }), /weights must be 2 non-negative numbers/);
  assert.ok(mergeProbs([a, b], { how: 'gmean', weights: [1, 3] }).allclose(pa.pow(0.25).mul(pb.pow(0.75)).div(pa.pow(0.25).mul(pb.pow(0.75)).sum(1, true))), 'weighted geometric mean');
});

test("ratio views (mmseg's multi-scale TTA): the whole image resized, dense scores resized back to any size; image-level scores untouched", () => {
  const views = buildViews({ ratios: [0.5, 0.75, 1, 1.5] });
  assert.deepEqual(views.map((v) => v.name), ['identity', 'ratio(0.5)', 'ratio(0.75)', 'ratio(1.5)']);
  // An odd size: 13 × 17 → 0.75 gives 10 × 13; the scores come back 13 × 17.
  const x = torch.rand([2, 3, 13, 17]);
  for (const v of views) {
    const y = v.apply(x);
    if (v.name === 'ratio(0.75)') assert.deepEqual(y.shape, [2, 3, 10, 13]);
    if (v.name === 'ratio(1.5)') assert.deepEqual(y.shape, [2, 3, 20, 26]);
    assert.deepEqual(v.invert(y).shape, [2, 3, 13, 17], v.name);
    // A constant map stays constant through resizing both ways.
    const c = torch.full([1, 2, 13, 17], 0.25);
    assert.ok(v.invert(v.apply(c)).sub(0.25).abs().max().item() < 1e-6);
    const logits = torch.rand([2, 5]);
    assert.ok(v.invert(logits).equal(logits));
  }
  assert.throws(() => buildViews({ ratios: [0] }), /tta\.ratios: expected positive numbers/);
});

test("slideInference (mmseg's mode='slide'): crops every stride, the last one moved back to the border, overlaps averaged", async () => {
  const { slideInference } = await import('../src/infer/slide.js');
  // 1 × 5 image, crops of 3 every 2: crops [0, 3) and [2, 5); a forward that paints each crop with its mean.
  const x = torch.tensor([1, 2, 3, 4, 5], { dtype: 'float32' }).reshape(1, 1, 1, 5);
  const seen: number[][] = [];
  const meanOf = (c: Tensor) => { seen.push([c.shape[2], c.shape[3]]); return torch.fullLike(c, c.mean().item()); };
  const out = slideInference(meanOf, x, { crop: [1, 3], stride: [1, 2] });
  // Crop means 2 and 4; pixel 2 is covered twice: (2 + 4) / 2.
  assert.deepEqual(Array.from(out.reshape(-1).toArray() as number[]), [2, 2, 3, 4, 4]);
  assert.deepEqual(seen, [[1, 3], [1, 3]]);
  // A crop larger than the image is the whole image, once.
  seen.length = 0;
  slideInference(meanOf, torch.rand([2, 3, 4, 6]), { crop: [8, 8], stride: [4, 4] });
  assert.deepEqual(seen, [[4, 6]]);
  // A pixel-wise forward gives the whole-image result, whatever the grid (here 4 × 4 crops of 5 × 7 every 3 × 4 on 13 × 17).
  const img = torch.rand([2, 3, 13, 17]);
  const twice = slideInference((c) => c.mul(2), img, { crop: [5, 7], stride: [3, 4] });
  assert.ok(twice.sub(img.mul(2)).abs().max().item() < 1e-6);
  assert.throws(() => slideInference((c) => c.narrow(3, 0, 1), img, { crop: [5, 7], stride: [3, 4] }), /slideInference: a crop \[2, ·, 5, 7\] gave scores \[2,3,5,1\]/);
  assert.throws(() => slideInference((c) => c, img, { crop: [0, 7], stride: [3, 4] }), /crop and stride must be \[h, w\] positive integers/);
});

test('slideInference holds one sum of the scores, not one per window: its peak memory does not grow with the windows', async () => {
  const { slideInference } = await import('../src/infer/slide.js');
  // 64 × 64 image, 8 × 8 windows every 8: 64 windows; scores of 4 channels (64 KiB for the whole image).
  const x = torch.rand([1, 1, 64, 64]);
  const full = 4 * 64 * 64 * 4;
  torch.scope(() => {
    const before = torch.memory();
    torch.resetPeakMemory();
    const out = slideInference((c) => c.expand(1, 4, c.shape[2], c.shape[3]).mul(2), x, { crop: [8, 8], stride: [8, 8] });
    const grew = torch.memory().peakBytes - before.bytes;
    assert.ok(grew < 2 * full, `peak ${grew} bytes above the start for a ${full}-byte result (the windows' scores, padded to the whole image, would be ${64 * full})`);
    assert.equal(torch.memory().tensors, before.tensors + 1, 'only the result is left');
    assert.ok(out.equal(x.expand(1, 4, 64, 64).mul(2)));
  });
});
