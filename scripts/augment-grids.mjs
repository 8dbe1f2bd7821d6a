#!/usr/bin/env node
// Draws one grid per augmentation into docs/augment/ (the pictures of
// docs/augmentations.md), on Fashion-MNIST scenes so boxes and masks show:
//   npm run build && node scripts/augment-grids.mjs [--n 8]
// Each grid: the same 8 scenes (seed 42) after one transform; boxes outlined
// in their class colour, masks tinted, ignore (255) grey.
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { torch, augment } = await import(join(root, 'dist/src/index.js'));
const { Rng } = await import(join(root, 'dist/src/data/rng.js'));
const { fashionMnist } = await import(join(root, 'dist/src/data/fashion_mnist.js'));
const { FashionMnistScenes } = await import(join(root, 'dist/src/data/scenes.js'));
const { drawGrid, writePng } = await import(join(root, 'dist/src/augment/draw.js'));

const n = Number(process.argv[process.argv.indexOf('--n') + 1]) || 8;
const out = join(root, 'docs/augment');
mkdirSync(out, { recursive: true });
const scenes = new FashionMnistScenes(fashionMnist({ split: 'train' }), { seed: 42 });
const mean = [0.5], std = [0.5];
const pick = (seed) => { const r = new Rng(seed); return Array.from({ length: n }, () => scenes.getSample(r.int(0, scenes.length))); };
const norm = (b) => ({ ...b, images: b.images.div(255).sub(0.5).div(0.5) });
const ctx = (seed) => ({ rng: new Rng(seed), mean, std, numClasses: 11 });

const batchTricks = {
  original: [],
  'random-flip': [{ type: 'RandomFlip', prob: 0.5, direction: 'horizontal' }],
  'random-crop': [{ type: 'RandomCrop', padding: 12 }],
  'random-resized-crop': [{ type: 'RandomResizedCrop', size: 64, scale: [0.25, 1] }],
  'resize-keep-ratio': [{ type: 'Pad', padding: [0, 0, 32, 0] }, { type: 'Resize', size: [48, 64], keepRatio: true }],
  'random-resize-crop': [{ type: 'RandomResizeCrop', cropSize: 64 }],
  'color-jitter': [{ type: 'ColorJitter', brightness: 0.6, contrast: 0.6 }],
  'photometric-distortion': [{ type: 'PhotoMetricDistortion' }],
  'random-erasing': [{ type: 'RandomErasing', prob: 1, mode: 'pixel', scale: [0.05, 0.3] }],
  cutmix: [{ type: 'Mixup', mixupAlpha: 0, cutmixAlpha: 1, mode: 'elem' }],
};
const written = [];
for (const [name, steps] of Object.entries(batchTricks)) {
  torch.manualSeed(42);
  const b = norm(augment.collate(pick(7)));
  // CutMix (timm) mixes images and masks, not boxes: draw it without boxes.
  const input = name === 'cutmix' ? { images: b.images, masks: b.masks } : b;
  const r = new augment.BatchPipeline(steps).apply(input, ctx(42));
  await writePng(join(out, `${name}.png`), drawGrid(r, { mean, std, cols: n }));
  written.push(name);
}
// MixUp (timm) on the classification batch: blended pixels, no masks or boxes.
{
  const b = norm(augment.collate(pick(7)));
  const r = new augment.Mixup({ mixupAlpha: 1 }).apply({ images: b.images, labels: torch.zeros([n], { dtype: 'int64' }) }, ctx(42));
  await writePng(join(out, 'mixup.png'), drawGrid(r, { mean, std, cols: n }));
  written.push('mixup');
}
// Multi-sample: Mosaic (2 × 64 canvas of four scenes), Mosaic + RandomAffine (YOLOX: the canvas warped back to 64 × 64)
// and YOLOX MixUp.
const mosaic = { type: 'Mosaic', imgScale: [64, 64] };
const multi = [
  ['mosaic', [mosaic]],
  ['random-affine', [mosaic, { type: 'RandomAffine', scalingRatioRange: [0.1, 2], border: [-32, -32] }]],
  ['yolox-mixup', [{ type: 'YoloxMixUp', imgScale: [64, 64] }]],
];
for (const [name, steps] of multi) {
  // YOLOX MixUp is for detection: the scenes without their masks.
  const source = name === 'yolox-mixup' ? { length: scenes.length, getSample: (i) => ({ ...scenes.getSample(i), mask: undefined }) } : scenes;
  const ds = new augment.MultiImageMixDataset(source, steps);
  const r = new Rng(7);
  const samples = await ds.getSamples(Array.from({ length: n }, () => r.int(0, scenes.length)), new Rng(42));
  const b = norm(augment.collate(samples));
  await writePng(join(out, `${name}.png`), drawGrid(b, { mean, std, cols: name === 'mosaic' ? 4 : n, scale: name === 'mosaic' ? 2 : 4 }));
  written.push(name);
}
console.log(`wrote ${written.map((w) => `docs/augment/${w}.png`).join(', ')}`);
