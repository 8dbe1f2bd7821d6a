// A tiny segmentation set in mmseg's layout, written to disk for tests of the
// commands: img_dir/{split}/<name>.png (RGB) and ann_dir/{split}/<name>.png
// (8-bit grey class indices). Background pixels are (100, 100, 100), class 0;
// a square of class 1 (red) or 2 (blue) sits at a seeded place at least 4
// pixels from the edges; the first row is 255 (ignore).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { encode } from 'fast-png';
import { data } from 'arsenal';

export const SEG_CLASSES = ['background', 'red', 'blue'];
export const BACKGROUND = 100;

export async function writeMmsegSplit(root: string, split: string, names: string[], seed: number, size = 32): Promise<void> {
  const g = new data.Rng(seed), S = size;
  mkdirSync(join(root, 'img_dir', split), { recursive: true });
  mkdirSync(join(root, 'ann_dir', split), { recursive: true });
  for (const [i, name] of names.entries()) {
    const rgb = Buffer.alloc(S * S * 3, BACKGROUND), mask = Buffer.alloc(S * S);
    const cls = 1 + (i % 2), side = g.int(8, 14), x0 = g.int(4, S - side - 4), y0 = g.int(4, S - side - 4);
    for (let y = y0; y < y0 + side; y++) for (let x = x0; x < x0 + side; x++) {
      const p = y * S + x;
      mask[p] = cls;
      rgb[p * 3] = cls === 1 ? 220 : 20; rgb[p * 3 + 1] = 40; rgb[p * 3 + 2] = cls === 1 ? 20 : 220;
    }
    mask.fill(255, 0, S);
    await sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).png().toFile(join(root, 'img_dir', split, `${name}.png`));
    writeFileSync(join(root, 'ann_dir', split, `${name}.png`), encode({ width: S, height: S, data: mask, channels: 1, depth: 8 }));
  }
}

/**
 * Another tiny mmseg set, for tests that train: 32×32 RGB noise (60–140) with
 * a red (class 1) or blue (class 2) square of side 8–15 at a seeded place, and
 * a 1-pixel frame of 255 in the mask; names 0..n−1.
 */
export async function writeNoiseSquares(root: string, split: string, n: number, seed: number): Promise<void> {
  const g = new data.Rng(seed), S = 32;
  mkdirSync(join(root, 'img_dir', split), { recursive: true });
  mkdirSync(join(root, 'ann_dir', split), { recursive: true });
  for (let i = 0; i < n; i++) {
    const rgb = Buffer.alloc(S * S * 3), mask = Buffer.alloc(S * S);
    for (let p = 0; p < S * S * 3; p++) rgb[p] = g.int(60, 140);
    const cls = 1 + (i % 2), side = g.int(8, 16), x0 = g.int(1, S - side - 1), y0 = g.int(1, S - side - 1);
    for (let y = y0; y < y0 + side; y++) for (let x = x0; x < x0 + side; x++) {
      const p = y * S + x;
      mask[p] = cls;
      rgb[p * 3] = cls === 1 ? 230 : 20; rgb[p * 3 + 1] = 30; rgb[p * 3 + 2] = cls === 1 ? 20 : 230;
    }
    for (let k = 0; k < S; k++) mask[k] = mask[(S - 1) * S + k] = mask[k * S] = mask[k * S + S - 1] = 255;
    await sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).png().toFile(join(root, 'img_dir', split, `${i}.png`));
    writeFileSync(join(root, 'ann_dir', split, `${i}.png`), encode({ width: S, height: S, data: mask, channels: 1, depth: 8 }));
  }
}
