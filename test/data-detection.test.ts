// Detection data: COCO json, Pascal VOC xml and YOLO txt read into one
// DetectionDataset. The same two boxes written in the three formats read back
// as the same xyxy pixel boxes and labels; COCO's category ids map to labels
// 0..K−1 and back; images without boxes are kept; each bad input (a box
// outside its image, a degenerate box, an unknown class, a missing image,
// malformed XML, a YOLO line with the wrong number of fields) is an error
// naming it, or with onBadBox 'drop' a counted drop; imageSize scales the boxes;
// the COCO json `arsenal data scenes` writes reads back with its boxes.
// Fixtures are written into a temporary folder (images by sharp).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { torch, type Tensor } from 'arsenal';
import * as data from '../src/data/index.js';
import { Mosaic } from '../src/augment/sample/mosaic.js';
import { Rng } from '../src/data/rng.js';

const { cocoDetection, vocDetection, yoloDetection, cocoResults, DataLoader } = data;

const W = 40, H = 30;
// Classes in label order; COCO gives them non-contiguous ids whose ascending order is this order.
const CLASSES = ['dog', 'cat', 'bird'];
const CAT_IDS = { dog: 3, cat: 7, bird: 12 };
// Image a: a cat [4, 6, 20, 18] and a dog [10, 2, 38, 28] (xyxy, continuous pixels); the dog is crowd / difficult.
const CAT_BOX = [4, 6, 20, 18], DOG_BOX = [10, 2, 38, 28];

let dir = '';
const floats = (t: Tensor): number[] => Array.from(t.to('float64').dataSync() as Float64Array);
const ints = (t: Tensor): number[] => Array.from(t.to('int32').dataSync() as Int32Array);
function close(a: number[], b: number[], tol = 1e-4, msg = ''): void {
  assert.equal(a.length, b.length, `${msg}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol, `${msg}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`));
}

async function writeImage(file: string, w: number, h: number, v: number): Promise<void> {
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: v, g: 255 - v, b: 60 } } });
  await (file.endsWith('.png') ? img.png() : img.jpeg({ quality: 100 })).toFile(file);
}

const xywh = (b: number[]): number[] => [b[0], b[1], b[2] - b[0], b[3] - b[1]];
interface CocoJson { images: object[]; annotations: Record<string, unknown>[]; categories: object[] }
function cocoJson(): CocoJson {
  return {
    images: [
      { id: 1, file_name: 'a.png', width: W, height: H },
      { id: 2, file_name: 'b.png', width: W, height: H },
    ],
    annotations: [
      { id: 11, image_id: 1, category_id: CAT_IDS.cat, bbox: xywh(CAT_BOX), area: 150.5, iscrowd: 0, segmentation: [[4, 6, 20, 6, 20, 18, 4, 18]] },
      { id: 12, image_id: 1, category_id: CAT_IDS.dog, bbox: xywh(DOG_BOX), iscrowd: 1, segmentation: { size: [H, W], counts: 'PPYo0' } },
    ],
    // Not sorted by id, to show the labels follow ascending ids.
    categories: [{ id: 7, name: 'cat' }, { id: 12, name: 'bird' }, { id: 3, name: 'dog' }],
  };
}
/** Writes a COCO json into dir/coco (images a.png, b.png there) and returns its path. */
function writeCoco(name: string, json: object): string {
  const f = join(dir, 'coco', name);
  writeFileSync(f, JSON.stringify(json));
  return f;
}

function vocXml(objects: { name: string; box: number[]; difficult?: number; truncated?: number }[], size = true): string {
  const obj = objects.map((o) => `<object><name>${o.name}</name><pose>Unspecified</pose><truncated>${o.truncated ?? 0}</truncated><difficult>${o.difficult ?? 0}</difficult>` +
    `<bndbox><xmin>${o.box[0]}</xmin><ymin>${o.box[1]}</ymin><xmax>${o.box[2]}</xmax><ymax>${o.box[3]}</ymax></bndbox></object>`).join('\n  ');
  return `<annotation>\n  <folder>VOC2007</folder><filename>x.jpg</filename>\n  ${size ? `<size><width>${W}</width><height>${H}</height><depth>3</depth></size>` : ''}\n  ${obj}\n</annotation>\n`;
}
// VOC's 1-based inclusive pixel indices of a continuous box: xmin = x1 + 1, xmax = x2.
const voc = (b: number[]): number[] => [b[0] + 1, b[1] + 1, b[2], b[3]];

const yolo = (cls: number, b: number[]): string => `${cls} ${(b[0] + b[2]) / 2 / W} ${(b[1] + b[3]) / 2 / H} ${(b[2] - b[0]) / W} ${(b[3] - b[1]) / H}`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arsenal-det-'));
  for (const d of ['coco', 'voc/Annotations', 'voc/JPEGImages', 'voc/ImageSets/Main', 'yolo/images/train', 'yolo/labels/train', 'yolo/images/bad', 'yolo/labels/bad']) mkdirSync(join(dir, d), { recursive: true });
  await Promise.all([
    writeImage(join(dir, 'coco/a.png'), W, H, 10), writeImage(join(dir, 'coco/b.png'), W, H, 200),
    writeImage(join(dir, 'voc/JPEGImages/a.jpg'), W, H, 10), writeImage(join(dir, 'voc/JPEGImages/b.jpg'), W, H, 200),
    writeImage(join(dir, 'yolo/images/train/a.png'), W, H, 10), writeImage(join(dir, 'yolo/images/train/b.png'), W, H, 200),
    writeImage(join(dir, 'yolo/images/bad/a.png'), W, H, 10),
  ]);
  writeCoco('instances.json', cocoJson());
  // b.xml has no <size> (read from the image) and no objects.
  writeFileSync(join(dir, 'voc/Annotations/a.xml'), vocXml([{ name: 'cat', box: voc(CAT_BOX), truncated: 1 }, { name: 'dog', box: voc(DOG_BOX), difficult: 1 }]));
  writeFileSync(join(dir, 'voc/Annotations/b.xml'), vocXml([], false));
  writeFileSync(join(dir, 'voc/ImageSets/Main/train.txt'), 'a\nb\n');
  // b has no label file.
  writeFileSync(join(dir, 'yolo/labels/train/a.txt'), `${yolo(1, CAT_BOX)}\n${yolo(0, DOG_BOX)}\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const coco = (file = 'instances.json', o: Partial<data.CocoDetectionOptions> = {}) => cocoDetection(join(dir, 'coco', file), { imageDir: join(dir, 'coco'), ...o });

describe('the three formats', () => {
  test('give the same boxes and labels for the same image; an image without boxes is kept', async () => {
    const sets = [await coco(), await vocDetection(join(dir, 'voc'), { split: 'train', classes: CLASSES }), await yoloDetection(join(dir, 'yolo'), { split: 'train', names: CLASSES })];
    for (const ds of sets) {
      assert.equal(ds.length, 2, ds.format);
      assert.deepEqual(ds.classes, CLASSES, ds.format);
      assert.deepEqual(ds.names, ['a', 'b'], ds.format);
      const b = await ds.getBatch([0, 1]);
      assert.deepEqual(b.images.shape, [2, 3, H, W]);
      assert.equal(b.images.dtype, 'uint8');
      assert.deepEqual(b.sizes, [[H, W], [H, W]]);
      close(floats(b.boxes[0]), [...CAT_BOX, ...DOG_BOX], 1e-4, ds.format);
      assert.equal(b.boxes[0].dtype, 'float32');
      assert.deepEqual(b.boxes[0].shape, [2, 4]);
      assert.deepEqual(ints(b.boxLabels[0]), [1, 0], ds.format);
      assert.equal(b.boxLabels[0].dtype, 'int64');
      assert.deepEqual(b.boxes[1].shape, [0, 4], `${ds.format}: image b has no boxes`);
      assert.deepEqual(b.boxLabels[1].shape, [0]);
      assert.equal(b.ignore[0].dtype, 'bool');
      // COCO iscrowd and VOC difficult are the ignore flag; YOLO has none.
      assert.deepEqual(ints(b.ignore[0]), ds.format === 'yolo' ? [0, 0] : [0, 1], ds.format);
      // Areas: COCO's own (150.5) and w·h where the json has none; VOC and YOLO: w·h.
      close(floats(b.area[0]), [ds.format === 'coco' ? 150.5 : 192, 28 * 26], 1e-3, ds.format);
      assert.deepEqual(b.imageIds, ds.format === 'coco' ? [1, 2] : ['a', 'b']);
      assert.deepEqual(ints(b.labels), [0, 0]);
      // Boxes per class, ignored boxes (the crowd / difficult dog) not counted.
      assert.deepEqual(ds.classCounts(), ds.format === 'yolo' ? [1, 1, 0] : [0, 1, 0], ds.format);
      assert.deepEqual(ds.dropped.counts, { degenerate: 0, outside: 0, unknownClass: 0 });
    }
    // The same pixels from PNG and from the VOC JPEG (quality 100: within a few levels).
    const [a, v] = [await sets[0].getBatch([0]), await sets[1].getBatch([0])];
    assert.ok(a.images.to('float32').sub(v.images.to('float32')).abs().max().item() <= 4);
  });

  test('getSample gives the sample format without the ignored boxes, and feeds Mosaic', async () => {
    const ds = await coco();
    const s = await ds.getSample(0);
    assert.deepEqual(s.image.shape, [3, H, W]);
    close(floats(s.boxes!), CAT_BOX);
    assert.deepEqual(ints(s.boxLabels!), [1]);
    data.checkSample(s, 'test');
    const out = new Mosaic({ imgScale: [H, W] }).apply([s, await ds.getSample(1), s, s], new Rng(3));
    assert.deepEqual(out.image.shape, [3, 2 * H, 2 * W]);
    assert.ok(out.boxes!.shape[0] >= 1 && out.boxes!.shape[1] === 4);
  });

  test('a DataLoader gives the detection batch', async () => {
    const ds = await yoloDetection(join(dir, 'yolo'), { split: 'train', names: CLASSES });
    const seen: number[] = [];
    for await (const b of new DataLoader(ds, { batchSize: 2 })) seen.push(...(b as data.DetectionBatch).boxes.map((t) => t.shape[0]));
    assert.deepEqual(seen, [2, 0]);
  });

  test('imageSize resizes the image and scales its boxes; areas and sizes stay the stored image\'s', async () => {
    const size: [number, number] = [60, 20]; // H ×2, W ×0.5
    for (const ds of [await coco('instances.json', { imageSize: size }), await yoloDetection(join(dir, 'yolo'), { split: 'train', names: CLASSES, imageSize: size })]) {
      const b = await ds.getBatch([0]);
      assert.deepEqual(b.images.shape, [1, 3, 60, 20]);
      close(floats(b.boxes[0]), [2, 12, 10, 36, 5, 4, 19, 56], 1e-4, ds.format);
      assert.deepEqual(b.sizes, [[H, W]]);
      close(floats(b.area[0]).slice(1), [28 * 26], 1e-3);
      const s = await ds.getSample(0);
      assert.deepEqual(s.image.shape, [3, 60, 20]);
      close(floats(s.boxes!).slice(0, 4), [2, 12, 10, 36]);
    }
  });

  test('without imageSize, images of different sizes in one batch are an error naming both', async () => {
    await writeImage(join(dir, 'coco/c.png'), 20, 10, 50);
    const j = cocoJson();
    j.images.push({ id: 3, file_name: 'c.png', width: 20, height: 10 });
    const ds = await cocoDetection(writeCoco('sizes.json', j), { imageDir: join(dir, 'coco') });
    await assert.rejects(ds.getBatch([0, 2]), /c\.png is 20x10 \(WxH\), but .*a\.png in the same batch is 40x30; give imageSize/);
    assert.deepEqual((await ds.getBatch([2])).images.shape, [1, 3, 10, 20]);
  });
});

describe('COCO json', () => {
  test('category ids map to labels 0..K−1 in ascending order, and back; results are written with the json\'s ids', async () => {
    const ds = await coco();
    assert.deepEqual(ds.categories.ids, [3, 7, 12]);
    assert.deepEqual(ds.categories.names, CLASSES);
    assert.deepEqual([3, 7, 12, 5].map((id) => ds.categories.label(id)), [0, 1, 2, -1]);
    assert.deepEqual([0, 1, 2].map((l) => ds.categories.categoryId(l)), [3, 7, 12]);
    assert.throws(() => ds.categories.categoryId(3), /label 3 is not in \[0, 3\)/);
    const r = cocoResults(1, [4, 6, 20, 18, 0, 0, 10, 5], [0.9, 0.2], [1, 2], ds.categories);
    assert.deepEqual(r, [{ image_id: 1, category_id: 7, bbox: [4, 6, 16, 12], score: 0.9 }, { image_id: 1, category_id: 12, bbox: [0, 0, 10, 5], score: 0.2 }]);
  });

  test('keeps annotation ids, polygons and RLE (compressed and uncompressed counts) as the json has them', async () => {
    const j = cocoJson();
    j.annotations.push({ id: 13, image_id: 2, category_id: 12, bbox: [0, 0, 2, 2], segmentation: { size: [H, W], counts: [0, 2, 28, 2, 1168] } });
    const ds = await cocoDetection(writeCoco('seg.json', j), { imageDir: join(dir, 'coco') });
    assert.deepEqual(ds.record(0).annotationIds, [11, 12]);
    assert.deepEqual(ds.record(0).segmentation, [j.annotations[0].segmentation, j.annotations[1].segmentation]);
    assert.deepEqual(ds.record(1).segmentation, [{ size: [H, W], counts: [0, 2, 28, 2, 1168] }]);
    assert.deepEqual(ds.record(1).fileName, 'b.png');
    const bad = cocoJson();
    bad.annotations[1].segmentation = { size: [H + 1, W], counts: 'x' };
    await assert.rejects(cocoDetection(writeCoco('seg-bad.json', bad), { imageDir: join(dir, 'coco') }), /annotation 12 \(image 1, a\.png\): segmentation RLE size \[31,40\] is not the image's \[30, 40\]/);
  });

  test('a box outside the image, a degenerate box, an unknown category: errors naming the file, image and box', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ bbox: [50, 5, 4, 4] }, /bad\.json: annotation 11 \(image 1, a\.png\), bbox \[50, 5, 4, 4\] \(x, y, w, h\) lies outside the image \(the image is 40x30\); onBadBox: 'drop'/],
      [{ bbox: [5, 5, 0, 4] }, /bad\.json: annotation 11 \(image 1, a\.png\), bbox \[5, 5, 0, 4\] \(x, y, w, h\) is degenerate/],
      [{ bbox: [5, 5, -3, 4] }, /bbox \[5, 5, -3, 4\] .*is degenerate/],
      [{ category_id: 99 }, /annotation 11 \(image 1, a\.png\), bbox \[4, 6, 16, 12\] \(x, y, w, h\) has an unknown class \(category_id 99; the categories are 3, 7, 12\)/],
    ];
    for (const [patch, re] of cases) {
      const j = cocoJson();
      Object.assign(j.annotations[0], patch);
      const f = writeCoco('bad.json', j);
      await assert.rejects(cocoDetection(f, { imageDir: join(dir, 'coco'), onBadBox: 'error' }), re);
      // 'drop' (the default): dropped, counted, logged once; the other box stays.
      const lines: string[] = [];
      const ds = await cocoDetection(f, { imageDir: join(dir, 'coco'), log: (l) => lines.push(l) });
      const reason = patch.category_id ? 'unknownClass' : patch.bbox && (patch.bbox as number[])[0] === 50 ? 'outside' : 'degenerate';
      assert.deepEqual(ds.dropped.counts, { degenerate: 0, outside: 0, unknownClass: 0, [reason]: 1 });
      assert.equal(lines.length, 1);
      assert.match(lines[0], new RegExp(`cocoDetection: dropped 1 boxes \\(1 ${reason}; e\\.g\\. .*annotation 11`));
      assert.deepEqual(ds.record(0).annotationIds, [12]);
      close(floats((await ds.getBatch([0])).boxes[0]), DOG_BOX);
    }
  });

  test('a box partly outside its image is clipped to it and counted', async () => {
    const j = cocoJson();
    j.annotations[0].bbox = [30, 20, 20, 20];
    const ds = await cocoDetection(writeCoco('clip.json', j), { imageDir: join(dir, 'coco'), onBadBox: 'error' });
    assert.equal(ds.dropped.clipped, 1);
    close(floats((await ds.getBatch([0])).boxes[0]).slice(0, 4), [30, 20, 40, 30]);
  });

  test('a missing image, an annotation of an unknown image, a bad bbox, a size that is not the file\'s: errors naming them', async () => {
    const j = cocoJson();
    j.images.push({ id: 5, file_name: 'nope.png', width: W, height: H });
    await assert.rejects(cocoDetection(writeCoco('missing.json', j), { imageDir: join(dir, 'coco') }), /the image of image 5 \(nope\.png\) in .*missing\.json is missing: no file .*coco\/nope\.png/);
    const k = cocoJson();
    k.annotations[0].image_id = 77;
    await assert.rejects(cocoDetection(writeCoco('orphan.json', k), { imageDir: join(dir, 'coco') }), /orphan\.json: annotation 11 refers to image 77, which is not in 'images'/);
    const m = cocoJson();
    m.annotations[1].bbox = [1, 2, 3];
    await assert.rejects(cocoDetection(writeCoco('bbox.json', m), { imageDir: join(dir, 'coco') }), /annotation 12 \(image 1, a\.png\): bbox must be \[x, y, w, h\] \(4 numbers\), got \[1,2,3\]/);
    const s = cocoJson();
    (s.images[0] as { width: number }).width = 41;
    delete s.annotations[1].segmentation; // its RLE size would be refused first
    const ds = await cocoDetection(writeCoco('size.json', s), { imageDir: join(dir, 'coco') });
    await assert.rejects(ds.getBatch([0]), /cannot read .*a\.png: the annotations give image 1 the size 41x30 \(WxH\), but the file is 40x30/);
    writeFileSync(join(dir, 'coco', 'broken.json'), '{"images": [');
    await assert.rejects(cocoDetection(join(dir, 'coco', 'broken.json'), { imageDir: join(dir, 'coco') }), /broken\.json is not valid JSON/);
    await assert.rejects(cocoDetection(join(dir, 'coco', 'instances.json'), { imageDir: join(dir, 'coco'), onBadBox: 'skip' as 'drop' }), /onBadBox must be 'error' or 'drop'/);
    await assert.rejects(cocoDetection(join(dir, 'coco', 'instances.json'), { imageDir: join(dir, 'coco'), size: [2, 2] } as never), /unknown option 'size'/);
  });
});

describe('Pascal VOC xml', () => {
  test('difficult is the ignore flag, truncated is kept, a missing <size> is read from the image; minusOne \'all\' gives mmdet 3.x\'s boxes', async () => {
    const ds = await vocDetection(join(dir, 'voc'), { split: 'train', classes: CLASSES });
    assert.deepEqual(Array.from(ds.record(0).truncated), [1, 0]);
    assert.deepEqual(Array.from(ds.record(0).ignore), [0, 1]);
    assert.deepEqual(ds.record(1).size, [H, W]);
    const mm = await vocDetection(join(dir, 'voc'), { split: 'train', classes: CLASSES, minusOne: 'all' });
    close(floats((await mm.getBatch([0])).boxes[0]), [4, 6, 19, 17, 10, 2, 37, 27]);
    // VOC's 20 classes by default: 'cat' is label 7, 'dog' 11.
    const d20 = await vocDetection(join(dir, 'voc'), { split: 'train' });
    assert.deepEqual(Array.from(d20.record(0).labels), [7, 11]);
    assert.equal(d20.classes.length, 20);
  });

  test('malformed XML, a missing image or annotation, an unknown class, a box outside: errors naming the file', async () => {
    const root = join(dir, 'voc-bad');
    for (const d of ['Annotations', 'JPEGImages', 'ImageSets/Main']) mkdirSync(join(root, d), { recursive: true });
    await writeImage(join(root, 'JPEGImages/a.jpg'), W, H, 10);
    writeFileSync(join(root, 'ImageSets/Main/train.txt'), 'a\n');
    writeFileSync(join(root, 'Annotations/a.xml'), '<annotation>\n<object><name>cat</name>\n</annotation>\n');
    await assert.rejects(vocDetection(root, { split: 'train', classes: CLASSES }), /vocDetection: .*voc-bad\/Annotations\/a\.xml is malformed XML: Expected closing tag 'object'.*\(line 3/);
    writeFileSync(join(root, 'Annotations/a.xml'), vocXml([{ name: 'cat', box: [1, 1, 'x' as unknown as number, 4] }]));
    await assert.rejects(vocDetection(root, { split: 'train', classes: CLASSES }), /a\.xml: object 1 \('cat'\): <bndbox><xmax> must be a number, got "x"/);
    writeFileSync(join(root, 'Annotations/a.xml'), vocXml([{ name: 'cow', box: [1, 1, 4, 4] }, { name: 'cat', box: [41, 1, 45, 4] }, { name: 'cat', box: [5, 5, 4, 9] }]));
    await assert.rejects(vocDetection(root, { split: 'train', classes: CLASSES, onBadBox: 'error' }), /a\.xml: object 1 \('cow'\), bndbox \[1, 1, 4, 4\] \(xmin, ymin, xmax, ymax\) has an unknown class \(the classes are dog, cat, bird\)/);
    const ds = await vocDetection(root, { split: 'train', classes: CLASSES });
    assert.deepEqual(ds.dropped.counts, { unknownClass: 1, outside: 1, degenerate: 1 });
    assert.match(ds.dropped.examples[1], /object 2 \('cat'\), bndbox \[41, 1, 45, 4\] .*lies outside the image \(the image is 40x30\)/);
    writeFileSync(join(root, 'ImageSets/Main/train.txt'), 'a\nzz\n');
    await assert.rejects(vocDetection(root, { split: 'train', classes: CLASSES }), /the image of 'zz' \(listed in .*train\.txt\) is missing: no file .*JPEGImages\/zz\.jpg/);
    await writeImage(join(root, 'JPEGImages/zz.jpg'), W, H, 10);
    await assert.rejects(vocDetection(root, { split: 'train', classes: CLASSES }), /no annotation for 'zz' .*: expected .*Annotations\/zz\.xml/);
    await assert.rejects(vocDetection(root, { split: 'val', classes: CLASSES }), /cannot read the split list .*ImageSets\/Main\/val\.txt/);
  });
});

describe('YOLO txt', () => {
  test('a line with the wrong number of fields, a field that is not a number, a class outside the names: errors naming file and line', async () => {
    const root = join(dir, 'yolo');
    const label = join(root, 'labels/bad/a.txt');
    const cases: [string, RegExp][] = [
      ['0 0.5 0.5 0.2\n', /labels\/bad\/a\.txt: line 1 has 4 fields \('0 0\.5 0\.5 0\.2'\); expected 5 \(class cx cy w h\) or a polygon/],
      [`${yolo(1, CAT_BOX)}\n0 0.5 0.5 0.2 0.2 0.1\n`, /a\.txt: line 2 has 6 fields/],
      ['0 0.5 abc 0.2 0.2\n', /a\.txt: line 1: field 3 \('abc'\) is not a number/],
      ['5 0.5 0.5 0.2 0.2\n', /a\.txt: line 1 \('5 0\.5 0\.5 0\.2 0\.2'\) has an unknown class \(class 5; the names are 0\.\.2\)/],
      ['0 0.5 0.5 0 0.2\n', /a\.txt: line 1 \('0 0\.5 0\.5 0 0\.2'\) is degenerate/],
      ['0 1.5 0.5 0.2 0.2\n', /a\.txt: line 1 \('0 1\.5 0\.5 0\.2 0\.2'\) lies outside the image/],
    ];
    for (const [text, re] of cases) {
      writeFileSync(label, text);
      await assert.rejects(yoloDetection(root, { split: 'bad', names: CLASSES, onBadBox: 'error' }), re);
    }
    // A polygon line is read as its bounding box; names as data.yaml's map.
    writeFileSync(label, '2 0.1 0.2 0.5 0.1 0.3 0.6\n\n');
    const ds = await yoloDetection(root, { split: 'bad', names: { 0: 'dog', 1: 'cat', 2: 'bird' } });
    assert.deepEqual(ds.classes, CLASSES);
    close(floats((await ds.getBatch([0])).boxes[0]), [0.1 * W, 0.1 * H, 0.5 * W, 0.6 * H]);
    assert.deepEqual(ds.record(0).labelFile, label);
    await assert.rejects(yoloDetection(root, { split: 'nope', names: CLASSES }), /images\/nope is not a folder/);
    await assert.rejects(yoloDetection(root, { split: 'bad', names: { 0: 'a', 2: 'b' } }), /names as a map must have the keys 0\.\.1/);
  });
});

describe('scenes', () => {
  // The committed scenes fixture (test/fixtures/scenes, as in data-scenes.test.ts).
  const fixture = join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/scenes');
  test('the COCO json `arsenal data scenes` writes reads back with its boxes', async () => {
    const rules = [{ name: 'mammal', subcategory: 'animal-mammal', drop: ['paw prints'] }, { name: 'fruit', subcategory: 'food-fruit' }];
    const material = await data.scenes.fluentEmojiMaterial(join(fixture, 'emoji'), join(fixture, 'emoji.json'), ['photo0.jpg', 'photo1.jpg'].map((f) => join(fixture, 'photos', f)), rules);
    const out = join(dir, 'scenes');
    await data.scenes.generateScenes({ out, material, train: 1, val: 3, size: 64, seed: 1, maxObjects: 4 });
    const annFile = join(out, 'annotations/instances_val.json');
    const json = JSON.parse((await import('node:fs')).readFileSync(annFile, 'utf8')) as { annotations: { image_id: number; category_id: number; bbox: number[]; area: number; segmentation: unknown }[] };
    assert.ok(json.annotations.length > 0);
    const ds = await cocoDetection(annFile, { imageDir: join(out, 'img_dir/val'), onBadBox: 'error' });
    assert.deepEqual(ds.classes, ['mammal', 'fruit']);
    assert.deepEqual(ds.categories.ids, [1, 2]);
    assert.equal(ds.dropped.clipped, 0);
    const b = await ds.getBatch([0, 1, 2]);
    assert.deepEqual(b.images.shape, [3, 3, 64, 64]);
    assert.deepEqual(b.imageIds, [1, 2, 3]);
    b.imageIds.forEach((id, k) => {
      const anns = json.annotations.filter((a) => a.image_id === id);
      close(floats(b.boxes[k]), anns.flatMap((a) => [a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]]), 1e-4, `image ${id}`);
      assert.deepEqual(ints(b.boxLabels[k]), anns.map((a) => a.category_id - 1));
      close(floats(b.area[k]), anns.map((a) => a.area));
      assert.deepEqual(ds.record(k).segmentation, anns.map((a) => a.segmentation));
    });
  });
});

test('no tensor is left behind by a batch once it is disposed', async () => {
  const ds = await coco();
  const before = torch.memory().tensors;
  const b = await ds.getBatch([0, 1]);
  torch.dispose([b.images, b.labels, ...b.boxes, ...b.boxLabels, ...b.ignore, ...b.area]);
  assert.equal(torch.memory().tensors, before);
});
