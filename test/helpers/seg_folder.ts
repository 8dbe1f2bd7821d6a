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
