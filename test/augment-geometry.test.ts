// Resampling transforms (Resize, RandomResizedCrop through one affine warp),
// Pad and ColorJitter: a window matching the output is an exact copy, a resize
// equals F.interpolate (torchvision's tensor resize), boxes and masks move with
// the pixels, torchvision's crop-parameter rules hold, and ColorJitter's
// operations equal torchvision 0.14's (numbers from
// test/fixtures/make_color_jitter_fixture.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, F, type Tensor } from 'arsenal';
import { Resize, RandomResizedCrop, resizedCropParams } from '../src/augment/batch/resized_crop.js';
import { warpWindows } from '../src/augment/batch/warp.js';
import { Pad } from '../src/augment/batch/pad.js';
import { ColorJitter, rgbToHsv, hsvToRgb } from '../src/augment/batch/color.js';
import type { AugmentContext } from '../src/augment/batch/types.js';
import { Rng } from '../src/data/rng.js';
import { frame } from './helpers/frame.js';

const ctx = (seed: number, mean = [0], std = [1]): AugmentContext => ({ rng: new Rng(seed), mean, std, numClasses: 10 });

function scene(n: number, h: number, w: number) {
  const images = torch.rand(n, 1, h, w);
  const masks = torch.zeros([n, h, w], { dtype: 'int64' });
  const boxes: Tensor[] = [], boxLabels: Tensor[] = [];
  for (let i = 0; i < n; i++) {
    const [x0, y0, x1, y1] = [1 + (i % 3), 2, 6 + (i % 4), 7 + (i % 2)];
    images.index(i, 0, `${y0}:${y1}`, `${x0}:${x1}`).fill_(10 + i);
    masks.index(i, `${y0}:${y1}`, `${x0}:${x1}`).fill_(3);
    boxes.push(torch.tensor([[x0, y0, x1, y1]], { dtype: 'float32' }));
    boxLabels.push(torch.tensor([i]));
  }
  return { images, masks, boxes, boxLabels };
}

test('warp: an integer window of the output size is an exact copy; flipped windows mirror; outside is fill', () => {
  const x = torch.rand(2, 1, 8, 10);
  const win = { x0: Float64Array.from([2, -3]), y0: Float64Array.from([1, 0]), w: Float64Array.from([5, 5]), h: Float64Array.from([4, 4]), flip: Uint8Array.from([1, 0]) };
  const out = warpWindows({ images: x }, win, 4, 5, ctx(1, [0.5], [0.5]), { fill: 0.5 }).images;
  // Integer windows sample pixel centres exactly; the normalise/denormalise round trip costs fp32 rounding.
  assert.ok(out.index(0).allclose(x.index(0, ':', '1:5', '2:7').flip(2), 1e-5, 1e-5), 'window (2,1) 5×4, mirrored');
  assert.ok(out.index(1, ':', ':', '3:').allclose(x.index(1, ':', '0:4', '0:2'), 1e-5, 1e-5), 'the part inside the image');
  assert.ok(out.index(1, ':', ':', ':3').abs().max().item() < 1e-6, 'fill 0.5 in pixels is 0 normalised');
});

test('Resize: equals F.interpolate bilinear (torchvision tensor resize); keepRatio fits and pads; boxes and masks follow', () => {
  const x = torch.rand(3, 2, 12, 16);
  const r = new Resize({ size: [6, 8] }).apply({ images: x }, ctx(1)).images;
  // Two paths (affine_grid's matmul + grid_sample against the upsample kernel): equal to fp32 rounding of the sample positions.
  assert.ok(r.allclose(F.interpolate(x, { size: [6, 8], mode: 'bilinear' }), 1e-4, 1e-5));
  const up = new Resize({ size: [24, 32] }).apply({ images: x }, ctx(1)).images;
  assert.ok(up.allclose(F.interpolate(x, { size: [24, 32], mode: 'bilinear' }), 1e-4, 1e-5));
  const kr = new Resize({ size: [12, 12], keepRatio: true }).apply({ images: x }, ctx(1)).images; // 12×16 → 9×12, then pad
  assert.ok(kr.index(':', ':', ':9').allclose(F.interpolate(x, { size: [9, 12], mode: 'bilinear' }), 1e-4, 1e-5));
  assert.ok(kr.index(':', ':', '9:').abs().max().item() < 1e-6);
  // Nearest, scale 2: every box frames its pixels exactly, masks follow.
  const s = scene(4, 10, 12);
  const o = new Resize({ size: [20, 24], interpolation: 'nearest' }).apply(s, ctx(1));
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(o.boxes![i].reshape(-1).toArray(), frame(o.images.index(i, 0), 10 + i));
    assert.ok(o.masks!.index(i).eq(3).equal(o.images.index(i, 0).eq(10 + i)));
  }
});

test('RandomResizedCrop: torchvision parameter rules; crops are resampled windows; boxes and masks follow', () => {
  const rng = new Rng(4);
  for (let k = 0; k < 500; k++) {
    const [top, left, h, w] = resizedCropParams(30, 40, [0.08, 1], [3 / 4, 4 / 3], rng);
    assert.ok(top >= 0 && left >= 0 && top + h <= 30 && left + w <= 40 && h > 0 && w > 0);
    assert.ok(h * w >= 0.08 * 1200 * 0.8 && h * w <= 1200);
  }
  // Impossible ratio: the central-crop fallback within the ratio range.
  assert.deepEqual(resizedCropParams(10, 100, [0.99, 1], [1, 1], new Rng(1)), [0, 45, 10, 10]);
  const s = scene(6, 16, 16);
  const o = new RandomResizedCrop({ size: 32, scale: [0.25, 0.25], ratio: [1, 1], interpolation: 'nearest' }).apply(s, ctx(2));
  assert.deepEqual(o.images.shape, [6, 1, 32, 32]);
  for (let i = 0; i < 6; i++) {
    const seen = frame(o.images.index(i, 0), 10 + i);
    if (o.boxes![i].shape[0] === 0) { assert.ok(seen.length === 0 || seen[2] - seen[0] <= 1 || seen[3] - seen[1] <= 1); continue; }
    assert.deepEqual(o.boxes![i].reshape(-1).toArray(), seen, `image ${i}`);
    assert.ok(o.masks!.index(i).eq(3).equal(o.images.index(i, 0).eq(10 + i)));
  }
  assert.throws(() => new RandomResizedCrop({} as never), /size is required/);
});

test('Pad: to a size (bottom-right) or by amounts; masks 255, boxes shifted', () => {
  const s = scene(2, 10, 12);
  const o = new Pad({ padding: [1, 2, 3, 4] }).apply(s, ctx(1));
  assert.deepEqual(o.images.shape, [2, 1, 16, 16]);
  assert.ok(o.images.index(':', ':', '2:12', '1:13').equal(s.images));
  assert.equal(o.masks!.eq(255).sum().item(), 2 * (16 * 16 - 10 * 12));
  assert.deepEqual(o.boxes![0].reshape(-1).toArray(), frame(o.images.index(0, 0), 10));
  assert.deepEqual(new Pad({ size: [12, 20] }).apply(s, ctx(1)).images.shape, [2, 1, 12, 20]);
  assert.throws(() => new Pad({ size: 4 }).apply(s, ctx(1)), /smaller than the images/);
  assert.throws(() => new Pad({}), /exactly one of size and padding/);
});

const IMG = [[[0.1, 0.5, 0.9], [0.3, 0.7, 0.2]], [[0.8, 0.2, 0.4], [0.3, 0.6, 0.9]], [[0.4, 0.4, 0.1], [0.3, 0.1, 0.5]]];
const TORCHVISION = {
  brightness: [0.130000, 0.650000, 1.000000, 0.390000, 0.910000, 0.260000, 1.000000, 0.260000, 0.520000, 0.390000, 0.780000, 1.000000, 0.520000, 0.520000, 0.130000, 0.390000, 0.130000, 0.650000],
  contrast: [0.214532, 0.494532, 0.774531, 0.354532, 0.634531, 0.284532, 0.704532, 0.284532, 0.424532, 0.354532, 0.564532, 0.774531, 0.424532, 0.424532, 0.214532, 0.354532, 0.214532, 0.494532],
  saturation: [0.000000, 0.593775, 1.000000, 0.300015, 0.763585, 0.000000, 0.927455, 0.143775, 0.342395, 0.300015, 0.613585, 1.000000, 0.327455, 0.443775, 0.000000, 0.300015, 0.000000, 0.427460],
  hue: [0.100000, 0.500000, 0.440000, 0.300000, 0.100000, 0.200000, 0.360000, 0.360000, 0.900000, 0.300000, 0.700000, 0.460000, 0.800000, 0.200000, 0.100000, 0.300000, 0.120000, 0.900000],
  hueNeg: [0.800000, 0.200000, 0.100000, 0.300000, 0.180000, 0.900000, 0.100000, 0.500000, 0.360000, 0.300000, 0.100000, 0.200000, 0.290000, 0.390000, 0.900000, 0.300000, 0.700000, 0.390000],
};

test('ColorJitter: each operation equals torchvision 0.14 adjust_* on a fixed image; normalisation is undone and redone', () => {
  const x = torch.tensor(IMG).float().unsqueeze(0);
  const mean = [0.4, 0.5, 0.3], std = [0.2, 0.25, 0.3];
  const norm = x.sub(torch.tensor(mean).float().reshape(1, 3, 1, 1)).div(torch.tensor(std).float().reshape(1, 3, 1, 1));
  const run = (o: object) => {
    const y = new ColorJitter(o).apply({ images: norm }, ctx(1, mean, std)).images;
    return y.mul(torch.tensor(std).float().reshape(1, 3, 1, 1)).add(torch.tensor(mean).float().reshape(1, 3, 1, 1)).reshape(-1);
  };
  // The torchvision fixture is printed to 6 decimals; fp32 HSV maths adds a few ulp.
  const close = (a: Tensor, b: number[], what: string) => assert.ok(a.allclose(torch.tensor(b).float(), 1e-4, 2e-5), `${what}: ${a.toArray()}`);
  close(run({ brightness: [1.3, 1.3] }), TORCHVISION.brightness, 'brightness 1.3');
  close(run({ contrast: [0.7, 0.7] }), TORCHVISION.contrast, 'contrast 0.7');
  close(run({ saturation: [1.5, 1.5] }), TORCHVISION.saturation, 'saturation 1.5');
  close(run({ hue: [0.2, 0.2] }), TORCHVISION.hue, 'hue 0.2');
  close(run({ hue: [-0.45, -0.45] }), TORCHVISION.hueNeg, 'hue -0.45');
  assert.ok(hsvToRgb(rgbToHsv(x)).allclose(x, 1e-5, 1e-6), 'HSV round trip');
  const g = torch.rand(4, 1, 5, 5);
  assert.ok(new ColorJitter({ saturation: 0.5, hue: 0.3 }).apply({ images: g }, ctx(1, [0.5], [0.5])).images.allclose(g, 1e-6, 1e-6), '1 channel: saturation and hue leave it');
  assert.throws(() => new ColorJitter({ hue: 0.7 }), /hue range must lie within \[-0.5,0.5\]/);
});
