#!/usr/bin/env node
// A contact sheet of a scenes dataset (`arsenal data scenes`), to check it by
// eye: each scene as written (img_dir) with its COCO boxes drawn in the class's
// palette colour, beside its VOC palette mask (white-ish = 255, ignore).
//   node scripts/scenes-preview.mjs DIR [--split train] [--n 16] [--cols 4] [--out preview.png]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const dir = args[0];
if (!dir || dir.startsWith('--')) {
  console.error('usage: node scripts/scenes-preview.mjs DIR [--split train] [--n 16] [--cols 4] [--out preview.png]');
  process.exit(1);
}
const split = flag('split', 'train');
const n = Number(flag('n', 16));
const cols = Number(flag('cols', 4));
const out = flag('out', 'scenes-preview.png');
const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
const coco = JSON.parse(readFileSync(join(dir, 'annotations', `instances_${split}.json`), 'utf8'));
const S = coco.images[0].width;
const gap = 4;
const byImage = new Map();
for (const a of coco.annotations) byImage.set(a.image_id, [...(byImage.get(a.image_id) ?? []), a]);
const tiles = [];
for (let i = 0; i < Math.min(n, coco.images.length); i++) {
  const im = coco.images[i];
  const rects = (byImage.get(im.id) ?? []).map((a) => {
    const [r, g, b] = meta.palette[a.category_id];
    const [x, y, w, h] = a.bbox;
    return `<rect x="${x + 0.5}" y="${y + 0.5}" width="${w - 1}" height="${h - 1}" fill="none" stroke="rgb(${r},${g},${b})" stroke-width="1.5"/>`;
  });
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${S}" height="${S}">${rects.join('')}</svg>`);
  const img = await sharp(join(dir, 'img_dir', split, im.file_name)).composite([{ input: svg }]).png().toBuffer();
  const stem = im.file_name.replace(/\.jpg$/, '');
  const mask = await sharp(join(dir, 'SegmentationClass', `${split}_${stem}.png`)).toColourspace('srgb').removeAlpha().png().toBuffer();
  const left = (i % cols) * (2 * S + 3 * gap), top = Math.floor(i / cols) * (S + gap);
  tiles.push({ input: img, left, top }, { input: mask, left: left + S + gap, top });
}
const rows = Math.ceil(Math.min(n, coco.images.length) / cols);
await sharp({ create: { width: cols * (2 * S + 3 * gap), height: rows * (S + gap), channels: 3, background: '#202020' } }).composite(tiles).png().toFile(out);
console.log(`wrote ${out} (${split}: ${Math.min(n, coco.images.length)} scenes of ${dir}; classes ${meta.classes.slice(1).join(', ')})`);
