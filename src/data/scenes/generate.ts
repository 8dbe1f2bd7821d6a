// Writes a scenes dataset (Cut, Paste and Learn: Dwibedi et al., ICCV 2017) to
// disk once, in the layouts Arsenal's readers take as a user's data:
//   img_dir/{train,val}/NNNNN.jpg, ann_dir/{train,val}/NNNNN.png        mmseg (8-bit class indices, 255 = ignore)
//   JPEGImages/<split>_NNNNN.jpg (hard links), SegmentationClass/<split>_NNNNN.png (VOC palette),
//   ImageSets/Segmentation/{train,val}.txt                               VOC
//   annotations/instances_{train,val}.json                               COCO instances (uncompressed RLE)
//   crops/{train,val}/<class>/NNNNN.png (NNNNN = annotation id)          ImageFolder of the annotated objects
//   meta.json                                                            classes, palette, material, options, counts
// Scenes are composed in batches (compose.ts); each batch's files are encoded
// (sharp; masks by encodeMaskPng) while the next batch is composed. The emoji of each class
// and the photographs are split between train and val by the seed, so the val
// split has drawings and photos the train split never shows.
import { link, copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '../rng.js';
import { getNumThreads, setNumThreads } from '../../torch/index.js';
import { loadSharp } from '../image_folder.js';
import { arr, bool, num, obj, opt, req, str, fail, type Infer } from '../../util/schema.js';
import { EMOJI_SIDE, textureLevels, loadEmojiBank, loadPhotos, type SceneMaterial } from './material.js';
import { planScene, type SceneOptions, type ScenePools } from './plan.js';
import { composeScenes, type ComposedBatch } from './compose.js';
import { IGNORE_INDEX } from '../sample.js';
import { vocPalette } from '../palette.js';
import { encodeMaskPng } from '../mask_png.js';
import { backgrounds } from './background.js';

export const GENERATOR = 'arsenal-scenes 1';
export const SPLITS = ['train', 'val'] as const;
export type SceneSplit = (typeof SPLITS)[number];

const OPTIONS = obj({
  out: req(str),
  train: opt(num(1, 99999, true)),
  val: opt(num(1, 99999, true)),
  size: opt(num(32, 4096, true)),
  seed: opt(num(-(2 ** 53) + 1, 2 ** 53 - 1, true)),
  maxObjects: opt(num(1, 64, true)),
  objectSize: opt(arr(num(4, 4096), 2)),
  maxRotation: opt(num(0, 180)),
  maxOverlap: opt(num(0, 1)),
  tries: opt(num(1, 1000, true)),
  maxHidden: opt(num(0, 1)),
  cropScale: opt(arr(num(0.01, 1), 2)),
  jitter: opt(num(0, 1)),
  cropSize: opt(num(8, 1024, true)),
  cropPad: opt(num(0, 2)),
  heldOutEmoji: opt(num(0, 1)),
  heldOutPhotos: opt(num(0, 1)),
  jpegQuality: opt(num(1, 100, true)),
  batchSize: opt(num(1, 1024, true)),
  threads: opt(num(1, 1024, true)),
  overwrite: opt(bool),
});

export type GenerateScenesOptions = Infer<typeof OPTIONS> & {
  material: SceneMaterial;
  /** Where the material came from (packages, versions), copied into meta.json. */
  sources?: Record<string, unknown>;
  /** Called after each batch is written. */
  onProgress?: (split: SceneSplit, done: number, total: number) => void;
};

export interface SplitCounts {
  images: number;
  /** Annotated objects (COCO annotations, crops), in all and per class. */
  objects: number;
  perClass: Record<string, number>;
  /** Objects more than maxHidden hidden: not annotated; those with visible pixels made ignore (255) pixels. */
  hidden: number;
  ignored: number;
  /** Objects drawn but never placed (no position within maxOverlap in `tries` draws). */
  unplaced: number;
}

export interface ScenesMeta {
  generator: string;
  seed: number;
  classes: string[];
  palette: [number, number, number][];
  ignoreIndex: number;
  ignoreColor: [number, number, number];
  /** Per class (not background), the emoji code points of each split: disjoint. */
  emoji: Record<string, { train: string[]; val: string[] }>;
  photos: { train: string[]; val: string[] };
  options: Record<string, unknown>;
  counts: { train: SplitCounts; val: SplitCounts };
  sources?: Record<string, unknown>;
}

/** The generated files and folders, removed first with `overwrite`. */
const OUTPUTS = ['img_dir', 'ann_dir', 'JPEGImages', 'SegmentationClass', 'ImageSets', 'annotations', 'crops', 'meta.json'];

const pad5 = (i: number): string => String(i).padStart(5, '0');

/** Splits 0..n−1: a seeded share `heldOut` (at least 1, at most n − 1) to val, the rest to train, each sorted. */
function splitIndices(n: number, heldOut: number, rng: Rng, what: string): { train: number[]; val: number[] } {
  if (n < 2) throw new Error(`scenes: ${what} has ${n} item(s); at least 2 are needed (one for each split)`);
  const perm = Array.from(rng.permutation(n));
  const k = Math.min(n - 1, Math.max(1, Math.round(n * heldOut)));
  return { val: perm.slice(0, k).sort((a, b) => a - b), train: perm.slice(k).sort((a, b) => a - b) };
}

function checkMaterial(m: SceneMaterial): void {
  if (m === null || typeof m !== 'object' || !Array.isArray(m.classes) || !Array.isArray(m.photos)) fail('scenes: material', 'expected { classes: [{ name, emoji: [{ code, file }] }], photos: [file] }');
  if (m.classes.length === 0 || m.classes.length > 254) fail('scenes: material.classes', `expected 1 to 254 classes, got ${m.classes.length}`);
  const names = new Set<string>();
  m.classes.forEach((c, i) => {
    if (typeof c.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(c.name) || c.name === 'background') fail(`scenes: material.classes[${i}].name`, `expected a folder-safe name other than 'background', got ${JSON.stringify(c.name)}`);
    if (names.has(c.name)) fail(`scenes: material.classes[${i}].name`, `'${c.name}' is given twice`);
    names.add(c.name);
    if (!Array.isArray(c.emoji)) fail(`scenes: material.classes[${i}].emoji`, 'expected an array of { code, file }');
  });
}

export async function generateScenes(opts: GenerateScenesOptions): Promise<ScenesMeta> {
  const { material, sources, onProgress, ...rest } = opts;
  OPTIONS(rest, 'scenes');
  checkMaterial(material);
  const size = rest.size ?? 192;
  const o: SceneOptions & { cropSize: number; cropPad: number; heldOutEmoji: number; heldOutPhotos: number; jpegQuality: number } = {
    size,
    maxObjects: rest.maxObjects ?? 6,
    // 16–96 pixels at 192, scaled with the output size
    objectSize: rest.objectSize ?? [Math.round((16 * size) / 192), Math.round((96 * size) / 192)],
    maxRotation: rest.maxRotation ?? 20,
    maxOverlap: rest.maxOverlap ?? 0.3,
    tries: rest.tries ?? 20,
    maxHidden: rest.maxHidden ?? 0.7,
    cropScale: rest.cropScale ?? [0.3, 0.6],
    jitter: rest.jitter ?? 0.3,
    cropSize: rest.cropSize ?? 64,
    cropPad: rest.cropPad ?? 0.1,
    heldOutEmoji: rest.heldOutEmoji ?? 0.25,
    heldOutPhotos: rest.heldOutPhotos ?? 0.2,
    jpegQuality: rest.jpegQuality ?? 90,
  };
  if (!(o.objectSize[0] <= o.objectSize[1] && o.objectSize[1] <= size)) fail('scenes.objectSize', `expected [lo, hi] with lo ≤ hi ≤ size (${size}), got ${JSON.stringify(o.objectSize)}`);
  if (!(o.cropScale[0] <= o.cropScale[1])) fail('scenes.cropScale', `expected [lo, hi] with lo ≤ hi, got ${JSON.stringify(o.cropScale)}`);
  if (o.objectSize[1] > EMOJI_SIDE) {
    const why = rest.objectSize ? '' : ` (by default 96·size/192, at size ${size} (--size))`;
    const fix = rest.objectSize ? '' : ` or a size of at most ${2 * EMOJI_SIDE}`;
    fail('scenes.objectSize', `the largest object, ${o.objectSize[1]} px${why}, is larger than the emoji renders (${EMOJI_SIDE} px, never enlarged); give objectSize [lo, hi] with hi ≤ ${EMOJI_SIDE}${fix}`);
  }
  // The texture pyramid: its largest level covers the largest object.
  const levels = textureLevels(o.objectSize[1]);
  const counts = { train: rest.train ?? 3000, val: rest.val ?? 500 };
  const seed = rest.seed ?? 0;
  const batchSize = rest.batchSize ?? 32;
  const out = rest.out;

  await mkdir(out, { recursive: true });
  const present = (await readdir(out)).filter((n) => OUTPUTS.includes(n));
  if (present.length > 0) {
    if (!rest.overwrite) throw new Error(`scenes: ${out} already holds a dataset (${present.join(', ')}); choose another folder, or overwrite it (overwrite: true; --overwrite)`);
    await Promise.all(present.map((n) => rm(join(out, n), { recursive: true, force: true })));
  }

  // The splits of the material: emoji per class, photos.
  const K = material.classes.length;
  const classNames = material.classes.map((c) => c.name);
  const files: string[] = [];
  const codes: string[] = []; // bank index → code points
  const emojiSplit = material.classes.map((c, ci) => {
    const base = files.length;
    files.push(...c.emoji.map((e) => e.file));
    codes.push(...c.emoji.map((e) => e.code));
    const s = splitIndices(c.emoji.length, o.heldOutEmoji, new Rng(Rng.derive(seed, 1, ci)), `class '${c.name}'`);
    return { train: s.train.map((i) => base + i), val: s.val.map((i) => base + i), codes: { train: s.train.map((i) => c.emoji[i].code), val: s.val.map((i) => c.emoji[i].code) } };
  });
  const photoSplit = splitIndices(material.photos.length, o.heldOutPhotos, new Rng(Rng.derive(seed, 2)), 'the photo list');

  const bank = await loadEmojiBank(files, levels);
  const photos = await loadPhotos(material.photos, Math.ceil(size / o.cropScale[0]));
  const photoSizes = photos.map((p) => [p.height, p.width] as [number, number]);
  const sharp = await loadSharp();
  const palette = vocPalette() as [number, number, number][];
  const meta: ScenesMeta = {
    generator: GENERATOR,
    seed,
    classes: ['background', ...classNames],
    palette: palette.slice(0, K + 1),
    ignoreIndex: IGNORE_INDEX,
    ignoreColor: palette[IGNORE_INDEX],
    emoji: Object.fromEntries(classNames.map((n, ci) => [n, emojiSplit[ci].codes])),
    photos: { train: photoSplit.train.map((i) => material.photos[i]), val: photoSplit.val.map((i) => material.photos[i]) },
    options: { train: counts.train, val: counts.val, ...o }, // not batchSize nor threads: they change no byte
    counts: { train: emptyCounts(classNames), val: emptyCounts(classNames) },
    ...(sources ? { sources } : {}),
  };

  // libtorch's intra-op threads, 1 by default while composing: the ops are small
  // (patches, one batch), threads cost more than they give, and sharp encodes
  // the previous batch on the other cores meanwhile. Restored after.
  const threadsBefore = getNumThreads();
  setNumThreads(rest.threads ?? 1);
  try {
    for (const d of ['ImageSets/Segmentation', 'JPEGImages', 'SegmentationClass', 'annotations']) await mkdir(join(out, d), { recursive: true });
    for (const [si, split] of SPLITS.entries()) {
      for (const d of ['img_dir', 'ann_dir']) await mkdir(join(out, d, split), { recursive: true });
      for (const c of classNames) await mkdir(join(out, 'crops', split, c), { recursive: true });
      const pools: ScenePools = { emoji: emojiSplit.map((e) => e[split]), photos: photoSplit[split], photoSizes, boxes: bank.boxes };
      const n = counts[split];
      const c = meta.counts[split];
      c.images = n;
      const coco = { images: [] as object[], annotations: [] as object[] };
      let pending: Promise<unknown> = Promise.resolve();
      for (let start = 0; start < n; start += batchSize) {
        const idx = Array.from({ length: Math.min(batchSize, n - start) }, (_, j) => start + j);
        const plans = idx.map((i) => planScene(new Rng(Rng.derive(seed, 3, si, i)), pools, o));
        const bg = await backgrounds(sharp, photos, plans, size);
        let batch: ComposedBatch;
        try {
          batch = composeScenes(plans, bg, bank, { size, maxHidden: o.maxHidden, cropSize: o.cropSize, cropPad: o.cropPad, levels, maxObjectSize: o.objectSize[1] });
        } finally {
          bg.dispose();
        }
        for (const p of plans) c.unplaced += p.drawn - p.objects.length;
        const writes = annotate(batch, idx, size, c, coco, classNames, codes);
        await pending; // the previous batch's files, encoded while this batch was composed
        pending = writeBatch(sharp, out, split, batch, idx, writes, palette, size, o).then(() => onProgress?.(split, idx[idx.length - 1] + 1, n));
        pending.catch(() => undefined); // awaited (and thrown) at the next batch; not an unhandled rejection meanwhile
      }
      await pending;
      const stems = Array.from({ length: n }, (_, i) => `${split}_${pad5(i)}`);
      await writeFile(join(out, 'ImageSets/Segmentation', `${split}.txt`), stems.join('\n') + '\n');
      const json = {
        info: { description: `Arsenal scenes (${GENERATOR}), ${split} split`, version: GENERATOR },
        licenses: [],
        images: coco.images,
        annotations: coco.annotations,
        categories: classNames.map((name, i) => ({ id: i + 1, name, supercategory: 'object' })),
      };
      await writeFile(join(out, 'annotations', `instances_${split}.json`), JSON.stringify(json));
    }
    // Written last: its presence says the dataset is whole.
    await writeFile(join(out, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
  } finally {
    setNumThreads(threadsBefore);
    bank.textures.forEach((t) => t.dispose());
  }
  return meta;
}

function emptyCounts(classNames: string[]): SplitCounts {
  return { images: 0, objects: 0, perClass: Object.fromEntries(classNames.map((n) => [n, 0])), hidden: 0, ignored: 0, unplaced: 0 };
}

interface CropWrite { cls: string; id: number; offset: number }

/** The COCO entries of a batch (ids in image order; an annotation also names its emoji's code points), the counts, and where each crop goes. */
function annotate(batch: ComposedBatch, idx: number[], size: number, c: SplitCounts, coco: { images: object[]; annotations: object[] }, classNames: string[], codes: string[]): CropWrite[][] {
  const crops: CropWrite[][] = [];
  let k = 0;
  batch.objects.forEach((obs, j) => {
    const imageId = idx[j] + 1;
    coco.images.push({ id: imageId, file_name: `${pad5(idx[j])}.jpg`, width: size, height: size });
    const mine: CropWrite[] = [];
    for (const ob of obs) {
      if (!ob.kept) {
        c.hidden++;
        if (ob.visible > 0) c.ignored++;
        continue;
      }
      const id = coco.annotations.length + 1;
      coco.annotations.push({
        id, image_id: imageId, category_id: ob.cls + 1, bbox: ob.bbox, area: ob.visible,
        segmentation: { size: [size, size], counts: ob.counts }, iscrowd: 0, emoji: codes[ob.emoji],
      });
      c.objects++;
      c.perClass[classNames[ob.cls]]++;
      mine.push({ cls: classNames[ob.cls], id, offset: k++ });
    }
    crops.push(mine);
  });
  return crops;
}

async function writeBatch(
  sharp: Awaited<ReturnType<typeof loadSharp>>, out: string, split: SceneSplit, batch: ComposedBatch, idx: number[],
  crops: CropWrite[][], palette: [number, number, number][], S: number, o: { jpegQuality: number; cropSize: number },
): Promise<void> {
  const C = o.cropSize;
  await Promise.all(idx.map(async (i, j) => {
    const stem = pad5(i);
    const rgb = batch.images.subarray(j * S * S * 3, (j + 1) * S * S * 3);
    const mask = batch.masks.subarray(j * S * S, (j + 1) * S * S);
    const jpg = join(out, 'img_dir', split, `${stem}.jpg`);
    const voc = join(out, 'JPEGImages', `${split}_${stem}.jpg`);
    const jpeg = await sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).jpeg({ quality: o.jpegQuality, chromaSubsampling: '4:4:4' }).toBuffer();
    await writeFile(jpg, jpeg);
    await link(jpg, voc).catch(() => copyFile(jpg, voc));
    await writeFile(join(out, 'ann_dir', split, `${stem}.png`), encodeMaskPng({ data: mask, height: S, width: S }, 'greyscale'));
    await writeFile(join(out, 'SegmentationClass', `${split}_${stem}.png`), encodeMaskPng({ data: mask, height: S, width: S }, palette));
    await Promise.all(crops[j].map(async (cw) => {
      const px = batch.crops.subarray(cw.offset * C * C * 3, (cw.offset + 1) * C * C * 3);
      await writeFile(join(out, 'crops', split, cw.cls, `${pad5(cw.id)}.png`), await sharp(px, { raw: { width: C, height: C, channels: 3 } }).png().toBuffer());
    }));
  }));
}
