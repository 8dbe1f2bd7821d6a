// Segmentation augmentations (mmseg's training pipeline): RandomResizeCrop
// (RandomResize + RandomCrop with cat_max_ratio) moves masks with the pixels
// — the images carry their own source coordinates (ramps, which bilinear
// resampling reproduces exactly) and class codes, so every output pixel says
// where it came from and which class it must have —, pads with fill and 255,
// keeps r in its range, follows mmseg's cat_max_ratio rule; PhotoMetricDistortion
// against closed forms for fixed draws; MixUp with masks gives both mask sets
// and λ, and every loss term becomes λ·L(masks) + (1−λ)·L(masks2); geometric
// steps after MixUp move both mask sets; a config with all of them trains.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, data, tasks, Trainer, validateConfig, type Tensor } from 'arsenal';
import { RandomResizeCrop, pickCandidates, resizedSize } from '../src/augment/batch/resize_crop.js';
import { PhotoMetricDistortion, photometricDistort, type PhotoMetricParams } from '../src/augment/batch/photometric.js';
import { Mixup } from '../src/augment/batch/mixup.js';
import { BatchPipeline } from '../src/augment/batch/pipeline.js';
import { chunkImages } from '../src/augment/batch/chunked.js';
import type { AugmentContext, ImageBatch } from '../src/augment/batch/types.js';
import { Rng } from '../src/data/rng.js';
import { writeNoiseSquares } from './helpers/seg_folder.js';

const ctx = (seed: number, mean = [0], std = [1], numClasses = 3): AugmentContext => ({ rng: new Rng(seed), mean, std, numClasses });
const FILL = -7;

/**
 * n images of h×w, 3 channels: channel 0 the class code 10·(class + 1) (255 → 0), channel 1 the column index, channel 2
 * the row index; masks: 8×8 blocks of classes 0–2 drawn per block, some blocks 255.
 */
function coded(n: number, h: number, w: number, rng: Rng): { images: Tensor; masks: Tensor; m: number[][][] } {
  const m: number[][][] = [];
  const img = new Float32Array(n * 3 * h * w), mk = new BigInt64Array(n * h * w);
  for (let i = 0; i < n; i++) {
    const blocks = Array.from({ length: Math.ceil(h / 8) }, () => Array.from({ length: Math.ceil(w / 8) }, () => (rng.random() < 0.1 ? 255 : rng.int(0, 3))));
    const mi: number[][] = [];
    for (let y = 0; y < h; y++) {
      const row: number[] = [];
      for (let x = 0; x < w; x++) {
        const c = blocks[y >> 3][x >> 3];
        row.push(c);
        mk[(i * h + y) * w + x] = BigInt(c);
        img[((i * 3 + 0) * h + y) * w + x] = c === 255 ? 0 : 10 * (c + 1);
        img[((i * 3 + 1) * h + y) * w + x] = x;
        img[((i * 3 + 2) * h + y) * w + x] = y;
      }
      mi.push(row);
    }
    m.push(mi);
  }
  return { images: torch.tensor(img).reshape(n, 3, h, w), masks: torch.tensor(mk).reshape(n, h, w), m };
}

const rows = (t: Tensor) => t.toArray() as number[][];
const close = (a: number[], b: number[], what: string) => a.forEach((v, k) => assert.ok(Math.abs(v - b[k]) < 1e-3, `${what}: ${a} vs ${b}`));

test('RandomResizeCrop: masks move with the pixels; outside the resized image the image is fill and the mask 255', () => {
  const n = 12, h = 32, w = 40;
  const src = coded(n, h, w, new Rng(1));
  const out = new RandomResizeCrop({ cropSize: [24, 28], fill: FILL }).apply({ images: src.images, masks: src.masks }, ctx(2));
  assert.deepEqual(out.images.shape, [n, 3, 24, 28]);
  assert.deepEqual(out.masks!.shape, [n, 24, 28]);
  let coded_ = 0, nearest = 0, padded = 0;
  for (let i = 0; i < n; i++) {
    const [code, sx, sy] = out.images.index(i).unbind(0).map(rows);
    const mask = rows(out.masks!.index(i));
    const m = src.m[i];
    for (let y = 0; y < 24; y++) for (let x = 0; x < 28; x++) {
      const outside = code[y][x] === FILL;
      assert.equal(outside, sx[y][x] === FILL && sy[y][x] === FILL, 'fill on every channel together');
      if (outside) { assert.equal(mask[y][x], 255, `image ${i} (${y}, ${x}): padding is ignore`); padded++; continue; }
      // The mask is the input's at the nearest source pixel (ties at .5 skipped).
      const fx = sx[y][x] % 1, fy = sy[y][x] % 1;
      if (Math.abs(fx - 0.5) > 0.02 && Math.abs(fy - 0.5) > 0.02) {
        assert.equal(mask[y][x], m[Math.round(sy[y][x])][Math.round(sx[y][x])], `image ${i} (${y}, ${x}) from (${sy[y][x]}, ${sx[y][x]})`);
        nearest++;
      }
      // Where the four source pixels share a labelled class, the image's code is that class's and so is the mask.
      const ys = [Math.floor(sy[y][x]), Math.ceil(sy[y][x])], xs = [Math.floor(sx[y][x]), Math.ceil(sx[y][x])];
      const around = new Set(ys.flatMap((yy) => xs.map((xx) => m[yy][xx])));
      if (around.size === 1 && mask[y][x] !== 255) {
        assert.ok(Math.abs(code[y][x] - 10 * (mask[y][x] + 1)) < 1e-4, `image ${i} (${y}, ${x}): code ${code[y][x]} for class ${mask[y][x]}`);
        coded_++;
      }
    }
  }
  assert.ok(nearest > n * 24 * 28 * 0.5 && coded_ > n * 24 * 28 * 0.3, `pixels checked: ${nearest} nearest, ${coded_} coded`);
  assert.ok(padded > 0, 'some crops reached past the resized image (ratios below 24/32)');
});

/** Per image, the resize factor read from the column ramp: output pixels per input pixel (rows: the row ramp). */
function factors(images: Tensor, channel: 1 | 2): number[] {
  return Array.from({ length: images.shape[0] }, (_, i) => {
    const ramp = rows(images.index(i, channel));
    const line = channel === 1 ? ramp[0] : ramp.map((r) => r[0]);
    const steps = line.slice(1).map((v, k) => v - line[k]).filter((d, k) => line[k] > 0 && line[k + 1] > 0 && line[k + 1] < 31 && line[k] !== FILL && line[k + 1] !== FILL && d > 0);
    steps.sort((a, b) => a - b);
    return 1 / steps[steps.length >> 1];
  });
}

test('RandomResizeCrop: r stays in ratioRange and spreads over it; scale and keepRatio follow mmcv; padding at r 0.5 is the exact closed form', () => {
  const n = 40, h = 32, w = 32;
  const src = coded(n, h, w, new Rng(3));
  const b = { images: src.images, masks: src.masks };
  const r = factors(new RandomResizeCrop({ cropSize: 16, catMaxRatio: 1 }).apply(b, ctx(4)).images, 1);
  for (const f of r) assert.ok(f >= 0.5 - 1 / 32 && f <= 2 + 1 / 32, `r ${f}`);
  assert.ok(Math.min(...r) < 0.75 && Math.max(...r) > 1.6, `r spread ${Math.min(...r)}–${Math.max(...r)}`);
  // scale 64 doubles the factor; keepRatio false with scale [32, 64] stretches the width twice as much as the height.
  const r2 = factors(new RandomResizeCrop({ cropSize: 16, scale: 64, catMaxRatio: 1 }).apply(b, ctx(4)).images, 1);
  for (const f of r2) assert.ok(f >= 1 - 1 / 32 && f <= 4 + 1 / 32, `r at scale 64: ${f}`);
  const st = new RandomResizeCrop({ cropSize: 16, scale: [32, 64], keepRatio: false, ratioRange: [0.5, 1], catMaxRatio: 1 }).apply(b, ctx(5)).images;
  const fx = factors(st, 1), fy = factors(st, 2);
  fx.forEach((f, i) => assert.ok(Math.abs(f / fy[i] - 2) < 0.1, `stretch ${f} / ${fy[i]}`));
  assert.deepEqual(resizedSize(512, 1024, [512, 2048], 1.5, true), [768, 1536], 'mmcv imrescale: fits (3072, 768) by the short side');
  assert.deepEqual(resizedSize(512, 683, [512, 2048], 1, true), [512, 683]);
  assert.deepEqual(resizedSize(100, 100, [30, 40], 0.5, false), [15, 20]);

  // r = 0.5: 32 → 16, a 24×24 crop at offset 0 holds the resized image top-left and padding bottom-right.
  const out = new RandomResizeCrop({ cropSize: 24, ratioRange: [0.5, 0.5], fill: FILL }).apply(b, ctx(6));
  for (let i = 0; i < 3; i++) {
    const img = out.images.index(i), mask = out.masks!.index(i);
    assert.ok(img.narrow(1, 16, 8).eq(FILL).all().item() && img.narrow(2, 16, 8).eq(FILL).all().item(), 'image padding is fill');
    assert.ok(mask.narrow(0, 16, 8).eq(255).all().item() && mask.narrow(1, 16, 8).eq(255).all().item(), 'mask padding is 255');
    // cv2/F.interpolate bilinear, half-pixel centres: output column j samples input column 2j + 0.5.
    close(rows(img.index(1).narrow(0, 0, 16).narrow(1, 0, 16))[5], Array.from({ length: 16 }, (_, j) => 2 * j + 0.5), 'columns sampled');
    const inner = mask.narrow(0, 0, 16).narrow(1, 0, 16);
    assert.ok(inner.equal(src.masks.index(i).index('0:32:2', '0:32:2')) || inner.equal(src.masks.index(i).index('1:32:2', '1:32:2')), 'the mask is the input subsampled by 2');
  }
});

test("pickCandidates: mmseg's cat_max_ratio rule — ≥ 2 labelled classes, the largest share strictly below the ratio, 255 not counted; none → T", () => {
  const P = 20, T = 10;
  const cand = (spec: [number, number][]) => spec.flatMap(([c, k]) => new Array(k).fill(c));
  const same = cand([[1, P]]);
  const images = [
    [same, cand([[1, 10], [2, 10]])], // → 1
    [], // all single-class → T
    [cand([[1, 10], [255, 10]]), cand([[1, 15], [2, 5]]), cand([[1, 14], [2, 6]])], // one class + ignore fails; exactly 0.75 fails; 0.7 passes → 2
    [same, same, same, cand([[255, 16], [1, 2], [2, 2]])], // ignore is not counted: 0.5 → 3
    [cand([[255, P]])], // all ignore → T
  ];
  const flat = images.flatMap((cs) => Array.from({ length: T }, (_, k) => cs[k] ?? same)).flat();
  const masks = torch.tensor(BigInt64Array.from(flat.map(BigInt))).reshape(images.length, T, P);
  assert.deepEqual(Array.from(pickCandidates(masks, 0.75)), [1, T, 2, 3, T]);
  assert.deepEqual(Array.from(pickCandidates(masks, 0.8)), [1, T, 1, 3, T], '0.75 < 0.8 passes');
});

test('RandomResizeCrop cat_max_ratio: where most crops hold one class, the checked crops are mixed far more often', () => {
  // 64×64 of class 1 with class 2 in the top-left 24×24; 32×32 crops at r = 1: a crop passes (class 1 < 75%)
  // only within 8 pixels of the corner (81 of 33² offsets, 7%); with 10 checked tries about 57% pass.
  const n = 200, s = 64;
  const mask = torch.ones([s, s], { dtype: 'int64' });
  mask.index('0:24', '0:24').fill_(2);
  const masks = mask.unsqueeze(0).expand([n, s, s]).contiguous();
  const images = torch.stack([torch.arange(s, undefined, 1, { dtype: 'float32' }).reshape(1, s).expand([s, s]), torch.arange(s, undefined, 1, { dtype: 'float32' }).reshape(s, 1).expand([s, s])], 0).unsqueeze(0).expand([n, 2, s, s]).contiguous();
  const share = (o: ImageBatch) => {
    const ms = o.masks!.toArray() as number[][][], xs = o.images.toArray() as number[][][][];
    let pass = 0;
    for (let i = 0; i < n; i++) {
      // The crop is the mask's window at the image's own offset (the ramps), and its share is the rule's.
      const [x0, y0] = [xs[i][0][0][0], xs[i][1][0][0]];
      let twos = 0;
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
        const c = y0 + y < 24 && x0 + x < 24 ? 2 : 1;
        assert.equal(ms[i][y][x], c, `image ${i}: the mask window at (${y0}, ${x0})`);
        if (c === 2) twos++;
      }
      if (twos > 0 && (1024 - twos) / 1024 < 0.75) pass++;
    }
    return pass / n;
  };
  const opts = { cropSize: 32, ratioRange: [1, 1] as [number, number] };
  const checked = share(new RandomResizeCrop(opts).apply({ images, masks }, ctx(7, [0, 0], [1, 1])));
  const unchecked = share(new RandomResizeCrop({ ...opts, catMaxRatio: 1 }).apply({ images, masks }, ctx(7, [0, 0], [1, 1])));
  assert.ok(checked > 0.4 && unchecked < 0.15, `passing crops: ${checked} checked, ${unchecked} unchecked`);
});

test('RandomResizeCrop: same seed, same batch; another seed, another; bad options are named', () => {
  const src = coded(6, 32, 32, new Rng(8));
  const t = new RandomResizeCrop({ cropSize: 20 });
  const a = t.apply({ images: src.images, masks: src.masks }, ctx(9)), b = t.apply({ images: src.images, masks: src.masks }, ctx(9));
  const c = t.apply({ images: src.images, masks: src.masks }, ctx(10));
  assert.ok(a.images.equal(b.images) && a.masks!.equal(b.masks!));
  assert.ok(!a.images.equal(c.images));
  assert.throws(() => new BatchPipeline([{ type: 'RandomResizeCrop' }]), /augment\.train\[0\]\.cropSize: missing/);
  assert.throws(() => new BatchPipeline([{ type: 'RandomResizeCrop', cropSize: 8, catMaxRatio: 1.5 }]), /augment\.train\[0\]\.catMaxRatio/);
  assert.throws(() => new BatchPipeline([{ type: 'RandomResizeCrop', cropSize: 8, ratioRange: [2, 1] }]), /augment\.train\[0\]\.ratioRange/);
  assert.throws(() => new BatchPipeline([{ type: 'RandomResizeCrop', size: 8 }]), /augment\.train\[0\]\.size: unknown key/);
});

const params = (o: Partial<PhotoMetricParams>): PhotoMetricParams => ({
  brightness: new Float64Array(1), brightnessOn: new Uint8Array(1), contrast: new Float64Array([1]), contrastOn: new Uint8Array(1),
  contrastFirst: new Uint8Array(1), saturation: new Float64Array([1]), saturationOn: new Uint8Array(1), hue: new Float64Array(1), hueOn: new Uint8Array(1), ...o,
});
const on = new Uint8Array([1]);
const px = (...v: number[][]) => torch.tensor(Float32Array.from(v.flat(), (x) => x / 255)).reshape(1, 3, 1, 1);
const rgb = (x: Tensor) => (x.reshape(3).toArray() as number[]).map((v) => v * 255);

test('photometricDistort: each step against its closed form on 0–255 pixels, clipped after each; mmseg order; off leaves pixels alone', () => {
  // Brightness: +δ then clip.
  const x = torch.tensor([10, 128, 250, 0, 100, 240].map((v) => v / 255)).reshape(1, 3, 1, 2);
  close((photometricDistort(x, params({ brightness: new Float64Array([20]), brightnessOn: on })).reshape(-1).toArray() as number[]).map((v) => v * 255), [30, 148, 255, 20, 120, 255], 'brightness +20');
  close((photometricDistort(x, params({ brightness: new Float64Array([-20]), brightnessOn: on })).reshape(-1).toArray() as number[]).map((v) => v * 255), [0, 108, 230, 0, 80, 220], 'brightness −20');
  // Contrast: ×α then clip (mmseg's convert, no mean).
  close((photometricDistort(x, params({ contrast: new Float64Array([1.5]), contrastOn: on })).reshape(-1).toArray() as number[]).map((v) => v * 255), [15, 192, 255, 0, 150, 255], 'contrast ×1.5');
  // Saturation: (200, 100, 100) has S 0.5, V 200; ×1.5 → S 0.75: (200, 50, 50); ×0.5 → (200, 150, 150).
  const red = px([200], [100], [100]);
  close(rgb(photometricDistort(red, params({ saturation: new Float64Array([1.5]), saturationOn: on }))), [200, 50, 50], 'saturation ×1.5');
  close(rgb(photometricDistort(red, params({ saturation: new Float64Array([0.5]), saturationOn: on }))), [200, 150, 150], 'saturation ×0.5');
  // Hue: Δ 18 of 180 is 36°: pure red → (255, 153, 0); Δ −18 → (255, 0, 153).
  const pure = px([255], [0], [0]);
  close(rgb(photometricDistort(pure, params({ hue: new Float64Array([18]), hueOn: on }))), [255, 153, 0], 'hue +18');
  close(rgb(photometricDistort(pure, params({ hue: new Float64Array([-18]), hueOn: on }))), [255, 0, 153], 'hue −18');
  // Contrast first (mode 1): (200,100,100)×1.5 → (255,150,150), then S ×0.5 → (255, 202.5, 202.5);
  // contrast last (mode 0): S ×0.5 → (200,150,150), then ×1.5 → (255, 225, 225).
  const both = { contrast: new Float64Array([1.5]), contrastOn: on, saturation: new Float64Array([0.5]), saturationOn: on };
  close(rgb(photometricDistort(red, params({ ...both, contrastFirst: on }))), [255, 202.5, 202.5], 'contrast first');
  close(rgb(photometricDistort(red, params(both))), [255, 225, 225], 'contrast last');
  // Steps that are off leave even out-of-range pixels alone (mmseg returns the image untouched).
  const wild = torch.tensor([1.3, -0.2, 0.5]).reshape(1, 3, 1, 1);
  assert.ok(photometricDistort(wild, params({ contrast: new Float64Array([1.2]) })).equal(wild));
});

test("PhotoMetricDistortion: mmseg's draws (p 0.5 each, ranges, integer hue); on the normalised batch; masks untouched", () => {
  const t = new PhotoMetricDistortion();
  const p = t.params(400, new Rng(11));
  const rate = (f: Uint8Array) => f.reduce((a, v) => a + v, 0) / f.length;
  for (const f of [p.brightnessOn, p.contrastOn, p.contrastFirst, p.saturationOn, p.hueOn]) assert.ok(Math.abs(rate(f) - 0.5) < 0.1, `rate ${rate(f)}`);
  p.brightness.forEach((d, i) => assert.ok(p.brightnessOn[i] ? d >= -32 && d < 32 : d === 0));
  p.contrast.forEach((a, i) => assert.ok(p.contrastOn[i] ? a >= 0.5 && a < 1.5 : a === 1));
  p.saturation.forEach((a, i) => assert.ok(p.saturationOn[i] ? a >= 0.5 && a < 1.5 : a === 1));
  p.hue.forEach((d) => assert.ok(Number.isInteger(d) && d >= -18 && d <= 17));
  assert.ok(p.hue.some((d) => d === -18) && p.hue.some((d) => d === 17));

  // Brightness only, through the normalisation: each image is unchanged or clip(x + δ/255) with one δ for all its pixels.
  const n = 60, mean = [0.4, 0.5, 0.6], std = [0.2, 0.25, 0.3];
  const x01 = torch.rand(n, 3, 6, 6);
  const xn = x01.sub(torch.tensor(mean).reshape(1, 3, 1, 1)).div(torch.tensor(std).reshape(1, 3, 1, 1));
  const masks = torch.randint(0, 3, [n, 6, 6]);
  const b = { images: xn, masks };
  const out = new PhotoMetricDistortion({ contrastRange: [1, 1], saturationRange: [1, 1], hueDelta: 0 }).apply(b, ctx(12, mean, std));
  assert.equal(out.masks, masks, 'masks untouched');
  const y01 = out.images.mul(torch.tensor(std).reshape(1, 3, 1, 1)).add(torch.tensor(mean).reshape(1, 3, 1, 1));
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const xi = x01.index(i), yi = y01.index(i);
    const d = yi.sub(xi);
    const inner = xi.gt(0.2).logicalAnd(xi.lt(0.8));
    const delta = d.maskedSelect(inner).mean().item();
    if (Math.abs(delta) < 1e-5) { assert.ok(yi.sub(xi).abs().max().item() < 1e-5, `image ${i} unchanged`); continue; }
    changed++;
    assert.ok(Math.abs(delta) <= 32 / 255 + 1e-5, `δ ${delta * 255}`);
    assert.ok(yi.sub(xi.add(delta).clamp(0, 1)).abs().max().item() < 1e-5, `image ${i}: clip(x + δ)`);
  }
  assert.ok(changed > 15 && changed < 45, `about half the images brightened: ${changed}`);
  assert.throws(() => new BatchPipeline([{ type: 'PhotoMetricDistortion', hueDelta: 2.5 }]), /augment\.train\[0\]\.hueDelta/);
});

/** Logits [2,2,2,3] with pixel-varying scores and two mask sets (one with ignored pixels). */
function lossCase() {
  const x = torch.tensor(Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 2)).reshape(2, 2, 2, 3);
  const a = torch.tensor([0, 1, 1, 0, 0, 1, 1, 1, 0, 255, 0, 1]).reshape(2, 2, 3);
  const b = torch.tensor([1, 1, 0, 0, 255, 0, 0, 1, 1, 1, 0, 0]).reshape(2, 2, 3);
  return { x, a, b };
}

test('MixUp with masks: the batch carries both mask sets and λ (mode batch); every loss term is λ·L(masks) + (1−λ)·L(masks2)', () => {
  const { x, a, b } = lossCase();
  const images = torch.rand(2, 3, 2, 3);
  const out = new Mixup({ mixupAlpha: 1 }).apply({ images, masks: a }, ctx(13));
  const lam = out.lam!.toArray() as number[];
  assert.ok(lam[0] > 0 && lam[0] < 1 && lam[1] === lam[0], `one λ per batch: ${lam}`);
  assert.ok(out.masks!.equal(a) && out.masks2!.equal(a.flip(0)));
  assert.ok(out.images.sub(images.mul(lam[0]).add(images.flip(0).mul(1 - lam[0]))).abs().max().item() < 1e-6);
  const targets = tasks.segmentation.targets(out) as tasks.MixedMasks;
  assert.equal(targets.lam, lam[0]);
  assert.throws(() => new Mixup({ mixupAlpha: 1, mode: 'elem' }).apply({ images, masks: a }, ctx(13)), /needs mode 'batch'/);
  assert.throws(() => new Mixup({ mixupAlpha: 1 }).apply(out, ctx(13)), /already MixUp-ed/);
  // Unmixed batches (prob 0) carry λ 1 and their own masks, so the loss runs the same terms every step.
  const still = new Mixup({ mixupAlpha: 1, prob: 0 }).apply({ images, masks: a }, ctx(13));
  assert.deepEqual(still.lam!.toArray(), [1, 1]);
  assert.ok(still.masks2!.equal(a));
  // CutMix alone keeps one mask set, pasted.
  assert.equal(new Mixup({ mixupAlpha: 0, cutmixAlpha: 1 }).apply({ images, masks: a }, ctx(13)).masks2, undefined);

  // CE in closed form: 2 classes, p(class 1) = σ(x1 − x0); mmseg's normaliser divides by all pixels, ignored ones count 0.
  const l = 0.3;
  const mixed = { masks: a, masks2: b, lam: l };
  const terms = [{ type: 'CrossEntropyLoss' as const }, { type: 'DiceLoss' as const }, { type: 'FocalLoss' as const }, { type: 'LovaszLoss' as const }];
  const loss = tasks.buildSegLoss({ terms }, [1, 1], ['a', 'b']);
  const xs = x.toArray() as number[][][][];
  const ce = (m: Tensor) => {
    const mv = m.toArray() as number[][][];
    let s = 0;
    for (let i = 0; i < 2; i++) for (let y = 0; y < 2; y++) for (let z = 0; z < 3; z++) {
      const c = mv[i][y][z];
      if (c === 255) continue;
      const [s0, s1] = [xs[i][0][y][z], xs[i][1][y][z]];
      s += Math.log(Math.exp(s0) + Math.exp(s1)) - (c === 0 ? s0 : s1);
    }
    return s / 12;
  };
  const got = loss.multi.forward(x, mixed).values;
  assert.ok(Math.abs(got.CrossEntropyLoss - (l * ce(a) + (1 - l) * ce(b))) < 1e-6, `CE ${got.CrossEntropyLoss} vs ${l * ce(a) + (1 - l) * ce(b)}`);
  const va = loss.multi.forward(x, a).values, vb = loss.multi.forward(x, b).values;
  for (const k of Object.keys(va)) {
    assert.ok(Math.abs(got[k] - (l * va[k] + (1 - l) * vb[k])) < 1e-6, `${k}: ${got[k]} vs ${l * va[k] + (1 - l) * vb[k]}`);
    assert.ok(Math.abs(got[k] - va[k]) > 1e-4, `${k}: the two mask sets must differ for the test to mean anything`);
  }
  assert.throws(() => tasks.segmentation.meter({} as never, { classes: ['a', 'b'], classCounts: [1, 1], inChannels: 3 }).update(x, mixed), /not MixUp-ed targets/);
});

test('after MixUp, geometric steps move both mask sets, also chunk by chunk; erasing marks both', () => {
  const n = 9, s = 320; // 9 × 3×320×320 floats = 11 MB: per-image steps run in chunks
  const masks = torch.randint(0, 3, [n, s, s]);
  const images = torch.rand(n, 3, s, s);
  assert.ok(chunkImages(images) > 0);
  const out = new BatchPipeline([{ type: 'Mixup', mixupAlpha: 1 }, { type: 'RandomFlip', prob: 1 }]).apply({ images, masks }, ctx(14));
  assert.ok(out.masks!.equal(masks.flip(2)) && out.masks2!.equal(masks.flip(0).flip(2)));
  const lam = out.lam!.toArray() as number[];
  assert.ok(lam.every((v) => v === lam[0] && v < 1));
  const small = { images: images.narrow(2, 0, 16).narrow(3, 0, 16).contiguous(), masks: masks.narrow(1, 0, 16).narrow(2, 0, 16).contiguous() };
  const er = new BatchPipeline([{ type: 'Mixup', mixupAlpha: 1 }, { type: 'RandomErasing', prob: 1, value: 77 }]).apply(small, ctx(15));
  const erased = er.images.eq(77).all(1);
  assert.ok(erased.any().item());
  assert.ok(er.masks!.eq(255).equal(erased) && er.masks2!.eq(255).equal(erased));
  const rc = new BatchPipeline([{ type: 'Mixup', mixupAlpha: 1 }, { type: 'RandomResizeCrop', cropSize: 12, ratioRange: [1, 1], catMaxRatio: 1 }]).apply(small, ctx(16));
  assert.deepEqual(rc.masks2!.shape, [n, 12, 12]);
  // r = 1: both mask sets are the same integer window of their inputs.
  let found = 0;
  for (let i = 0; i < n; i++) for (let y0 = 0; y0 <= 4; y0++) for (let x0 = 0; x0 <= 4; x0++) {
    if (rc.masks!.index(i).equal(small.masks.index(i).narrow(0, y0, 12).narrow(1, x0, 12))) {
      assert.ok(rc.masks2!.index(i).equal(small.masks.flip(0).index(i).narrow(0, y0, 12).narrow(1, x0, 12)), `image ${i}`);
      found++;
      break;
    }
  }
  assert.equal(found, n);
});

// ---- a segmentation config with all of them --------------------------------------------------------
const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-segaug-')); made.push(d); return d; };


test("a segmentation config with mmseg's pipeline (Mosaic, RandomResizeCrop, flip, PhotoMetricDistortion, erasing, MixUp/CutMix) trains", async () => {
  const root = tmp();
  await writeNoiseSquares(root, 'train', 8, 1);
  await writeNoiseSquares(root, 'val', 2, 2);
  const train = [
    { type: 'RandomResizeCrop', cropSize: 32 },
    { type: 'RandomFlip', prob: 0.5 },
    { type: 'PhotoMetricDistortion' },
    { type: 'RandomErasing', prob: 0.5 },
    { type: 'Mixup', mixupAlpha: 1, cutmixAlpha: 1 },
  ];
  const cfg: tasks.SegmentationConfig = {
    task: 'segmentation',
    seed: 6,
    data: { dataset: 'mmseg', root, classes: ['background', 'red', 'blue'], batchSize: 2, mean: [0.4, 0.4, 0.4], std: [0.25, 0.25, 0.25] },
    model: { name: 'lraspp_mobilenet_v3_large', widthMult: 0.25 },
    optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9 },
    augment: { sample: [{ type: 'Mosaic', imgScale: [32, 32], prob: 1 }], train },
    loss: { terms: [{ type: 'CrossEntropyLoss' }, { type: 'DiceLoss', weight: 0.5 }, { type: 'FocalLoss', weight: 0.5 }, { type: 'LovaszLoss', weight: 0.5 }] },
    train: { epochs: 1, amp: 'fp32' },
  };
  validateConfig(cfg);
  // A hook that sees what the loss is given: MixUp's batches bring both mask sets and λ, CutMix's one mask set.
  const seen: string[] = [];
  const spy = {
    name: 'spy',
    setup(t: Trainer) {
      const multi = t.loss.multi, forward = multi.forward.bind(multi);
      multi.forward = (x: unknown, y: unknown) => {
        const m = y as Tensor | tasks.MixedMasks;
        seen.push('masks2' in m ? (m.lam < 1 ? 'mixup' : 'unmixed') : 'one');
        return forward(x, y);
      };
    },
  };
  const r = await new Trainer(cfg, { workDir: tmp(), quiet: true, hooks: [spy] }).fit();
  assert.equal(typeof r.metrics.mIoU, 'number');
  assert.ok(seen.includes('mixup') && seen.includes('unmixed'), `MixUp-ed targets reached the loss: ${seen}`);
});
