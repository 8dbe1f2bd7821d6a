// A tiny COCO detection set written to disk for the detection tests:
// img_dir/{split}/<id>.png (S × S noise with red or blue squares) and
// annotations/instances_{split}.json (what `arsenal data scenes` writes), two
// categories with non-contiguous ids (red 5, blue 9: labels 0 and 1 by
// ascending id). TRAIN: 8 images, one square each (image 102 two, image 107
// none); VAL: 4 images, one with a crowd box and one without boxes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { data, type tasks } from 'arsenal';

export const S = 64;
export const CAT = { red: 5, blue: 9 };
/** Categories by ascending id: label 0 = red (5), label 1 = blue (9). */
export const CLASSES = ['red', 'blue'];

export interface Ann { cls: 'red' | 'blue'; box: [number, number, number, number]; crowd?: boolean }
export interface CocoImage { id: number; anns: Ann[] }

export const TRAIN: CocoImage[] = Array.from({ length: 8 }, (_, i) => {
  const side = 14 + 3 * i, x = 4 + ((5 * i) % (S - side - 8)), y = 6 + ((7 * i) % (S - side - 10));
  const anns: Ann[] = i === 7 ? [] : [{ cls: i % 2 ? 'blue' : 'red', box: [x, y, x + side, y + side] }];
  if (i === 2) anns.push({ cls: 'blue', box: [2, 50, 14, 62] });
  return { id: 100 + i, anns };
});

export const VAL: CocoImage[] = [
  { id: 31, anns: [{ cls: 'red', box: [8, 8, 40, 40] }, { cls: 'blue', box: [44, 4, 60, 20] }, { cls: 'blue', box: [40, 40, 62, 62], crowd: true }] },
  { id: 22, anns: [{ cls: 'blue', box: [10, 20, 34, 50] }] },
  { id: 13, anns: [{ cls: 'red', box: [30, 6, 58, 30] }] },
  { id: 44, anns: [] },
];

/** Writes one split under root (pixels from a generator seeded with `seed`). */
export async function writeCocoSplit(root: string, split: string, images: CocoImage[], seed: number): Promise<void> {
  const g = new data.Rng(seed);
  mkdirSync(join(root, 'img_dir', split), { recursive: true });
  mkdirSync(join(root, 'annotations'), { recursive: true });
  const annotations: object[] = [];
  for (const im of images) {
    const rgb = Buffer.alloc(S * S * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = g.int(60, 140);
    for (const a of im.anns) {
      const [x1, y1, x2, y2] = a.box;
      for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) {
        const p = (y * S + x) * 3;
        rgb[p] = a.cls === 'red' ? 220 : 20; rgb[p + 1] = 40; rgb[p + 2] = a.cls === 'red' ? 20 : 220;
      }
      annotations.push({ id: annotations.length + 1, image_id: im.id, category_id: CAT[a.cls], bbox: [x1, y1, x2 - x1, y2 - y1], area: (x2 - x1) * (y2 - y1), iscrowd: a.crowd ? 1 : 0 });
    }
    await sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).png().toFile(join(root, 'img_dir', split, `${im.id}.png`));
  }
  const json = { images: images.map((im) => ({ id: im.id, file_name: `${im.id}.png`, width: S, height: S })), annotations, categories: [{ id: CAT.blue, name: 'blue' }, { id: CAT.red, name: 'red' }] };
  writeFileSync(join(root, 'annotations', `instances_${split}.json`), JSON.stringify(json));
}

/** Both splits under root. */
export async function writeCocoSquares(root: string): Promise<void> {
  await writeCocoSplit(root, 'train', TRAIN, 1);
  await writeCocoSplit(root, 'val', VAL, 2);
}

/** A tiny FCOS on the set at root, one fp32 epoch; every point a candidate (score 0), so an untrained model has boxes to give. */
export const tinyDetectionConfig = (root: string): tasks.DetectionConfig => ({
  task: 'detection',
  seed: 3,
  data: { dataset: 'coco', root, classes: CLASSES, batchSize: 4, mean: [0.4, 0.4, 0.4], std: [0.25, 0.25, 0.25] },
  model: { name: 'fcos_resnet18_fpn', width: 8, outChannels: 32, numConvs: 1 },
  optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  postprocess: { preset: 'torchvision', scoreThresh: 0, detectionsPerImg: 20 },
  train: { epochs: 1, amp: 'fp32', clipGradNorm: 35 },
});
