// The batch-level augmentations (src/augment/batch): the mathematics of each
// against closed forms. RandomFlip: p = 0 / 1 are identity / full flips, twice
// is the identity, the share follows p. RandomCrop: each output is the padded
// image's window at some offset within the padding. RandomErasing: the erased
// area lies within the requested scale range, only the rectangle changes.
// MixUp/CutMix: soft labels sum to 1, images are λ·x + (1−λ)·partner, CutMix's
// λ equals the unpasted share. Same seed, same output. Bad options named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, type Tensor } from 'arsenal';
import { randomFlip, RandomFlip } from '../src/augment/batch/flip.js';
import { RandomCrop } from '../src/augment/batch/crop.js';
import { RandomErasing, sampleErasingRects } from '../src/augment/batch/erasing.js';
import { Mixup } from '../src/augment/batch/mixup.js';
import { BatchPipeline } from '../src/augment/batch/pipeline.js';
import { chunkImages } from '../src/augment/batch/chunked.js';
import type { AugmentContext } from '../src/augment/batch/types.js';
import { validateConfig } from '../src/tasks/index.js';
import { Rng } from '../src/data/rng.js';
import { frame } from './helpers/frame.js';

const ctx = (seed: number, numClasses = 10, mean = [0.5], std = [0.5]): AugmentContext => ({ rng: new Rng(seed), mean, std, numClasses });

test('randomFlip: p=0 keeps, p=1 flips every image along the right axis, twice is the identity', () => {
  const x = torch.arange(2 * 1 * 3 * 4, undefined, 1, { dtype: 'float32' }).reshape(2, 1, 3, 4);
  assert.ok(randomFlip(x, 0, 'horizontal', new Rng(1)).equal(x));
  const h = randomFlip(x, 1, 'horizontal', new Rng(1));
  assert.deepEqual(h.index(0, 0, 0).toArray(), [3, 2, 1, 0]);
  const v = randomFlip(x, 1, 'vertical', new Rng(1));
  assert.deepEqual(v.index(0, 0, ':', 0).toArray(), [8, 4, 0]);
  assert.ok(randomFlip(h, 1, 'horizontal', new Rng(2)).equal(x));
  assert.throws(() => randomFlip(x, 1.5, 'horizontal', new Rng(1)), /prob must be in \[0, 1\]/);
});

test('randomFlip: each image is either unchanged or fully mirrored; the share follows p; same seed, same flips', () => {
  const n = 400;
  const x = torch.rand(n, 1, 2, 5);
  const y = randomFlip(x, 0.3, 'horizontal', new Rng(7));
  const same = y.eq(x).all(3).all(2).all(1);
  const mirrored = y.eq(x.flip(3)).all(3).all(2).all(1);
  assert.ok(same.logicalOr(mirrored).all().item(), 'an image was neither kept nor mirrored');
  const share = mirrored.float().mean().item();
  assert.ok(Math.abs(share - 0.3) < 0.07, `flipped share ${share}`);
  assert.ok(randomFlip(x, 0.3, 'horizontal', new Rng(7)).equal(y));
});

test('RandomFlip: diagonal flips both axes; the transform keeps labels', () => {
  const x = torch.arange(0, 6, 1, { dtype: 'float32' }).reshape(1, 1, 2, 3);
  const out = new RandomFlip({ prob: 1, direction: 'diagonal' }).apply({ images: x, labels: torch.tensor([4]) }, ctx(1));
  assert.deepEqual(out.images.reshape(-1).toArray(), [5, 4, 3, 2, 1, 0]);
  assert.deepEqual(out.labels!.toArray(), [4]);
});

test('RandomCrop: every output is a window of the padded image, offsets cover the padding range, fill is in pixel units', () => {
  const n = 64, c = 2, h = 5, w = 6, pad = 2;
  const x = torch.rand(n, c, h, w);
  const mean = [0.3, 0.6], std = [0.2, 0.4];
  const out = new RandomCrop({ padding: pad, fill: [0, 1] }).crop(x, ctx(5, 10, mean, std));
  assert.deepEqual(out.shape, [n, c, h, w]);
  // The reference: pad each channel with its normalised fill, then look for the window.
  const fill = torch.tensor([(0 - 0.3) / 0.2, (1 - 0.6) / 0.4]).float().reshape(1, c, 1, 1);
  const xp = torch.where(torch.ones(n, 1, h + 2 * pad, w + 2 * pad).bool(), fill, 0).clone();
  xp.index(':', ':', `${pad}:${pad + h}`, `${pad}:${pad + w}`).copy_(x);
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    let found = '';
    for (let dy = 0; dy <= 2 * pad && !found; dy++) {
      for (let dx = 0; dx <= 2 * pad && !found; dx++) {
        if (xp.index(i, ':', `${dy}:${dy + h}`, `${dx}:${dx + w}`).allclose(out.index(i), 1e-6, 1e-6)) found = `${dy},${dx}`;
      }
    }
    assert.ok(found, `image ${i} is not a window of its padded image`);
    seen.add(found);
  }
  assert.ok(seen.size > 15, `only ${seen.size} of 25 offsets drawn in 64 images`);
  assert.ok(new RandomCrop({ padding: pad, fill: [0, 1] }).crop(x, ctx(5, 10, mean, std)).equal(out), 'same seed, same crops');
  assert.ok(new RandomCrop({ padding: 0 }).crop(x, ctx(1)).equal(x), 'no padding, same size: identity');
  const small = new RandomCrop({ size: [3, 4] }).crop(x, ctx(2));
  assert.deepEqual(small.shape, [n, c, 3, 4]);
  assert.throws(() => new RandomCrop({ size: 9 }).crop(x, ctx(1)), /larger than the padded image 5×6/);
  assert.throws(() => new RandomCrop({ padding: [1, 2, 3] }), /padding must be/);
});

test('RandomErasing: rectangle areas lie within the scale range (up to rounding), aspect within the ratio range, p followed', () => {
  const h = 28, w = 28, n = 2000;
  const o = { prob: 0.5, scale: [0.02, 1 / 3] as [number, number], ratio: [0.3, 1 / 0.3] as [number, number], minCount: 1, maxCount: 1 };
  const [r] = sampleErasingRects(n, h, w, o, new Rng(11));
  let erased = 0;
  for (let i = 0; i < n; i++) {
    const eh = r.bottom[i] - r.top[i], ew = r.right[i] - r.left[i];
    if (eh === 0) continue;
    erased++;
    assert.ok(r.top[i] >= 0 && r.bottom[i] <= h && r.left[i] >= 0 && r.right[i] <= w, 'inside the image');
    // h and w are rounded from √(area·ratio) and √(area/ratio): allow half a pixel on each side.
    assert.ok((eh + 0.5) * (ew + 0.5) >= 0.02 * h * w && (eh - 0.5) * (ew - 0.5) <= (1 / 3) * h * w, `area ${eh}×${ew}`);
    assert.ok((eh + 0.5) / Math.max(ew - 0.5, 1e-9) >= 0.3 && (eh - 0.5) / (ew + 0.5) <= 1 / 0.3, `aspect ${eh}/${ew}`);
  }
  assert.ok(Math.abs(erased / n - 0.5) < 0.04, `erased share ${erased / n}`);
});

test('RandomErasing: only the rectangle changes, to the constant; pixel mode fills noise; same seed, same output', () => {
  const x = torch.rand(16, 3, 12, 10);
  const out = new RandomErasing({ prob: 1, value: [7, 8, 9] }).erase(x, new Rng(3));
  const changed = out.ne(x);
  for (let i = 0; i < 16; i++) {
    const m = changed.index(i).any(0); // [H, W]
    const rows = m.any(1).nonzero().reshape(-1).toArray() as number[];
    const cols = m.any(0).nonzero().reshape(-1).toArray() as number[];
    assert.ok(rows.length > 0, `image ${i} not erased at prob 1`);
    const [y0, y1, x0, x1] = [rows[0], rows[rows.length - 1] + 1, cols[0], cols[cols.length - 1] + 1];
    assert.equal(m.sum().item(), (y1 - y0) * (x1 - x0), 'the changed pixels form one rectangle');
    assert.deepEqual(out.index(i, ':', y0, x0).toArray(), [7, 8, 9]);
  }
  assert.ok(new RandomErasing({ prob: 1, value: [7, 8, 9] }).erase(x, new Rng(3)).equal(out));
  assert.ok(new RandomErasing({ prob: 0 }).erase(x, new Rng(3)).equal(x));
  torch.manualSeed(1);
  const noisy = new RandomErasing({ prob: 1, mode: 'pixel', minCount: 2, maxCount: 3 }).erase(torch.zeros(8, 1, 16, 16), new Rng(4));
  const vals = noisy.maskedSelect(noisy.ne(0));
  assert.ok(vals.numel() > 8 * 5 && Math.abs(vals.std().item() - 1) < 0.2, 'per-pixel standard normal noise');
  assert.throws(() => new RandomErasing({ scale: [0.5, 0.2] }), /scale must be/);
  assert.throws(() => new RandomErasing({ prob: 1, value: [1, 2] }).erase(x, new Rng(1)), /one number or 3/);
});

test('Mixup: MixUp images are λ·x + (1−λ)·x reversed, soft labels are the same mix and sum to 1', () => {
  const n = 6;
  const x = torch.rand(n, 1, 4, 4);
  const y = torch.tensor([0, 1, 2, 3, 4, 5]);
  for (const mode of ['batch', 'pair', 'elem'] as const) {
    const m = new Mixup({ mixupAlpha: 0.8, mode });
    const p = m.params(n, 4, 4, new Rng(9));
    const out = m.apply({ images: x, labels: y }, ctx(9, 6)) as { images: Tensor; labels: Tensor };
    for (let i = 0; i < n; i++) {
      const lam = p.lam[i];
      assert.ok(out.images.index(i).allclose(x.index(i).mul(lam).add(x.index(n - 1 - i).mul(1 - lam)), 1e-5, 1e-6), `${mode} image ${i}`);
      const row = out.labels.index(i).toArray() as number[];
      assert.ok(Math.abs(row[i] - lam) < 1e-6 && Math.abs(row[n - 1 - i] - (1 - lam)) < 1e-6, `${mode} label ${i}: ${row}`);
    }
    assert.ok(out.labels.sum(1).allclose(torch.ones(n), 1e-6, 1e-6));
    if (mode === 'batch') assert.ok(p.lam.every((l) => l === p.lam[0]));
    if (mode === 'pair') for (let i = 0; i < n; i++) assert.equal(p.lam[i], p.lam[n - 1 - i]);
    if (mode === 'elem') assert.ok(new Set(p.lam).size > 1);
  }
});

test("Mixup: CutMix pastes the partner's box, λ equals the unpasted share; odd batches work", () => {
  const n = 7, h = 16, w = 12; // odd: the middle image is its own partner
  const x = torch.arange(0, n, 1, { dtype: 'float32' }).reshape(n, 1, 1, 1).expand(n, 1, h, w).contiguous();
  const y = torch.tensor([0, 1, 2, 3, 4, 5, 6]);
  for (const opts of [{ cutmixAlpha: 1, mixupAlpha: 0 }, { cutmixAlpha: 0, mixupAlpha: 0, cutmixMinMax: [0.2, 0.8] as [number, number] }]) {
    const m = new Mixup({ ...opts, mode: 'elem' });
    const out = m.apply({ images: x, labels: y }, ctx(21, 7)) as { images: Tensor; labels: Tensor };
    const p = m.params(n, h, w, new Rng(21));
    for (let i = 0; i < n; i++) {
      if (i === (n - 1) / 2) { assert.ok(out.images.index(i).equal(x.index(i))); continue; }
      const pasted = out.images.index(i).eq(n - 1 - i).sum().item();
      assert.ok(Math.abs(p.lam[i] - (1 - pasted / (h * w))) < 1e-9, `image ${i}: λ ${p.lam[i]}, pasted ${pasted}`);
      const row = out.labels.index(i).toArray() as number[];
      assert.ok(Math.abs(row[i] - p.lam[i]) < 1e-6 && Math.abs(row.reduce((a, b) => a + b) - 1) < 1e-6);
    }
  }
  // prob 0: untouched images, one-hot labels
  const none = new Mixup({ mixupAlpha: 1, cutmixAlpha: 1, prob: 0 }).apply({ images: x, labels: y }, ctx(1, 7));
  assert.ok(none.images.equal(x));
  assert.ok(none.labels!.equal(torch.eye(7)));
  assert.throws(() => new Mixup({ mixupAlpha: 0, cutmixAlpha: 0 }), /all off/);
});

test('BatchPipeline: same seed, same batch; steps switch off for the last N epochs; bad entries are named', () => {
  const cfgs = [{ type: 'RandomFlip', prob: 0.5 }, { type: 'RandomCrop', padding: 2 }, { type: 'RandomErasing' }, { type: 'Mixup', cutmixAlpha: 1, offLastEpochs: 2 }];
  const x = torch.rand(8, 1, 10, 10);
  const y = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7]);
  const run = () => { torch.manualSeed(5); return new BatchPipeline(cfgs).apply({ images: x, labels: y }, ctx(5)); };
  const a = run(), b = run();
  assert.ok(a.images.equal(b.images) && a.labels!.equal(b.labels!));
  const p = new BatchPipeline(cfgs);
  assert.deepEqual(p.active(8, 10).map((t) => t.type), ['RandomFlip', 'RandomCrop', 'RandomErasing', 'Mixup']);
  assert.deepEqual(p.active(9, 10).map((t) => t.type), ['RandomFlip', 'RandomCrop', 'RandomErasing']);
  // loaderOnly (SWA's BatchNorm pass): what a data loader yields, without the in-step MixUp/CutMix: hard labels stay.
  const mixOnly = new BatchPipeline([{ type: 'Mixup', mixupAlpha: 1 }]);
  assert.ok(mixOnly.apply({ images: x, labels: y }, ctx(5), 1, 10, { loaderOnly: true }).labels!.equal(y));
  assert.equal(mixOnly.apply({ images: x, labels: y }, ctx(5), 1, 10).labels!.ndim, 2, 'soft targets');
  // Ramped in over 4 epochs: epoch 1 runs the step on about a quarter of the batches, epoch 4 on all.
  const ramp = new BatchPipeline([{ type: 'RandomErasing', prob: 1, value: 9, rampEpochs: 4 }]);
  const share = (epoch: number) => {
    const c = ctx(epoch);
    let hit = 0;
    for (let k = 0; k < 400; k++) if (ramp.apply({ images: torch.zeros(1, 1, 8, 8) }, c, epoch, 10).images.eq(9).any().item()) hit++;
    return hit / 400;
  };
  assert.ok(Math.abs(share(1) - 0.25) < 0.06, `epoch 1: ${share(1)}`);
  assert.ok(Math.abs(share(2) - 0.5) < 0.07, `epoch 2: ${share(2)}`);
  assert.equal(share(4), 1);
  assert.throws(() => new BatchPipeline([{ type: 'RandomFlip', rampEpochs: 0 }]), /augment\.train\[0\]\.rampEpochs: expected a value in \[1, 1000000\]/);
  assert.throws(() => new BatchPipeline([{ type: 'Cutmix' }]), /augment\.train\[0\]\.type: unknown transform "Cutmix" \(expected one of RandomFlip, RandomCrop, RandomResizedCrop, RandomResizeCrop, Resize, Pad, ColorJitter, PhotoMetricDistortion, RandomErasing, Mixup\)/);
  assert.throws(() => new BatchPipeline([{ type: 'RandomFlip' }, { type: 'RandomErasing', probability: 0.5 }]), /augment\.train\[1\]\.probability: unknown key/);
  assert.throws(() => new BatchPipeline([{ type: 'RandomCrop', padding: -1 }]), /augment\.train\[0\]\.padding/);
  const base = { task: 'classification', data: { dataset: 'fashion-mnist', batchSize: 8 }, model: { name: 'resnet18' }, optimizer: { type: 'SGD', lr: 0.1 }, train: { epochs: 1 } };
  assert.throws(() => validateConfig({ ...base, augment: { train: [{ type: 'Mixup', mode: 'pairs' }] } }), /augment\.train\[0\]\.mode: expected one of "batch", "pair", "elem"/);
});

// A detection/segmentation batch whose mask and boxes are derived from its pixels:
// image i holds a bright rectangle (value 10 + i) on noise in [0, 1), the mask
// labels that rectangle 1 and the background 0, the single box frames it.
function scene(n: number, h: number, w: number, rng: Rng) {
  const images = torch.rand(n, 1, h, w);
  const masks = torch.zeros([n, h, w], { dtype: 'int64' });
  const boxes: Tensor[] = [], boxLabels: Tensor[] = [];
  for (let i = 0; i < n; i++) {
    const y0 = rng.int(0, h - 4), x0 = rng.int(0, w - 4), y1 = y0 + rng.int(2, Math.min(8, h - y0) + 1), x1 = x0 + rng.int(2, Math.min(8, w - x0) + 1);
    images.index(i, 0, `${y0}:${y1}`, `${x0}:${x1}`).fill_(10 + i);
    masks.index(i, `${y0}:${y1}`, `${x0}:${x1}`).fill_(1);
    boxes.push(torch.tensor([[x0, y0, x1, y1]], { dtype: 'float32' }));
    boxLabels.push(torch.tensor([i]));
  }
  return { images, masks, boxes, boxLabels };
}

test('RandomFlip with boxes and masks: boxes and masks move with the pixels; flipping twice is the identity', () => {
  for (const direction of ['horizontal', 'vertical', 'diagonal'] as const) {
    const b = scene(6, 12, 16, new Rng(2));
    const t = new RandomFlip({ prob: 1, direction });
    const f = t.apply(b, ctx(1));
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(f.boxes![i].reshape(-1).toArray(), frame(f.images.index(i, 0), 10 + i), `${direction} image ${i}`);
      assert.ok(f.masks!.index(i).eq(1).equal(f.images.index(i, 0).eq(10 + i)), 'mask follows the pixels');
    }
    const back = t.apply(f, ctx(1));
    assert.ok(back.images.equal(b.images) && back.masks!.equal(b.masks));
    back.boxes!.forEach((bx, i) => assert.ok(bx.equal(b.boxes[i])));
  }
});

test('RandomCrop with boxes and masks: boxes frame the same pixels, masks follow, padding is ignore (255), boxes leaving the crop are dropped', () => {
  const n = 40;
  const b = scene(n, 12, 12, new Rng(3));
  const out = new RandomCrop({ padding: 6 }).apply(b, ctx(8));
  let dropped = 0, clipped = 0;
  for (let i = 0; i < n; i++) {
    const img = out.images.index(i, 0), mask = out.masks!.index(i);
    const padded = img.eq(-1); // fill 0 in pixel units is (0 − 0.5) / 0.5
    assert.ok(mask.eq(255).equal(padded), `image ${i}: ignore exactly on the padding`);
    assert.ok(mask.eq(1).equal(img.eq(10 + i)), `image ${i}: mask follows the pixels`);
    const seen = frame(out.images.index(i, 0), 10 + i);
    const full = (b.boxes[i].reshape(-1).toArray() as number[]);
    if (out.boxes![i].shape[0] === 0) { dropped++; assert.ok(seen.length === 0 || seen[2] - seen[0] < 1 || seen[3] - seen[1] < 1); continue; }
    assert.deepEqual(out.boxes![i].reshape(-1).toArray(), seen, `image ${i}: the box frames its pixels`);
    assert.deepEqual(out.boxLabels![i].toArray(), [i]);
    if (seen[2] - seen[0] < full[2] - full[0] || seen[3] - seen[1] < full[3] - full[1]) clipped++;
  }
  assert.ok(clipped > 0, 'some boxes were clipped');
  assert.ok(dropped > 0, 'no box left the crop: the test did not exercise dropping');
});

test('RandomErasing with masks and boxes: masks become 255 exactly where erased; boxes more than 90% erased are dropped', () => {
  const n = 60;
  const b = scene(n, 16, 16, new Rng(4));
  const out = new RandomErasing({ prob: 1, value: 77, scale: [0.1, 0.5] }).apply(b, ctx(6));
  let dropped = 0;
  for (let i = 0; i < n; i++) {
    const erased = out.images.index(i, 0).eq(77);
    assert.ok(out.masks!.index(i).eq(255).equal(erased), `image ${i}`);
    const [x0, y0, x1, y1] = b.boxes[i].reshape(-1).toArray() as number[];
    const share = erased.index(`${y0}:${y1}`, `${x0}:${x1}`).float().mean().item();
    assert.equal(out.boxes![i].shape[0], share > 0.9 ? 0 : 1, `image ${i}: erased share ${share}`);
    if (share > 0.9) dropped++;
  }
  assert.ok(dropped > 0, 'no box was erased enough to be dropped: the test did not exercise the rule');
});

test('CutMix for segmentation pastes the partner mask with its pixels; MixUp with masks needs mode batch; boxes are refused', () => {
  const b = scene(6, 16, 16, new Rng(5));
  const out = new Mixup({ mixupAlpha: 0, cutmixAlpha: 1, mode: 'elem' }).apply({ images: b.images, masks: b.masks }, ctx(3));
  const fromPartner = out.images.ne(b.images).any(1); // [N,H,W]
  assert.ok(fromPartner.any().item(), 'something was pasted');
  assert.ok(torch.where(fromPartner, out.masks!.eq(b.masks.flip(0)), true).all().item(), 'pasted pixels carry the partner mask');
  assert.ok(torch.where(fromPartner, true, out.masks!.eq(b.masks)).all().item(), 'the rest keeps its own mask');
  assert.throws(() => new Mixup({ mixupAlpha: 1, mode: 'elem' }).apply({ images: b.images, masks: b.masks }, ctx(3)), /MixUp with masks needs mode 'batch'/);
  assert.equal(out.masks2, undefined, 'CutMix alone keeps one mask set');
  assert.throws(() => new Mixup({ cutmixAlpha: 1 }).apply({ images: b.images, boxes: b.boxes, boxLabels: b.boxLabels }, ctx(3)), /boxes cannot be mixed/);
});

test('large images: per-image steps run chunk by chunk, with the same guarantees and the same result as each chunk transformed whole', () => {
  // 40 × 1×256×256 floats = 10 MB: chunks of 8 images (2 MB).
  const n = 40;
  const b = scene(n, 256, 256, new Rng(9));
  assert.equal(chunkImages(b.images), 8);
  assert.equal(chunkImages(torch.zeros(128, 1, 28, 28)), 0, 'Fashion-MNIST batches run whole');
  const geo = [{ type: 'RandomFlip', prob: 0.5 }, { type: 'RandomCrop', padding: 6 }];
  const out = new BatchPipeline(geo).apply(b, ctx(4));
  assert.deepEqual(out.images.shape, [n, 1, 256, 256]);
  let flipped = 0;
  for (let i = 0; i < n; i++) {
    const img = out.images.index(i, 0), mask = out.masks!.index(i);
    assert.ok(mask.eq(1).equal(img.eq(10 + i)), `image ${i}: mask follows the pixels`);
    assert.ok(mask.eq(255).equal(img.eq(-1)), `image ${i}: ignore exactly on the padding`);
    assert.deepEqual(out.boxes![i].reshape(-1).toArray(), frame(img, 10 + i), `image ${i}: the box frames its pixels`);
    assert.deepEqual(out.boxLabels![i].toArray(), out.boxes![i].shape[0] ? [i] : []);
    const src = (b.boxes[i].reshape(-1).toArray() as number[]), now = out.boxes![i].reshape(-1).toArray() as number[];
    if (Math.abs((now[0] + now[2]) / 2 - 128) > 10 && Math.sign((now[0] + now[2]) / 2 - 128) !== Math.sign((src[0] + src[2]) / 2 - 128)) flipped++;
  }
  assert.ok(flipped > 5 && flipped < 35, `about half the images flipped: ${flipped}`);
  // The same draws, chunk by chunk by hand: flip, crop and noise erasing on images 0-7, then 8-15, ...
  const all = [...geo, { type: 'RandomErasing', prob: 1, mode: 'pixel' }];
  torch.manualSeed(3);
  const chunked = new BatchPipeline(all).apply({ images: b.images, labels: torch.arange(0, n, 1) }, ctx(5));
  torch.manualSeed(3);
  const c = ctx(5), steps = new BatchPipeline(all).steps.map((s) => s.transform);
  const parts = [];
  for (let s = 0; s < n; s += 8) {
    let part = { images: b.images.narrow(0, s, 8), labels: torch.arange(s, s + 8, 1) };
    for (const t of steps) part = t.apply(part, c) as typeof part;
    parts.push(part);
  }
  assert.ok(chunked.images.equal(torch.cat(parts.map((p) => p.images), 0)), 'chunks assembled in order');
  assert.ok(chunked.labels!.equal(torch.arange(0, n, 1)));
  // A batch-mixing step between per-image ones sees the whole batch: the partner of image 0 is image 39.
  const mixed = new BatchPipeline([{ type: 'RandomFlip', prob: 0 }, { type: 'Mixup', mixupAlpha: 0, cutmixAlpha: 1, mode: 'elem' }, { type: 'RandomErasing', prob: 0 }])
    .apply({ images: b.images, labels: torch.arange(0, n, 1).remainder(10) }, ctx(6));
  assert.deepEqual(mixed.labels!.shape, [n, 10]);
  const lab = mixed.labels!.index(0).toArray() as number[];
  assert.ok(lab[0] > 0 && Math.abs(lab.reduce((a, v) => a + v, 0) - 1) < 1e-6, `soft target of image 0: ${lab}`);
});
