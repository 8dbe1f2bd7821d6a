// augment.sample (src/augment/sample/mix_dataset.ts): Mosaic and YOLOX MixUp
// wrapped around a batch dataset. Each output is a function of (seed, epoch,
// index) alone, so batches do not depend on how indices are grouped or
// fetched; a step in its offLastEpochs tail is off, and with every step off the
// wrapped dataset's batch comes back exactly; the four mosaic tiles land in
// their quadrants and the mosaic is resized back to the dataset's size; the
// label rules (largest tile; MixUp partner from half the pixels); the config
// key is validated with the transforms' schemas; and the trainer trains with
// it, a resumed run equal to an uninterrupted one; detection batches keep their
// boxes through Mosaic + RandomAffine (ignored ones left out). No assertion depends on CPU
// numerics beyond exact copies and constant images.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, data, Trainer, validateConfig, type Config, type Tensor } from 'arsenal';
import { quadrantSets } from './helpers/quadrants.js';
import { SampleMixDataset, wrapWithSampleSteps } from '../src/augment/sample/mix_dataset.js';
import type { MixStepConfig } from '../src/augment/sample/multi_image.js';
import { Mosaic } from '../src/augment/sample/mosaic.js';
import { YoloxMixUp } from '../src/augment/sample/yolox_mixup.js';
import { resizeSampleTo } from '../src/augment/sample/resize.js';
import type { Batch, Dataset } from '../src/data/dataset.js';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

/** n random uint8 images 1×h×w with labels i % k. */
function noise(n: number, h = 8, w = 8, k = 3, seed = 1): data.TensorDataset {
  const g = new data.Rng(seed);
  const px = new Uint8Array(n * h * w).map(() => g.int(0, 256));
  const labels = torch.tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(i % k)));
  return new data.TensorDataset(torch.tensor(px, { dtype: 'uint8' }).reshape(n, 1, h, w), labels, Array.from({ length: k }, (_, i) => `c${i}`));
}

/** Image i is the constant 10·(i+1) (uint8, 1×8×8), label i % 4; getBatch records the indices asked for. */
function constants(n: number): data.TensorDataset & { asked: number[] } {
  const images = torch.tensor(Float32Array.from({ length: n }, (_, i) => 10 * (i + 1))).reshape(n, 1, 1, 1).expand(n, 1, 8, 8).contiguous().to('uint8');
  const ds = new data.TensorDataset(images, torch.tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 4))), ['a', 'b', 'c', 'd']) as data.TensorDataset & { asked: number[] };
  ds.asked = [];
  const get = ds.getBatch.bind(ds);
  ds.getBatch = (indices: number[]) => { ds.asked.push(...indices); return get(indices); };
  return ds;
}

const STEPS: MixStepConfig[] = [{ type: 'Mosaic', imgScale: [8, 8] }, { type: 'YoloxMixUp', imgScale: [8, 8] }];
const same = (a: Tensor, b: Tensor) => a.dtype === b.dtype && a.shape.join() === b.shape.join() && a.equal(b);

test('same seed, same batches; a sample does not depend on its batch, on fetch order or on the order of epochs asked', async () => {
  const ds = noise(12);
  const w = wrapWithSampleSteps(ds, STEPS, { seed: 5, epochs: 4 }) as SampleMixDataset;
  assert.ok(w instanceof SampleMixDataset);
  w.setEpoch(2);
  const both = await w.getBatch([3, 5]);
  assert.deepEqual(both.images.shape, [2, 1, 8, 8], 'the 16×16 mosaic is resized back to the dataset size');
  assert.equal(both.images.dtype, 'uint8', 'the dtype of the wrapped dataset');
  assert.equal(both.labels.dtype, 'int64');
  assert.deepEqual(both.indices, [3, 5]);
  const five = await w.getBatch([5]), three = await w.getBatch([3]);
  assert.ok(same(both.images.narrow(0, 0, 1), three.images) && same(both.images.narrow(0, 1, 1), five.images), 'getBatch([3, 5]) = getBatch([3]) ⧺ getBatch([5])');
  assert.ok(same(both.labels.narrow(0, 0, 1), three.labels) && same(both.labels.narrow(0, 1, 1), five.labels));
  // Another wrapper with the same seed, asked in another epoch first: the same epoch-2 batch.
  const again = wrapWithSampleSteps(ds, STEPS, { seed: 5, epochs: 4 });
  again.setEpoch?.(3);
  await again.getBatch([5, 3]);
  again.setEpoch?.(2);
  assert.ok(same((await again.getBatch([3, 5])).images, both.images), 'same seed and epoch, same batch');
  const other = wrapWithSampleSteps(ds, STEPS, { seed: 6, epochs: 4 });
  other.setEpoch?.(2);
  assert.ok(!(await other.getBatch([3, 5])).images.equal(both.images), 'another seed, other mosaics');
  again.setEpoch?.(3);
  assert.ok(!(await again.getBatch([3, 5])).images.equal(both.images), 'another epoch, other mosaics');
  // Through a shuffling loader with prefetch: every batch equals its samples fetched one by one.
  const loader = new data.DataLoader(w, { batchSize: 4, shuffle: true, seed: 9, prefetch: 3 });
  loader.setEpoch(1);
  assert.equal(w.epoch, 1, 'DataLoader.setEpoch tells the dataset');
  const seen: Batch[] = [];
  for await (const b of loader) seen.push(b);
  for (const b of seen) for (const [k, i] of b.indices.entries()) assert.ok(same(b.images.narrow(0, k, 1), (await w.getBatch([i])).images), `sample ${i} differs with prefetch`);
  // Subset passes setEpoch on.
  const sub = new data.Subset(w, [0, 1, 2]);
  sub.setEpoch(3);
  assert.equal(w.epoch, 3, 'Subset.setEpoch reaches the wrapped dataset');
  // Everything a batch loads and every intermediate is freed: only the batch's own tensors are left, until disposed.
  const u0 = torch.memory().unowned;
  const m = await w.getBatch([1, 2, 3, 1]);
  assert.equal(torch.memory().unowned, u0 + 2, 'images and labels');
  torch.dispose([m.images, m.labels]);
  assert.equal(torch.memory().unowned, u0, 'getBatch leaves nothing to finalizers');
  // No steps: the dataset itself.
  assert.equal(wrapWithSampleSteps(ds, undefined, { seed: 5, epochs: 4 }), ds);
  assert.equal(wrapWithSampleSteps(ds, [], { seed: 5, epochs: 4 }), ds);
});

test('a step in its offLastEpochs tail is off; with every step off the wrapped batch comes back exactly', async () => {
  const ds = noise(12);
  const idx = [1, 2, 7, 7];
  const plain = ds.getBatch(idx);
  const steps: MixStepConfig[] = [{ type: 'Mosaic', imgScale: [8, 8], offLastEpochs: 2 }, { type: 'YoloxMixUp', imgScale: [8, 8], offLastEpochs: 1 }];
  const w = new SampleMixDataset(ds, steps, { seed: 3, epochs: 5 });
  assert.deepEqual(w.stepsOn(3).map((s) => s.type), ['Mosaic', 'YoloxMixUp']);
  assert.deepEqual(w.stepsOn(4).map((s) => s.type), ['YoloxMixUp']);
  w.setEpoch(5);
  const off = await w.getBatch(idx);
  assert.ok(same(off.images, plain.images) && same(off.labels, plain.labels), 'epoch 5 of 5: the unwrapped batch');
  w.setEpoch(4);
  const mixOnly = await w.getBatch(idx);
  assert.ok(!mixOnly.images.equal(plain.images), 'epoch 4: MixUp still on');
  // MixUp alone keeps the image size: no resize, a 0.5/0.5 blend of uint8 pixels.
  assert.deepEqual(mixOnly.images.shape, plain.images.shape);
  // Soft targets travel as rows; float images stay float.
  const soft = new data.TensorDataset(ds.images.float(), torch.eye(3).indexSelect(0, torch.tensor(Int32Array.from({ length: 12 }, (_, i) => i % 3))).mul(0.8).add(0.2 / 3), ds.classes);
  const ws = new SampleMixDataset(soft, steps, { seed: 3, epochs: 5 });
  const b = await ws.getBatch([0, 4]);
  assert.equal(b.images.dtype, 'float32');
  assert.deepEqual(b.labels.shape, [2, 3]);
  const rows = soft.labels.toArray() as number[][];
  for (const r of b.labels.toArray() as number[][]) assert.ok(rows.some((x) => x.every((v, j) => v === r[j])), 'a soft target is one source row');
});

test('Mosaic with a fixed centre: each source lands in its quadrant, resized back; the label is the largest tile', async () => {
  const ds = constants(12);
  const fixed: MixStepConfig[] = [{ type: 'Mosaic', imgScale: [8, 8], centerRatioRange: [1, 1] }];
  for (const outSize of [undefined, [16, 16] as [number, number]]) {
    const w = new SampleMixDataset(ds, fixed, { seed: 11, epochs: 3, ...(outSize ? { outSize } : {}) });
    for (const i of [0, 5, 11]) {
      ds.asked.length = 0;
      const b = await w.getBatch([i]);
      const [anchor, p1, p2, p3] = ds.asked;
      assert.equal(anchor, i, 'the sample itself is the anchor');
      assert.equal(ds.asked.length, 4);
      const s = outSize ? 8 : 4, n = 2 * s;
      assert.deepEqual(b.images.shape, [1, 1, n, n]);
      const img = b.images.index(0, 0);
      const quad = (y: number, x: number) => img.index(`${y}:${y + s}`, `${x}:${x + s}`);
      const expect: [number, number, number][] = [[0, 0, anchor], [0, s, p1], [s, 0, p2], [s, s, p3]];
      for (const [y, x, j] of expect) assert.ok(quad(y, x).eq(10 * (j + 1)).all().item(), `sample ${i}: quadrant (${y}, ${x}) is not source ${j}'s constant ${10 * (j + 1)}`);
      assert.equal(Number(b.labels.item()), i % 4, 'four equal tiles: the anchor\'s label');
    }
  }
  // The label of the largest tile: centre at (W/2, H/2) → the bottom-right tile covers W×H of the 2H×2W canvas.
  const tiles = [0, 1, 2, 3].map((k) => ({ image: torch.full([1, 8, 8], 10 * k), label: 100 + k }));
  const out = new Mosaic({ imgScale: [8, 8], centerRatioRange: [0.5, 0.5] }).apply(tiles, new data.Rng(1));
  assert.equal(out.label, 103);
  assert.ok(out.image.index(0, '4:12', '4:12').eq(30).all().item(), 'the bottom-right tile fills W×H from the centre');
  // resizeSampleTo moves boxes and masks with the pixels.
  const r = resizeSampleTo({ image: torch.zeros(1, 16, 32), mask: torch.zeros([16, 32], { dtype: 'int64' }), boxes: torch.tensor([[4, 2, 8, 6]], { dtype: 'float32' }), boxLabels: torch.tensor([1]) }, 8, 8);
  assert.deepEqual(r.boxes!.toArray(), [[1, 1, 2, 3]]);
  assert.deepEqual(r.mask!.shape, [8, 8]);
});

/** constants(n) with segmentation masks: mask i is the constant class (3·i) % 7 (int64 [1,8,8]), labels int64 zeros as mmseg's placeholder. */
function segConstants(n: number): Dataset & { asked: number[] } {
  const base = constants(n);
  const cls = (i: number) => (3 * i) % 7;
  const ds: Dataset & { asked: number[] } = {
    length: n, classes: base.classes, classCounts: () => base.classCounts(), asked: base.asked,
    async getBatch(indices: number[]): Promise<Batch> {
      const b = await base.getBatch(indices);
      b.labels.dispose();
      const masks = torch.tensor(BigInt64Array.from(indices, (i) => BigInt(cls(i)))).reshape(indices.length, 1, 1).expand(indices.length, 8, 8).contiguous();
      return { images: b.images, labels: torch.zeros([indices.length], { dtype: 'int64' }), masks, indices: indices.slice() };
    },
  };
  return ds;
}

test('Mosaic on segmentation: each tile\'s mask moves with its pixels, the canvas padding is 255, masks int64 [N,H,W]; deterministic', async () => {
  const ds = segConstants(12);
  const cls = (j: number) => (3 * j) % 7;
  // Centre at (W/2, H/2) on the 16×16 canvas: tile 0 at [0,4)², tile 1 x∈[4,12) y∈[0,4), tile 2 x∈[0,4) y∈[4,12), tile 3 [4,12)²; the rest padding.
  const fixed: MixStepConfig[] = [{ type: 'Mosaic', imgScale: [8, 8], centerRatioRange: [0.5, 0.5] }];
  for (const outSize of [undefined, [16, 16] as [number, number]]) {
    const w = new SampleMixDataset(ds, fixed, { seed: 11, epochs: 3, ...(outSize ? { outSize } : {}) });
    const f = outSize ? 1 : 0.5, n = outSize ? 16 : 8;
    for (const i of [0, 5, 11]) {
      ds.asked.length = 0;
      const b = await w.getBatch([i]);
      const src = ds.asked.slice(0, 4);
      assert.equal(src[0], i);
      assert.deepEqual(b.images.shape, [1, 1, n, n]);
      assert.equal(b.masks!.dtype, 'int64');
      assert.deepEqual(b.masks!.shape, [1, n, n], 'masks the size of the images');
      assert.deepEqual(b.labels.toArray(), [0], 'the placeholder label passes through');
      const img = b.images.index(0, 0).toArray() as number[][], mask = b.masks!.index(0).toArray() as number[][];
      const tile = (y: number, x: number): number => {
        const cy = y / f, cx = x / f;
        if (cy >= 12 || cx >= 12) return -1;
        return (cy < 4 ? 0 : 2) + (cx < 4 ? 0 : 1);
      };
      let pads = 0;
      for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
        const k = tile(y, x);
        if (k < 0) {
          pads++;
          assert.equal(Number(mask[y][x]), 255, `sample ${i}: padding at (${y}, ${x}) is 255`);
          assert.equal(img[y][x], 114, `sample ${i}: padding image at (${y}, ${x})`);
        } else {
          const j = src[k];
          assert.equal(img[y][x], 10 * (j + 1), `sample ${i}: (${y}, ${x}) is tile ${k}, source ${j}`);
          assert.equal(Number(mask[y][x]), cls(j), `sample ${i}: (${y}, ${x}): the mask of source ${j} where its pixels are`);
        }
      }
      assert.equal(pads, n * n - (12 * f) ** 2);
    }
    // Determinism: same seed, same masks; a sample does not depend on its batch.
    w.setEpoch(2);
    const both = await w.getBatch([3, 5]);
    const again = new SampleMixDataset(ds, fixed, { seed: 11, epochs: 3, ...(outSize ? { outSize } : {}) });
    again.setEpoch(2);
    const five = await again.getBatch([5]), three = await again.getBatch([3]);
    assert.deepEqual(both.masks!.shape, [2, n, n]);
    assert.ok(same(both.masks!.narrow(0, 0, 1), three.masks!) && same(both.masks!.narrow(0, 1, 1), five.masks!), 'masks: getBatch([3, 5]) = getBatch([3]) ⧺ getBatch([5])');
    assert.ok(same(both.images.narrow(0, 0, 1), three.images) && same(both.images.narrow(0, 1, 1), five.images));
  }
  // Random centres, same seed: the same masks and images.
  const rand: MixStepConfig[] = [{ type: 'Mosaic', imgScale: [8, 8] }];
  const a = await new SampleMixDataset(ds, rand, { seed: 3, epochs: 2 }).getBatch([1, 2, 7]);
  const c = await new SampleMixDataset(ds, rand, { seed: 3, epochs: 2 }).getBatch([1, 2, 7]);
  assert.ok(same(a.masks!, c.masks!) && same(a.images, c.images));
  // YoloxMixUp is a detection transform: refused with masks, naming itself.
  const mixed = new SampleMixDataset(ds, [{ type: 'Mosaic', imgScale: [8, 8] }, { type: 'YoloxMixUp', imgScale: [8, 8] }], { seed: 1, epochs: 2 });
  await assert.rejects(async () => mixed.getBatch([0]), /YoloxMixUp.*no class mask/);
});

test('YoloxMixUp on classification: the partner\'s label when its pixels cover at least half of the output', () => {
  const outcomes = new Set<number>();
  for (let seed = 1; seed <= 24; seed++) {
    // An 8×8 partner on an 8×32 canvas: it covers (8 − x offset)/8 of the cut, the rest is padding.
    const a = { image: torch.zeros(1, 8, 8), label: 1 };
    const b = { image: torch.full([1, 8, 8], 200), label: 2 };
    const out = new YoloxMixUp({ imgScale: [8, 32], ratioRange: [1, 1], flipRatio: 0.5, padVal: 0 }).apply([a, b], new data.Rng(seed));
    const covered = Number(out.image.eq(100).sum().item()) / 64;
    assert.equal(out.label, covered >= 0.5 ? 2 : 1, `seed ${seed}: partner covers ${covered}`);
    assert.ok(out.boxes === undefined);
    outcomes.add(out.label!);
  }
  assert.deepEqual([...outcomes].sort(), [1, 2], 'both rules exercised');
  assert.throws(() => new YoloxMixUp({ imgScale: [8, 8] }).apply([{ image: torch.zeros(1, 8, 8), boxes: torch.zeros([0, 4]), boxLabels: torch.zeros([0], { dtype: 'int64' }) }, { image: torch.zeros(1, 8, 8) }], new data.Rng(1)), /or neither \(classification\)/);
});

const base = (sample?: unknown): unknown => ({
  task: 'classification', data: { dataset: 'fashion-mnist', batchSize: 8 }, model: { name: 'resnet18' },
  optimizer: { type: 'SGD', lr: 0.1 }, train: { epochs: 2 }, augment: { sample },
});

test('config: augment.sample is checked with the transforms\' schemas; errors name the key', () => {
  validateConfig(base(STEPS));
  const bad: [unknown, RegExp][] = [
    [[{ type: 'Mosaic', imgScale: [0, 4] }], /config\.augment\.sample\[0\]\.imgScale\[0\]: expected a value in \[1, 100000\], got 0/],
    [[{ type: 'Mosaic' }], /config\.augment\.sample\[0\]\.imgScale: missing/],
    [[{ type: 'Mosaic', imgScale: [8, 8] }, { type: 'Mosiac', imgScale: [8, 8] }], /config\.augment\.sample\[1\]\.type: unknown transform "Mosiac" \(expected one of Mosaic, YoloxMixUp, RandomAffine\)/],
    [[{ type: 'YoloxMixUp', imgScale: [8, 8], ratioRange: [2, 1] }], /config\.augment\.sample\[0\]\.ratioRange: expected \[lo, hi\] with lo <= hi/],
    [[{ type: 'Mosaic', imgScale: [8, 8], offLastEpochs: 1.5 }], /config\.augment\.sample\[0\]\.offLastEpochs: expected an integer/],
    [[{ type: 'Mosaic', imgScale: [8, 8], centerRatio: [1, 1] }], /config\.augment\.sample\[0\]\.centerRatio: unknown key/],
    [[{ type: 'Mosaic', imgScale: [8, 8], centerRatioRange: [0, 3] }], /config\.augment\.sample\[0\]: Mosaic: centerRatioRange must be/],
    [{ type: 'Mosaic' }, /config\.augment\.sample: expected an array/],
  ];
  for (const [sample, re] of bad) assert.throws(() => validateConfig(base(sample)), re);
  assert.throws(() => new SampleMixDataset(noise(4), [{ type: 'Mosaic', imgScale: [8, 8], prob: 2 }], { seed: 1, epochs: 2 }), /augment\.sample\[0\]\.prob: expected a value in \[0, 1\]/);
});

// ---- the trainer ---------------------------------------------------------------------------------------------
const N = 48;
const sets = () => quadrantSets(N, 16);

const tiny = (): Config => ({
  task: 'classification',
  seed: 7,
  data: { dataset: 'fashion-mnist', batchSize: 16, mean: [0.3], std: [0.35] },
  model: { name: 'resnet18', stem: 'small', width: 4 },
  optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9 },
  augment: {
    sample: [{ type: 'Mosaic', imgScale: [16, 16], offLastEpochs: 1 }, { type: 'YoloxMixUp', imgScale: [16, 16] }],
    train: [{ type: 'RandomFlip', prob: 0.5 }],
  },
  swa: { start: 2, lr: 0.01, annealEpochs: 1 },
  train: { epochs: 2, amp: 'fp32', evalInterval: 2 },
});

test('the trainer trains with augment.sample; a resumed run equals an uninterrupted one; the switch is logged; SWA\'s BatchNorm pass sees the last epoch', async () => {
  const ds = sets();
  const dir = (): string => { const d = mkdtempSync(join(tmpdir(), 'arsenal-mix-')); made.push(d); return d; };
  const a = dir(), b = dir();
  const lines: string[] = [];
  const log = console.log;
  console.log = (...xs: unknown[]) => { lines.push(xs.join(' ')); };
  let ta: Trainer;
  try {
    ta = new Trainer(tiny(), { workDir: a, datasets: ds });
    await ta.fit();
  } finally {
    console.log = log;
  }
  assert.ok(ta.train instanceof SampleMixDataset && (ta.train as SampleMixDataset).dataset === ds.train, 'the training set is wrapped');
  assert.equal(ta.testLoader.dataset, ds.test, 'the test set is not');
  assert.ok(lines.includes('epoch 2: Mosaic off (offLastEpochs 1)'), `no switch line in:\n${lines.join('\n')}`);
  assert.ok(!lines.some((l) => /YoloxMixUp off/.test(l)));
  assert.equal((ta.train as SampleMixDataset).epoch, 2, 'SWA recomputes BatchNorm statistics on the last epoch\'s samples');

  await new Trainer(tiny(), { workDir: b, quiet: true, datasets: ds, stopAfterEpoch: 1 }).fit();
  await new Trainer(tiny(), { workDir: b, quiet: true, datasets: ds, resume: true }).fit();
  for (const f of ['epoch_2.safetensors', 'swa.safetensors']) {
    const wa = torch.safetensors.loadFile(join(a, f)), wb = torch.safetensors.loadFile(join(b, f));
    assert.deepEqual(Object.keys(wb).sort(), Object.keys(wa).sort());
    for (const [k, v] of Object.entries(wa)) assert.ok(wb[k].equal(v), `${f}: ${k} differs after resume`);
  }

  // Without augment.sample the trainer's training set is the dataset itself.
  const plain = new Trainer({ ...tiny(), augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] }, swa: undefined }, { workDir: dir(), quiet: true, datasets: ds });
  await plain.setup();
  assert.equal(plain.train, ds.train);
  assert.equal((plain.train as Dataset & { setEpoch?: unknown }).setEpoch, undefined);
});

/** n 3×16×16 images, each with two boxes: [2,2,8,8] label i % 3 and an `ignore`d one [9,9,15,15] label 7 (a crowd box). */
function boxed(n: number): Dataset & { asked: number[] } {
  const ds = {
    length: n, classes: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], asked: [] as number[],
    classCounts: () => Array(8).fill(0),
    getBatch(indices: number[]): Batch {
      ds.asked.push(...indices);
      return {
        images: torch.full([indices.length, 3, 16, 16], 50, { dtype: 'uint8' }), labels: torch.zeros([indices.length], { dtype: 'int64' }), indices,
        boxes: indices.map(() => torch.tensor([[2, 2, 8, 8], [9, 9, 15, 15]], { dtype: 'float32' })),
        boxLabels: indices.map((i) => torch.tensor(BigInt64Array.from([BigInt(i % 3), 7n]))),
        ignore: indices.map(() => torch.tensor([false, true])),
      } as Batch;
    },
  };
  return ds;
}

test('augment.sample on a detection batch: boxes move with Mosaic + RandomAffine, stay inside, ignored boxes are left out, a function of the seed', async () => {
  const steps = [
    { type: 'Mosaic', imgScale: [16, 16], padVal: 114, prob: 1, offLastEpochs: 1 },
    { type: 'RandomAffine', scalingRatioRange: [0.5, 1.5], border: [-8, -8], offLastEpochs: 1 },
  ] as MixStepConfig[];
  const ds = boxed(6);
  const mix = new SampleMixDataset(ds, steps, { seed: 3, epochs: 2 });
  const a = await mix.getBatch([0, 1, 2, 3]);
  assert.deepEqual(a.images.shape, [4, 3, 16, 16]);
  assert.equal(a.boxes!.length, 4);
  let total = 0;
  a.boxes!.forEach((b, i) => {
    const l = a.boxLabels![i].toArray() as number[];
    assert.equal(b.shape[0], l.length);
    total += l.length;
    assert.ok(l.every((x) => x >= 0 && x < 3), `image ${i}: only the non-ignored labels 0-2, got ${l}`);
    for (const [x1, y1, x2, y2] of b.toArray() as number[][]) assert.ok(x1 >= 0 && y1 >= 0 && x2 <= 16 && y2 <= 16 && x2 > x1 && y2 > y1, `image ${i}: box ${[x1, y1, x2, y2]} inside 16×16`);
  });
  assert.ok(total > 0, 'some boxes survive the mosaic');
  // The same outputs when asked one by one (each output draws from (seed, epoch, index)).
  for (const [k, i] of [0, 1, 2, 3].entries()) {
    const one = await mix.getBatch([i]);
    assert.deepEqual(one.boxes![0].toArray(), a.boxes![k].toArray());
    assert.deepEqual(one.boxLabels![0].toArray(), a.boxLabels![k].toArray());
  }
  // A step that passes a sample through (Mosaic skipped by prob 0) leaves its boxes alive in the batch (copies of what was loaded).
  const skip = new SampleMixDataset(ds, [{ type: 'Mosaic', imgScale: [16, 16], prob: 0 }] as MixStepConfig[], { seed: 3, epochs: 1 });
  const kept = await skip.getBatch([4, 5]);
  assert.deepEqual(kept.boxes!.map((b) => b.toArray()), [[[2, 2, 8, 8]], [[2, 2, 8, 8]]]);
  assert.deepEqual(kept.boxLabels!.map((b) => b.toArray()), [[1], [2]]);
  // The no-augmentation tail: the wrapped batch as it is (ignored boxes included: the task decides).
  mix.setEpoch(2);
  const tail = await mix.getBatch([5]);
  assert.deepEqual(tail.boxes![0].toArray(), [[2, 2, 8, 8], [9, 9, 15, 15]]);
});
