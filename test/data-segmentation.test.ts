// Segmentation data: masks read from PNGs by palette index (never colour), the
// mmseg and VOC folder layouts, reduceZeroLabel, nearest resizing of masks,
// per-class pixel counts, and errors that name the file. Fixtures are written
// into a temporary folder: masks with fast-png, images with sharp.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encode, decode } from 'fast-png';
import { torch, type Tensor } from 'arsenal';
import * as data from '../src/data/index.js';

const { readMaskPng, segmentationFolder, DataLoader } = data;

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'arsenal-seg-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const H = 4;
const W = 6;
// VOC's palette: index 255 (border, ignore) is (224,224,192). Here indices 1 and 2 share one colour.
const SHARED = [128, 0, 0];
function vocPalette(): number[][] {
  const p: number[][] = Array.from({ length: 256 }, (_, i) => [i, i, i]);
  p[0] = [0, 0, 0];
  p[1] = SHARED;
  p[2] = SHARED.slice();
  p[3] = [0, 128, 0];
  p[255] = [224, 224, 192];
  return p;
}

function writePalettePng(file: string, indices: number[], h: number, w: number): void {
  writeFileSync(file, encode({ width: w, height: h, data: Uint8Array.from(indices), channels: 1, depth: 8, palette: vocPalette() }));
}
function writeGreyPng(file: string, values: number[], h: number, w: number, depth: 8 | 16 = 8): void {
  const d = depth === 8 ? Uint8Array.from(values) : Uint16Array.from(values);
  writeFileSync(file, encode({ width: w, height: h, data: d, channels: 1, depth }));
}
/** A solid-colour image (exact in PNG, close in JPEG). */
async function writeImage(file: string, h: number, w: number, rgb: [number, number, number]): Promise<void> {
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
  await (file.endsWith('.png') ? img.png() : img.jpeg({ quality: 100 })).toFile(file);
}

// Mask A: a border of 255 (ignore) around classes 0..3, where 1 and 2 share a colour.
const MASK_A = [
  255, 255, 255, 255, 255, 255,
  255, 0, 1, 2, 3, 255,
  255, 1, 1, 2, 2, 255,
  255, 255, 255, 255, 255, 255,
];
const MASK_B = [
  0, 0, 1, 1, 2, 2,
  0, 0, 1, 1, 2, 2,
  3, 3, 3, 255, 255, 255,
  3, 3, 3, 255, 255, 255,
];
const VOC_CLASSES = ['background', 'a', 'b', 'c'];

function mkdirs(...parts: string[]): string {
  const p = join(...parts);
  mkdirSync(p, { recursive: true });
  return p;
}

async function vocRoot(name: string): Promise<string> {
  const root = join(dir, name);
  const jpeg = mkdirs(root, 'JPEGImages');
  const seg = mkdirs(root, 'SegmentationClass');
  const sets = mkdirs(root, 'ImageSets', 'Segmentation');
  await writeImage(join(jpeg, 'a.jpg'), H, W, [200, 40, 40]);
  await writeImage(join(jpeg, 'b.jpg'), H, W, [40, 40, 200]);
  writePalettePng(join(seg, 'a.png'), MASK_A, H, W);
  writePalettePng(join(seg, 'b.png'), MASK_B, H, W);
  writeFileSync(join(sets, 'train.txt'), 'a\nb\n');
  writeFileSync(join(sets, 'val.txt'), 'b\n');
  return root;
}

// mmseg: greyscale class-index PNGs; raw values 0 (background, dropped by reduceZeroLabel), 1..3, 255.
const RAW_X = [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2, 3, 3, 3, 255, 255, 255, 3, 3, 3, 255, 255, 255];
const RAW_Y = [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255];

async function mmsegRoot(name: string): Promise<string> {
  const root = join(dir, name);
  const img = mkdirs(root, 'img_dir', 'train');
  const ann = mkdirs(root, 'ann_dir', 'train');
  mkdirs(root, 'img_dir', 'val');
  mkdirs(root, 'ann_dir', 'val');
  await writeImage(join(img, 'x.png'), H, W, [10, 20, 30]);
  await writeImage(join(img, 'y.jpg'), H, W, [200, 200, 200]);
  writeGreyPng(join(ann, 'x.png'), RAW_X, H, W);
  writeGreyPng(join(ann, 'y.png'), RAW_Y, H, W);
  return root;
}

const flat = (t: Tensor): number[] => Array.from(t.dataSync() as BigInt64Array, Number);

describe('readMaskPng', () => {
  test('a palette PNG gives indices: two indices sharing one colour stay apart (sharp would merge them)', async () => {
    const f = join(dir, 'shared.png');
    writePalettePng(f, MASK_A, H, W);
    const m = readMaskPng(f);
    assert.equal(m.height, H);
    assert.equal(m.width, W);
    assert.ok(m.data instanceof Uint8Array);
    assert.deepEqual(Array.from(m.data), MASK_A);
    // What a colour reader sees: pixels of index 1 and 2 are the same RGB, so colour cannot tell them apart.
    const { data: rgb } = await sharp(f).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const px = (i: number) => Array.from(rgb.subarray(i * 3, i * 3 + 3));
    assert.deepEqual(px(8), px(9)); // index 1 at (1,2), index 2 at (1,3)
    assert.deepEqual(px(8), SHARED);
  });

  test('an 8-bit greyscale PNG gives the grey values', () => {
    const f = join(dir, 'grey.png');
    writeGreyPng(f, RAW_X, H, W);
    assert.deepEqual(Array.from(readMaskPng(f).data), RAW_X);
  });

  test("encodeMaskPng: a palette PNG (VOC's colours, or the given ones), or with 'greyscale' an 8-bit greyscale PNG; both read back as the indices", () => {
    const m = { data: Uint8Array.from(RAW_X), height: H, width: W };
    const grey = decode(data.encodeMaskPng(m, 'greyscale'));
    assert.deepEqual([grey.channels, grey.depth, grey.palette], [1, 8, undefined]);
    assert.deepEqual(Array.from(grey.data), RAW_X);
    const voc = decode(data.encodeMaskPng(m));
    assert.deepEqual([voc.channels, voc.depth, voc.palette!.length, voc.palette![1]], [1, 8, 256, [128, 0, 0]]);
    assert.deepEqual(decode(data.encodeMaskPng(m, [[1, 2, 3]])).palette, [[1, 2, 3]]);
    for (const bytes of [data.encodeMaskPng(m, 'greyscale'), data.encodeMaskPng(m)]) assert.deepEqual(Array.from(data.decodeMaskPng(bytes, 'x.png').data), RAW_X);
    assert.throws(() => data.encodeMaskPng(m, 'grey' as never), /palette must be 1 to 256 colours or 'greyscale', got "grey"/);
  });

  test('1/2/4-bit palette PNGs are unpacked (odd widths, rows padded to bytes)', () => {
    for (const depth of [1, 2, 4] as const) {
      const w = 5, h = 3;
      const vals = Array.from({ length: w * h }, (_, i) => (i * 7 + 3) % (1 << depth));
      const perLine = Math.ceil((w * depth) / 8);
      const packed = new Uint8Array(perLine * h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const bit = x * depth;
          packed[y * perLine + (bit >> 3)] |= vals[y * w + x] << (8 - depth - (bit & 7));
        }
      }
      const f = join(dir, `p${depth}.png`);
      const palette = Array.from({ length: 1 << depth }, () => [9, 9, 9]); // every index one colour
      writeFileSync(f, encode({ width: w, height: h, data: packed, channels: 1, depth, palette }));
      const m = readMaskPng(f);
      assert.deepEqual([m.height, m.width], [h, w]);
      assert.deepEqual(Array.from(m.data), vals, `depth ${depth}`);
    }
  });

  test('RGB, RGBA, 16-bit and non-PNG files are refused, naming the file and what was expected', async () => {
    const rgb = join(dir, 'rgb-mask.png');
    await writeImage(rgb, H, W, [1, 2, 3]);
    assert.throws(() => readMaskPng(rgb), (e: Error) => e.message.includes(rgb) && /8-bit RGB PNG/.test(e.message) && /expected a palette PNG .* or an 8-bit greyscale PNG/.test(e.message));
    const rgba = join(dir, 'rgba-mask.png');
    writeFileSync(rgba, encode({ width: 2, height: 1, data: new Uint8Array(8), channels: 4, depth: 8 }));
    assert.throws(() => readMaskPng(rgba), (e: Error) => e.message.includes(rgba) && /RGBA/.test(e.message));
    const g16 = join(dir, 'grey16.png');
    writeGreyPng(g16, [0, 1, 2, 300, 4, 5], 2, 3, 16);
    assert.throws(() => readMaskPng(g16), (e: Error) => e.message.includes(g16) && /16-bit greyscale/.test(e.message));
    const jpg = join(dir, 'mask.jpg');
    await writeImage(jpg, H, W, [1, 2, 3]);
    assert.throws(() => readMaskPng(jpg), (e: Error) => e.message.includes(jpg) && /not a PNG/.test(e.message));
    assert.throws(() => readMaskPng(join(dir, 'nope.png')), /cannot read .*nope\.png/);
  });
});

describe('segmentationFolder: VOC layout', () => {
  test('train and val load with the right shapes, dtypes and mask values (palette index; 255 border kept)', async () => {
    const root = await vocRoot('voc');
    const ds = await segmentationFolder(root, { split: 'train', layout: 'voc', classes: VOC_CLASSES });
    assert.equal(ds.length, 2);
    assert.deepEqual(ds.classes, VOC_CLASSES);
    const b = await ds.getBatch([1, 0]);
    try {
      assert.equal(b.images.dtype, 'uint8');
      assert.deepEqual(b.images.shape, [2, 3, H, W]);
      assert.ok(b.masks);
      assert.equal(b.masks.dtype, 'int64');
      assert.deepEqual(b.masks.shape, [2, H, W]);
      assert.deepEqual(flat(b.masks), [...MASK_B, ...MASK_A]);
      assert.equal(b.labels.dtype, 'int64');
      assert.deepEqual(b.labels.toArray(), [0, 0]);
      assert.deepEqual(b.indices, [1, 0]);
      // JPEG is lossy: the solid colours come back close, in RGB order.
      const px = (n: number) => [0, 1, 2].map((c) => Number(b.images.index(n, c, 1, 1).item()));
      px(1).forEach((v, c) => assert.ok(Math.abs(v - [200, 40, 40][c]) <= 6, `a.jpg channel ${c}: ${v}`));
      px(0).forEach((v, c) => assert.ok(Math.abs(v - [40, 40, 200][c]) <= 6, `b.jpg channel ${c}: ${v}`));
    } finally {
      torch.dispose([b.images, b.labels, b.masks!]);
    }
    const val = await segmentationFolder(root, { split: 'val', layout: 'voc', classes: VOC_CLASSES });
    assert.equal(val.length, 1);
    assert.ok(val.images[0].endsWith(join('JPEGImages', 'b.jpg')));
    // Pixels per class over the split (255 not counted).
    const count = (m: number[], k: number) => m.filter((v) => v === k).length;
    assert.deepEqual(ds.classCounts(), [0, 1, 2, 3].map((k) => count(MASK_A, k) + count(MASK_B, k)));
    assert.deepEqual(val.classCounts(), [0, 1, 2, 3].map((k) => count(MASK_B, k)));
    // limit: the first N of the split in its order, their pixel counts only (data.trainSubset).
    const first = await segmentationFolder(root, { split: 'train', layout: 'voc', classes: VOC_CLASSES, limit: 1 });
    assert.equal(first.length, 1);
    assert.deepEqual(first.names, [ds.names[0]]);
    assert.deepEqual(first.classCounts(), [0, 1, 2, 3].map((k) => count(ds.names[0] === 'a' ? MASK_A : MASK_B, k)));
    await assert.rejects(segmentationFolder(root, { split: 'train', layout: 'voc', classes: VOC_CLASSES, limit: 0 }), /limit must be a positive integer/);
  });

  test('the DataLoader yields masks and frees them', async () => {
    const root = await vocRoot('voc-loader');
    const ds = await segmentationFolder(root, { split: 'train', layout: 'voc', classes: VOC_CLASSES });
    const loader = new DataLoader(ds, { batchSize: 2, shuffle: false });
    let seen = 0;
    for await (const b of loader) {
      assert.deepEqual(b.masks?.shape, [2, H, W]);
      seen++;
      torch.dispose([b.images, b.labels, b.masks!]);
    }
    assert.equal(seen, 1);
  });
});

describe('segmentationFolder: mmseg layout', () => {
  test('images and masks matched by stem; greyscale values as labels', async () => {
    const root = await mmsegRoot('mmseg');
    const ds = await segmentationFolder(root, { split: 'train', layout: 'mmseg', classes: ['bg', 'a', 'b', 'c'] });
    assert.equal(ds.length, 2);
    assert.ok(ds.images[0].endsWith('x.png') && ds.masks[0].endsWith(join('ann_dir', 'train', 'x.png')));
    assert.ok(ds.images[1].endsWith('y.jpg') && ds.masks[1].endsWith(join('ann_dir', 'train', 'y.png')));
    const b = await ds.getBatch([0, 1]);
    try {
      assert.deepEqual(b.images.shape, [2, 3, H, W]);
      assert.deepEqual(flat(b.masks!), [...RAW_X, ...RAW_Y]);
      // PNG images are exact.
      assert.deepEqual(b.images.index(0, ':', 0, 0).toArray(), [10, 20, 30]);
    } finally {
      torch.dispose([b.images, b.labels, b.masks!]);
    }
  });

  test('reduceZeroLabel: 0 → 255, others − 1, 255 stays 255 (mmseg)', async () => {
    const root = await mmsegRoot('mmseg-rzl');
    const ds = await segmentationFolder(root, { split: 'train', layout: 'mmseg', classes: ['a', 'b', 'c'], reduceZeroLabel: true });
    const b = await ds.getBatch([0, 1]);
    const reduce = (v: number) => (v === 0 || v === 255 ? 255 : v - 1);
    try {
      assert.equal(b.masks!.dtype, 'int64');
      assert.deepEqual(flat(b.masks!), [...RAW_X, ...RAW_Y].map(reduce));
    } finally {
      torch.dispose([b.images, b.labels, b.masks!]);
    }
    const all = [...RAW_X, ...RAW_Y].map(reduce);
    assert.deepEqual(ds.classCounts(), [0, 1, 2].map((k) => all.filter((v) => v === k).length));
    // Without reduceZeroLabel, raw value 3 is out of range for 3 classes: the error names the mask.
    const bad = await segmentationFolder(root, { split: 'train', layout: 'mmseg', classes: ['a', 'b', 'c'] });
    await assert.rejects(bad.getBatch([0]), (e: Error) => e.message.includes(join('ann_dir', 'train', 'x.png')) && /label 3 .*3 classes/.test(e.message));
  });

  test('imageSize resizes images bilinear and masks nearest: mask values stay in the label set', async () => {
    const root = await mmsegRoot('mmseg-resize');
    for (const [oh, ow] of [[7, 9], [2, 3], [5, 5]] as const) {
      const ds = await segmentationFolder(root, { split: 'train', layout: 'mmseg', classes: ['bg', 'a', 'b', 'c'], imageSize: [oh, ow] });
      const b = await ds.getBatch([0, 1]);
      try {
        assert.deepEqual(b.images.shape, [2, 3, oh, ow]);
        assert.deepEqual(b.masks!.shape, [2, oh, ow]);
        const got = flat(b.masks!);
        assert.ok(got.every((v) => [0, 1, 2, 3, 255].includes(v)), `values ${[...new Set(got)]}`);
        // Nearest as cv2.INTER_NEAREST / F.interpolate(mode='nearest'): source = floor(dst · in / out).
        const expect = [RAW_X, RAW_Y].flatMap((raw) => {
          const out: number[] = [];
          for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out.push(raw[Math.floor((y * H) / oh) * W + Math.floor((x * W) / ow)]);
          return out;
        });
        assert.deepEqual(got, expect);
        // A solid image stays solid under bilinear resizing.
        assert.deepEqual(b.images.index(0, ':', oh - 1, ow - 1).toArray(), [10, 20, 30]);
      } finally {
        torch.dispose([b.images, b.labels, b.masks!]);
      }
    }
  });
});

describe('segmentationFolder: errors name the file', () => {
  test('mask size ≠ image size', async () => {
    const root = await mmsegRoot('err-size');
    const m = join(root, 'ann_dir', 'train', 'y.png');
    writeGreyPng(m, new Array(H * (W + 1)).fill(1), H, W + 1);
    const ds = await segmentationFolder(root, { split: 'train', layout: 'mmseg', classes: ['bg', 'a', 'b', 'c'] });
    await assert.rejects(ds.getBatch([1]), (e: Error) => e.message.includes(m) && e.message.includes('y.jpg') && /7x4 .* 6x4/.test(e.message));
    // Also with imageSize: the check is on the files' own sizes.
    const rs = await segmentationFolder(root, { split: 'train', layout: 'mmseg', classes: ['bg', 'a', 'b', 'c'], imageSize: [8, 8] });
    await assert.rejects(rs.getBatch([0, 1]), (e: Error) => e.message.includes(m));
  });

  test('a label ≥ classes.length that is not 255 (VOC palette index)', async () => {
    const root = await vocRoot('err-label');
    const ds = await segmentationFolder(root, { split: 'train', layout: 'voc', classes: ['background', 'a', 'b'] });
    const a = join(root, 'SegmentationClass', 'a.png');
    await assert.rejects(ds.getBatch([0]), (e: Error) => e.message.includes(a) && /label 3 in 1 pixels/.test(e.message) && /0\.\.2, or 255 = ignore/.test(e.message));
    assert.throws(() => ds.classCounts(), (e: Error) => e.message.includes(a));
  });

  test('a missing mask', async () => {
    const voc = await vocRoot('err-missing-voc');
    rmSync(join(voc, 'SegmentationClass', 'b.png'));
    await assert.rejects(segmentationFolder(voc, { split: 'val', layout: 'voc', classes: VOC_CLASSES }),
      (e: Error) => e.message.includes(join(voc, 'JPEGImages', 'b.jpg')) && e.message.includes(join(voc, 'SegmentationClass', 'b.png')));
    const mm = await mmsegRoot('err-missing-mmseg');
    rmSync(join(mm, 'ann_dir', 'train', 'y.png'));
    await assert.rejects(segmentationFolder(mm, { split: 'train', layout: 'mmseg', classes: VOC_CLASSES }),
      (e: Error) => e.message.includes(join(mm, 'img_dir', 'train', 'y.jpg')) && e.message.includes(join(mm, 'ann_dir', 'train', 'y.png')));
    // A mask deleted after the listing: the read error names it.
    const late = await mmsegRoot('err-missing-late');
    const ds = await segmentationFolder(late, { split: 'train', layout: 'mmseg', classes: VOC_CLASSES });
    rmSync(join(late, 'ann_dir', 'train', 'x.png'));
    await assert.rejects(ds.getBatch([0]), (e: Error) => e.message.includes(join(late, 'ann_dir', 'train', 'x.png')));
  });

  test('an empty split, a missing split list, a listed image that is missing', async () => {
    const mm = await mmsegRoot('err-empty');
    await assert.rejects(segmentationFolder(mm, { split: 'val', layout: 'mmseg', classes: VOC_CLASSES }),
      (e: Error) => /val split is empty/.test(e.message) && e.message.includes(join(mm, 'img_dir', 'val')));
    const voc = await vocRoot('err-empty-voc');
    writeFileSync(join(voc, 'ImageSets', 'Segmentation', 'val.txt'), '\n\n');
    await assert.rejects(segmentationFolder(voc, { split: 'val', layout: 'voc', classes: VOC_CLASSES }),
      (e: Error) => /val split is empty/.test(e.message) && e.message.includes(join(voc, 'ImageSets', 'Segmentation', 'val.txt')));
    rmSync(join(voc, 'ImageSets', 'Segmentation', 'val.txt'));
    await assert.rejects(segmentationFolder(voc, { split: 'val', layout: 'voc', classes: VOC_CLASSES }), (e: Error) => e.message.includes('val.txt'));
    writeFileSync(join(voc, 'ImageSets', 'Segmentation', 'train.txt'), 'a\nzz\n');
    await assert.rejects(segmentationFolder(voc, { split: 'train', layout: 'voc', classes: VOC_CLASSES }), (e: Error) => e.message.includes(join(voc, 'JPEGImages', 'zz.jpg')));
  });

  test('images of different sizes in one batch without imageSize; an RGB mask; bad options', async () => {
    const mm = await mmsegRoot('err-mixed');
    await writeImage(join(mm, 'img_dir', 'train', 'y.jpg'), H + 1, W, [1, 1, 1]);
    writeGreyPng(join(mm, 'ann_dir', 'train', 'y.png'), new Array((H + 1) * W).fill(1), H + 1, W);
    const ds = await segmentationFolder(mm, { split: 'train', layout: 'mmseg', classes: VOC_CLASSES });
    await assert.rejects(ds.getBatch([0, 1]), (e: Error) => e.message.includes('y.jpg') && /imageSize/.test(e.message));
    const one = await ds.getBatch([1]); // alone it loads at its own size
    assert.deepEqual(one.masks!.shape, [1, H + 1, W]);
    torch.dispose([one.images, one.labels, one.masks!]);
    const rgbMask = join(mm, 'ann_dir', 'train', 'x.png');
    await writeImage(rgbMask, H, W, [1, 1, 1]);
    await assert.rejects(ds.getBatch([0]), (e: Error) => e.message.includes(rgbMask) && /RGB PNG/.test(e.message));
    const o = { split: 'train', layout: 'mmseg', classes: VOC_CLASSES } as const;
    await assert.rejects(segmentationFolder(mm, { ...o, layout: 'ade' as 'mmseg' }), /layout must be 'mmseg' or 'voc'/);
    await assert.rejects(segmentationFolder(mm, { ...o, split: 'test' as 'val' }), /split must be 'train' or 'val'/);
    await assert.rejects(segmentationFolder(mm, { ...o, classes: [] }), /classes must be a non-empty array/);
    await assert.rejects(segmentationFolder(mm, { ...o, imageSize: [0, 4] }), /imageSize must be \[height, width\]/);
    await assert.rejects(segmentationFolder(mm, { ...o, size: [4, 4] } as never), /unknown option 'size'/);
    await assert.rejects(segmentationFolder(join(dir, 'nowhere'), o), /nowhere is not a folder/);
  });
});
