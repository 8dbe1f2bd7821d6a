// RandomAffine (src/augment/sample/random_affine.ts), mmdet 3.x's warp after
// Mosaic: closed forms — identity parameters change nothing; a scale and
// translation move a box's corners exactly; a 90° rotation is the image turned
// a quarter; every output pixel of a general warp is the bilinear sample (cv2's
// constant border) and every mask pixel the nearest source pixel or 255, as
// computed here in JS from the matrix; the draws in mmdet's order; each box
// rule on constructed boxes; border −H/2 turns Mosaic's 2H × 2W canvas into
// H × W; same seed, same output; offLastEpochs through augment.sample; the
// config key; and `arsenal augment` with Mosaic + RandomAffine.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torch, data, validateConfig } from 'arsenal';
import { RandomAffine, affineMatrix, composeAffine, invertAffine, warpAffineSample, type AffineParams, type Affine } from '../src/augment/sample/random_affine.js';
import { Mosaic } from '../src/augment/sample/mosaic.js';
import { MultiImageMixDataset } from '../src/augment/sample/multi_image.js';
import { SampleMixDataset, sampleRng } from '../src/augment/sample/mix_dataset.js';
import type { MixStepConfig } from '../src/augment/sample/multi_image.js';
import type { Sample } from '../src/data/sample.js';
import type { Rng } from '../src/data/rng.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

const P = (p: Partial<AffineParams>): AffineParams => ({ rotate: 0, scale: 1, shearX: 0, shearY: 0, tx: 0, ty: 0, ...p });
const boxes = (b: number[][]) => torch.tensor(b, { dtype: 'float32' });
const labels = (n: number) => torch.tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(i)));
const close = (a: number[][], b: number[][], tol = 1e-4) => a.length === b.length && a.every((r, i) => r.every((v, j) => Math.abs(v - b[i][j]) <= tol));

/** A uint8 image c×h×w of noise in 0–254 (seeded), a mask of classes 0–20 and the given boxes. */
function sample(c: number, h: number, w: number, bx: number[][] = [], seed = 1): Sample {
  const g = new data.Rng(seed);
  const image = torch.tensor(Uint8Array.from({ length: c * h * w }, () => g.int(0, 255)), { dtype: 'uint8' }).reshape(c, h, w);
  const mask = torch.tensor(BigInt64Array.from({ length: h * w }, () => BigInt(g.int(0, 21)))).reshape(h, w);
  return { image, mask, boxes: boxes(bx).reshape(bx.length, 4), boxLabels: labels(bx.length), label: 7 };
}

test('identity parameters leave image, mask, boxes and label unchanged', () => {
  const s = sample(3, 12, 16, [[1, 2, 5, 9], [0, 0, 16, 12]]);
  const t = new RandomAffine({ maxRotateDegree: 0, maxTranslateRatio: 0, scalingRatioRange: [1, 1], maxShearDegree: 0 });
  const out = t.apply([s], new data.Rng(3));
  assert.equal(out.image.dtype, 'uint8');
  assert.ok(out.image.equal(s.image), 'uint8 pixels exact');
  assert.ok(out.mask!.equal(s.mask!), 'mask exact');
  assert.deepEqual(out.boxes!.toArray(), s.boxes!.toArray());
  assert.deepEqual(out.boxLabels!.toArray(), [0, 1]);
  assert.equal(out.label, 7);
  const f = s.image.float().div(7);
  const outF = t.apply([{ image: f }], new data.Rng(3)).image;
  assert.equal(outF.dtype, 'float32');
  assert.ok(outF.sub(f).abs().max().item() < 1e-4, 'float pixels within float32 rounding');
});

test('a pure scale and translation moves a box\'s corners exactly, and its pixels with it', () => {
  // x' = 2x + 3, y' = 2y − 2 on a 20×24 image: box [2, 3, 5, 7] → [7, 4, 13, 12].
  const image = torch.zeros([1, 20, 24], { dtype: 'uint8' });
  image.index(':', '3:7', '2:5').fill_(200);
  const s: Sample = { image, boxes: boxes([[2, 3, 5, 7]]), boxLabels: labels(1) };
  const out = new RandomAffine({ skipFilter: false, borderVal: 0 }).warp(s, P({ scale: 2, tx: 3, ty: -2 }));
  assert.deepEqual(out.boxes!.toArray(), [[7, 4, 13, 12]]);
  // The pixels above half way are exactly those inside the warped box (edge coordinates: pixel i covers [i, i+1]).
  const hot = out.image.index(0).gt(100);
  const want = torch.zeros([20, 24], { dtype: 'bool' });
  want.index('4:12', '7:13').fill_(1);
  assert.ok(hot.equal(want), 'the bright rectangle is the warped box');
});

test('rotation by 90° (plus a translation by W): a square box maps to its rotated corners, the image and mask turn a quarter clockwise', () => {
  const N = 10;
  const s = sample(2, N, N, [[2, 1, 6, 5]]);
  const out = new RandomAffine().warp(s, P({ rotate: 90, tx: N }));
  // (x, y) → (N − y, x): [x1, y1, x2, y2] → [N − y2, x1, N − y1, x2].
  assert.ok(close(out.boxes!.toArray() as number[][], [[5, 2, 9, 6]]), JSON.stringify(out.boxes!.toArray()));
  // out[i][j] = in[N − 1 − j][i]: the transpose flipped left-right.
  assert.ok(out.image.equal(s.image.transpose(1, 2).flip(2)), 'image turned');
  assert.ok(out.mask!.equal(s.mask!.transpose(0, 1).flip(1)), 'mask turned');
});

/** JS reference: output pixel (r, c) samples the input at A·(c + ½, r + ½) (pixel edges). */
function reference(img: number[][][], mask: number[][], a: Affine, outH: number, outW: number, fill: number) {
  const [h, w] = [img[0].length, img[0][0].length];
  const px = (ch: number, y: number, x: number) => (y >= 0 && y < h && x >= 0 && x < w ? img[ch][y][x] : fill);
  const image = img.map((_, ch) => Array.from({ length: outH }, (_, r) => Array.from({ length: outW }, (_, c) => {
    const sx = a[0] * (c + 0.5) + a[1] * (r + 0.5) + a[2] - 0.5, sy = a[3] * (c + 0.5) + a[4] * (r + 0.5) + a[5] - 0.5;
    const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
    return (1 - fy) * ((1 - fx) * px(ch, y0, x0) + fx * px(ch, y0, x0 + 1)) + fy * ((1 - fx) * px(ch, y0 + 1, x0) + fx * px(ch, y0 + 1, x0 + 1));
  })));
  const nearest = Array.from({ length: outH }, (_, r) => Array.from({ length: outW }, (_, c) => {
    const sx = a[0] * (c + 0.5) + a[1] * (r + 0.5) + a[2], sy = a[3] * (c + 0.5) + a[4] * (r + 0.5) + a[5];
    // A source position on a pixel edge is a tie between two neighbours: not asserted.
    if (Math.abs(sx - Math.round(sx)) < 1e-3 || Math.abs(sy - Math.round(sy)) < 1e-3) return -1;
    const x = Math.floor(sx), y = Math.floor(sy);
    return y >= 0 && y < h && x >= 0 && x < w ? mask[y][x] : 255;
  }));
  return { image, nearest };
}

test('a general warp: every pixel is the bilinear sample with cv2\'s constant border blended in, every mask pixel the nearest source pixel or 255', () => {
  const s = sample(2, 14, 18);
  const f = s.image.float();
  const p = P({ rotate: 23, scale: 1.3, shearX: 6, shearY: -4, tx: 2.5, ty: -3.25 });
  const t = new RandomAffine({ border: [2, -3], borderVal: [114, 30] });
  const out = t.warp({ ...s, image: f }, p);
  const [oh, ow] = t.outSize(14, 18);
  assert.deepEqual([oh, ow], [18, 12]);
  assert.deepEqual(out.image.shape, [2, 18, 12]);
  const m = affineMatrix(p);
  const a = invertAffine(m);
  assert.ok(composeAffine(m, a).every((v, i) => Math.abs(v - [1, 0, 0, 0, 1, 0][i]) < 1e-12), 'inverse');
  const img = f.toArray() as number[][][];
  const got = out.image.toArray() as number[][][];
  const mask = s.mask!.toArray() as number[][];
  const gotMask = out.mask!.toArray() as number[][];
  let outside = 0, inside = 0, ties = 0;
  for (const [ch, fill] of [[0, 114], [1, 30]]) {
    const ref = reference(img, mask, a, oh, ow, fill);
    for (let r = 0; r < oh; r++) for (let c = 0; c < ow; c++) {
      assert.ok(Math.abs(got[ch][r][c] - ref.image[ch][r][c]) < 0.01, `channel ${ch} pixel (${r}, ${c}): ${got[ch][r][c]} vs ${ref.image[ch][r][c]}`);
      if (ch === 1) continue;
      const want = ref.nearest[r][c];
      if (want === -1) { ties++; continue; }
      assert.equal(gotMask[r][c], want, `mask pixel (${r}, ${c})`);
      if (want === 255) outside++; else inside++;
    }
  }
  assert.ok(outside > 10 && inside > 50 && ties < 5, `the warp shows both the image and beyond it (${inside} inside, ${outside} outside, ${ties} ties)`);
  assert.equal(out.mask!.dtype, 'int64');
});

test('draws in mmdet\'s order: rotation, scale, shear x, shear y, translation × the output width and height; center: true is mmyolo\'s', () => {
  const calls: [number, number][] = [];
  const fixed = { uniform: (lo: number, hi: number) => { calls.push([lo, hi]); return (lo + hi) / 2 + (hi - lo) / 4; } } as unknown as Rng;
  const t = new RandomAffine({ border: [-2, -4] });
  const p = t.draw(fixed, 16, 12);
  assert.deepEqual(calls, [[-10, 10], [0.5, 1.5], [-2, 2], [-2, 2], [-0.1, 0.1], [-0.1, 0.1]]);
  assert.deepEqual(p, { rotate: 5, scale: 1.25, shearX: 1, shearY: 1, tx: 0.05 * 12, ty: 0.05 * 16 });
  // translation @ shear @ rotation @ scaling, checked on one point against the four matrices applied one after another.
  const q = P({ rotate: 30, scale: 1.5, shearX: 10, shearY: -5, tx: 4, ty: -2 });
  const [x, y] = [3, 7];
  const sx = 1.5 * x, sy = 1.5 * y;
  const c = Math.cos(Math.PI / 6), sn = Math.sin(Math.PI / 6);
  const rx = c * sx - sn * sy, ry = sn * sx + c * sy;
  const hx = rx + Math.tan((10 * Math.PI) / 180) * ry, hy = Math.tan((-5 * Math.PI) / 180) * rx + ry;
  const m = affineMatrix(q);
  assert.ok(Math.abs(m[0] * x + m[1] * y + m[2] - (hx + 4)) < 1e-9 && Math.abs(m[3] * x + m[4] * y + m[5] - (hy - 2)) < 1e-9);
  // mmyolo: the input's centre to the origin, translation about the output's centre: identity draws map centre to centre.
  const centred = new RandomAffine({ center: true, border: [-2, -4] });
  calls.length = 0;
  const pc = centred.draw(fixed, 16, 12);
  assert.deepEqual(calls.slice(4), [[0.4, 0.6], [0.4, 0.6]]);
  assert.ok(Math.abs(pc.tx - 0.55 * 12) < 1e-12);
  const mc = centred.matrix(P({ rotate: 40, scale: 0.7, tx: 6, ty: 8 }), 20, 20);
  assert.ok(Math.abs(mc[0] * 10 + mc[1] * 10 + mc[2] - 6) < 1e-9 && Math.abs(mc[3] * 10 + mc[4] * 10 + mc[5] - 8) < 1e-9, 'the input centre lands on (tx, ty)');
});

test('boxes: clipped, kept inside (is_inside), at least minBoxSize; with skipFilter false each filter_gt_bboxes rule on its own case', () => {
  const img = () => torch.zeros([1, 20, 64], { dtype: 'uint8' });
  const run = (t: RandomAffine, bx: number[][], p: Partial<AffineParams> = {}) => {
    const o = t.warp({ image: img(), boxes: boxes(bx).reshape(bx.length, 4), boxLabels: labels(bx.length) }, P(p));
    return { ids: o.boxLabels!.toArray() as number[], boxes: o.boxes!.toArray() as number[][] };
  };
  const plain = new RandomAffine(), filtered = new RandomAffine({ skipFilter: false });
  // The defaults (mmdet 3.x): clipped, outside dropped, under 1 pixel dropped; nothing else.
  const cases = [
    [70, 2, 80, 6], // 0: beyond the right edge → dropped
    [50, 2, 70, 6], // 1: half outside → clipped to [50, 2, 64, 6]
    [5, 5, 5.5, 9], // 2: 0.5 wide → dropped (minBoxSize 1)
    [1, 1, 3, 5], // 3: 2 wide: kept by default, dropped by the filter's w > 2
    [1, 1, 3.5, 5], // 4: 2.5 wide: kept
    [-30, 0, 2.5, 10], // 5: 25 / 325 of its area left: kept by default, dropped by min_area_ratio 0.1
    [-20, 0, 2.5, 10], // 6: 25 / 225 = 0.11: kept
    [0, 10, 50, 12.4], // 7: aspect 50 / 2.4 = 20.8: kept by default, dropped by max_aspect_ratio 20
    [0, 13, 45, 15.5], // 8: aspect 18: kept
  ];
  const a = run(plain, cases);
  assert.deepEqual(a.ids, [1, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(a.boxes[0], [50, 2, 64, 6]);
  assert.deepEqual(run(new RandomAffine({ minBoxSize: 0 }), [[5, 5, 5.5, 9]]).ids, [0], 'minBoxSize 0 keeps a thin box');
  assert.deepEqual(run(filtered, cases).ids, [1, 4, 6, 8]);
  // Without clipping: a box inside in part keeps its corners; one wholly outside is still dropped (is_inside).
  const u = run(new RandomAffine({ bboxClipBorder: false }), [[50, 2, 70, 6], [70, 2, 80, 6], [-9, -9, -1, -1]]);
  assert.deepEqual(u.ids, [0]);
  assert.deepEqual(u.boxes, [[50, 2, 70, 6]]);
  // The area is compared with the source box's area × scale²: [0, 0, 40, 40] at scale ½ is 20 × 20, shifted so that
  // 7 × 7 (49 / 400 = 0.12) or 6 × 6 (36 / 400 = 0.09) of it stays in the image.
  assert.deepEqual(run(filtered, [[0, 0, 40, 40]], { scale: 0.5, tx: -13, ty: -13 }).boxes, [[0, 0, 7, 7]]);
  assert.deepEqual(run(filtered, [[0, 0, 40, 40]], { scale: 0.5, tx: -14, ty: -14 }).ids, []);
  assert.deepEqual(run(plain, [[0, 0, 40, 40]], { scale: 0.5, tx: -14, ty: -14 }).boxes, [[0, 0, 6, 6]]);
  // No boxes: passes through.
  assert.deepEqual(run(filtered, []).ids, []);
});

test('border −H/2 on Mosaic\'s 2H × 2W canvas gives H × W in the same warp; the chain Mosaic → RandomAffine → YoloxMixUp stays H × W', async () => {
  const H = 16, W = 12;
  const t = new RandomAffine({ scalingRatioRange: [0.1, 2], border: [-H / 2, -W / 2] });
  assert.deepEqual(t.outSize(2 * H, 2 * W), [H, W]);
  const src = Array.from({ length: 6 }, (_, i) => sample(3, H, W, [[1, 1, 6, 9], [4, 2, 11, 15]], i + 1));
  const source = { length: src.length, getSample: (i: number) => src[i] };
  const steps: MixStepConfig[] = [{ type: 'Mosaic', imgScale: [H, W] }, { type: 'RandomAffine', scalingRatioRange: [0.1, 2], border: [-H / 2, -W / 2] }];
  const chain = new MultiImageMixDataset({ length: src.length, getSample: (i: number) => ({ ...src[i], mask: undefined }) }, [...steps, { type: 'YoloxMixUp', imgScale: [H, W] }]);
  let kept = 0;
  for (let i = 0; i < 6; i++) {
    const m = await new MultiImageMixDataset(source, steps).getSample(i, new data.Rng(i));
    assert.deepEqual(m.image.shape, [3, H, W]);
    assert.deepEqual(m.mask!.shape, [H, W]);
    const y = await chain.getSample(i, new data.Rng(i));
    assert.deepEqual(y.image.shape, [3, H, W]);
    for (const [x1, y1, x2, y2] of y.boxes!.toArray() as number[][]) assert.ok(x1 >= 0 && y1 >= 0 && x2 <= W && y2 <= H && x2 - x1 >= 1 && y2 - y1 >= 1);
    kept += y.boxes!.shape[0];
  }
  assert.ok(kept > 0, 'some boxes survive');
  assert.throws(() => new RandomAffine({ border: [-8, -8] }).apply([sample(1, 16, 20)], new data.Rng(1)), /RandomAffine: border \[-8,-8\] leaves no image of a 16×20 input \(output 0×4\)/);
});

test('same seed, same warp; another seed, another; samples from the sample generator of (seed, epoch, index)', () => {
  const s = sample(3, 16, 16, [[2, 2, 12, 12]]);
  const t = new RandomAffine();
  const a = t.apply([s], sampleRng(5, 1, 3)), b = t.apply([s], sampleRng(5, 1, 3)), c = t.apply([s], sampleRng(5, 1, 4));
  assert.ok(a.image.equal(b.image) && a.mask!.equal(b.mask!) && a.boxes!.equal(b.boxes!));
  assert.ok(!a.image.equal(c.image));
});

/** n uint8 noise images 1×h×w, labels i % 3. */
function noise(n: number, h: number, w: number): data.TensorDataset {
  const g = new data.Rng(9);
  const px = new Uint8Array(n * h * w).map(() => g.int(0, 256));
  return new data.TensorDataset(torch.tensor(px, { dtype: 'uint8' }).reshape(n, 1, h, w), torch.tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3))), ['a', 'b', 'c']);
}

test('augment.sample: Mosaic + RandomAffine give the dataset\'s size with no resize; offLastEpochs switches RandomAffine off (YOLOX\'s tail)', async () => {
  const ds = noise(10, 16, 16);
  const steps: MixStepConfig[] = [
    { type: 'Mosaic', imgScale: [16, 16], offLastEpochs: 1 },
    { type: 'RandomAffine', scalingRatioRange: [0.1, 2], border: [-8, -8], offLastEpochs: 1 },
  ];
  const w = new SampleMixDataset(ds, steps, { seed: 4, epochs: 3 });
  const idx = [0, 3, 3, 9];
  const plain = ds.getBatch(idx);
  w.setEpoch(1);
  const on = await w.getBatch(idx);
  assert.deepEqual(on.images.shape, [4, 1, 16, 16]);
  assert.equal(on.images.dtype, 'uint8');
  assert.ok(!on.images.equal(plain.images));
  // The warp itself is 16 × 16: resizeSampleTo had nothing to do, and the batch is the mixer's output as it is.
  const src = { length: ds.length, getSample: (i: number) => ({ image: ds.images.index(i), label: 0 }) };
  const one = await new MultiImageMixDataset(src, steps, { epochs: 3 }).getSample(3, sampleRng(4, 1, 3), 1);
  assert.deepEqual(one.image.shape, [1, 16, 16]);
  assert.ok(one.image.equal(on.images.index(1)) && on.images.index(1).equal(on.images.index(2)), 'same (seed, epoch, index), same sample');
  w.setEpoch(3);
  const off = await w.getBatch(idx);
  assert.ok(off.images.equal(plain.images) && off.labels.equal(plain.labels), 'the last epoch: the dataset\'s batch');
  // RandomAffine alone, off in its tail, on before it.
  const alone = new SampleMixDataset(ds, [{ type: 'RandomAffine', offLastEpochs: 2 }], { seed: 4, epochs: 3 });
  assert.deepEqual(alone.stepsOn(1).map((s) => s.type), ['RandomAffine']);
  assert.deepEqual(alone.stepsOn(2), []);
  alone.setEpoch(1);
  assert.ok(!(await alone.getBatch(idx)).images.equal(plain.images));
  alone.setEpoch(2);
  assert.ok((await alone.getBatch(idx)).images.equal(plain.images));
});

test('config: RandomAffine in augment.sample (no imgScale needed); errors name the option', () => {
  const cfg = (sample: unknown) => ({
    task: 'classification', data: { dataset: 'fashion-mnist', batchSize: 8 }, model: { name: 'resnet18' },
    optimizer: { type: 'SGD', lr: 0.1 }, train: { epochs: 2 }, augment: { sample },
  });
  validateConfig(cfg([
    { type: 'Mosaic', imgScale: [160, 160] },
    { type: 'RandomAffine', scalingRatioRange: [0.1, 2], border: [-80, -80] },
    { type: 'YoloxMixUp', imgScale: [160, 160] },
  ]));
  validateConfig(cfg([{ type: 'RandomAffine', borderVal: [114, 114, 114], center: true, skipFilter: false, offLastEpochs: 15 }]));
  const bad: [unknown, RegExp][] = [
    [[{ type: 'RandomAffine', scalingRatio: [0.1, 2] }], /config\.augment\.sample\[0\]\.scalingRatio: unknown key/],
    [[{ type: 'RandomAffine', scalingRatioRange: [0, 2] }], /config\.augment\.sample\[0\]: RandomAffine: scalingRatioRange must be \[lo, hi\] with 0 < lo <= hi/],
    [[{ type: 'RandomAffine', scalingRatioRange: [2, 1] }], /config\.augment\.sample\[0\]\.scalingRatioRange: expected \[lo, hi\] with lo <= hi/],
    [[{ type: 'RandomAffine', border: [-80.5, 0] }], /config\.augment\.sample\[0\]\.border\[0\]: expected an integer/],
    [[{ type: 'RandomAffine', maxTranslateRatio: 2 }], /config\.augment\.sample\[0\]\.maxTranslateRatio: expected a value in \[0, 1\]/],
    [[{ type: 'RandomAffine', borderVal: 'grey' }], /config\.augment\.sample\[0\]\.borderVal: expected a number/],
  ];
  for (const [sample, re] of bad) assert.throws(() => validateConfig(cfg(sample)), re);
  assert.throws(() => new RandomAffine({ maxShearDegree: -1 }), /RandomAffine\.maxShearDegree: expected a value in \[0, 89\]/);
  assert.throws(() => new RandomAffine({ borderVal: [1, 2] }).apply([sample(3, 8, 8)], new data.Rng(1)), /RandomAffine: borderVal must be one number or 3 \(one per channel\)/);
  assert.throws(() => new RandomAffine().apply([sample(1, 8, 8), sample(1, 8, 8)], new data.Rng(1)), /RandomAffine: expected 1 sample, got 2/);
});

test('arsenal augment draws a config with Mosaic + RandomAffine (scenes: boxes and masks warped)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arsenal-affine-'));
  made.push(dir);
  const steps = JSON.stringify([{ type: 'Mosaic', imgScale: [28, 28] }, { type: 'RandomAffine', scalingRatioRange: [0.1, 2], border: [-14, -14] }]);
  for (const extra of [[], ['--scenes']]) {
    const out = join(dir, `g${extra.length}.png`);
    const r = spawnSync(process.execPath, [join(root, 'dist/src/commands/main.js'), 'augment', 'configs/fashion-mnist/baseline.ts', '--set', `augment.sample=${steps}`, '--out', out, '--n', '4', ...extra], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /4 samples after Mosaic, RandomAffine/);
    assert.deepEqual([...readFileSync(out).subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG');
  }
});
