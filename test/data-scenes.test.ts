// The scenes benchmark (`arsenal data scenes`, src/data/scenes): a tiny set made
// from the committed fixture material (test/fixtures/scenes: six Fluent Emoji
// renders in two classes, two photo crops; make_fixture.mjs says where they come
// from), written to disk and read back through the readers a user's data goes
// through — segmentationFolder (mmseg and VOC layouts) and imageFolder (the
// crops) — with the COCO annotations checked against the masks, the ignore rule
// for hidden objects, the held-out emoji and photos, and byte-identical output
// for one seed.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { decode } from 'fast-png';
import { torch } from 'arsenal';
import * as data from '../src/data/index.js';
import type { ScenesMeta, SceneMaterial } from '../src/data/scenes/index.js';

const { scenes, segmentationFolder, imageFolder, readMaskPng } = data;
const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = join(root, 'test/fixtures/scenes');
const RULES = [
  { name: 'mammal', subcategory: 'animal-mammal', drop: ['paw prints'] },
  { name: 'fruit', subcategory: 'food-fruit' },
];

let dir = '';
let material: SceneMaterial;
let meta: ScenesMeta;
const S = 96;
// maxOverlap 1: objects may cover each other entirely, so some end up more than 70% hidden.
const opts = { train: 8, val: 4, size: S, seed: 0, maxObjects: 6, maxOverlap: 1 };

interface Coco {
  images: { id: number; file_name: string; width: number; height: number }[];
  categories: { id: number; name: string }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: number; emoji: string; segmentation: { size: number[]; counts: number[] } }[];
}
const coco = (split: string): Coco => JSON.parse(readFileSync(join(dir, 'a/annotations', `instances_${split}.json`), 'utf8'));

/** Relative path → bytes of every file under d. */
function tree(d: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (p: string): void => {
    for (const n of readdirSync(p).sort()) {
      const f = join(p, n);
      if (statSync(f).isDirectory()) walk(f);
      else out.set(relative(d, f), readFileSync(f));
    }
  };
  walk(d);
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arsenal-scenes-'));
  const photos = ['photo0.jpg', 'photo1.jpg'].map((f) => join(fixture, 'photos', f));
  material = await scenes.fluentEmojiMaterial(join(fixture, 'emoji'), join(fixture, 'emoji.json'), photos, RULES);
  meta = await scenes.generateScenes({ out: join(dir, 'a'), material, ...opts });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('emojiClasses', () => {
  test('groups emoji.json by subcategory, drops the listed names, keeps emoji with a render, in emoji.json order', () => {
    assert.deepEqual(material.classes.map((c) => c.name), ['mammal', 'fruit']);
    assert.deepEqual(material.classes[0].emoji.map((e) => e.code), ['1f415', '1f408', '1f407'], 'dog, cat, rabbit; paw prints dropped');
    assert.deepEqual(material.classes[1].emoji.map((e) => e.code), ['1f347', '1f34c', '1f34e']);
    const entries = JSON.parse(readFileSync(join(fixture, 'emoji.json'), 'utf8'));
    assert.deepEqual(scenes.emojiClasses(entries, () => true, [{ name: 'x', subcategory: 'animal-mammal', only: ['dog', 'cat'] }])[0].emoji.map((e) => e.name), ['dog', 'cat']);
    assert.throws(() => scenes.emojiClasses(entries, () => true, [{ name: 'x', subcategory: 'animal-mammal', only: ['dog', 'unicorn'] }]), /class 'x' keeps 'unicorn'/);
    assert.throws(() => scenes.emojiClasses(entries, (c) => c === '1f415', [RULES[0]]), /class 'mammal'.*1 emoji with a render; it needs at least 2/);
  });

  test('the benchmark\'s rules name real subcategories, 12 classes with folder-safe names', () => {
    assert.equal(scenes.CLASS_RULES.length, 12);
    for (const r of scenes.CLASS_RULES) assert.match(r.name, /^[a-z_]+$/);
  });
});

describe('generateScenes', () => {
  test('writes the mmseg, VOC, COCO and crop layouts and meta.json', () => {
    for (const split of ['train', 'val'] as const) {
      const n = opts[split];
      const names = Array.from({ length: n }, (_, i) => String(i).padStart(5, '0'));
      assert.deepEqual(readdirSync(join(dir, 'a/img_dir', split)), names.map((s) => `${s}.jpg`));
      assert.deepEqual(readdirSync(join(dir, 'a/ann_dir', split)), names.map((s) => `${s}.png`));
      assert.deepEqual(readFileSync(join(dir, 'a/ImageSets/Segmentation', `${split}.txt`), 'utf8').trim().split('\n'), names.map((s) => `${split}_${s}`));
      const c = coco(split);
      assert.deepEqual(c.images.map((im) => im.file_name), names.map((s) => `${s}.jpg`));
      assert.ok(c.images.every((im) => im.width === S && im.height === S));
      assert.deepEqual(c.categories, [{ id: 1, name: 'mammal', supercategory: 'object' }, { id: 2, name: 'fruit', supercategory: 'object' }]);
      assert.equal(c.annotations.length, meta.counts[split].objects);
      assert.ok(c.annotations.every((a, i) => a.id === i + 1 && a.iscrowd === 0));
    }
    assert.deepEqual(meta.classes, ['background', 'mammal', 'fruit']);
    assert.deepEqual(meta.palette, [[0, 0, 0], [128, 0, 0], [0, 128, 0]]);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'a/meta.json'), 'utf8')), meta);
    // mmseg's masks are 8-bit greyscale, VOC's the same indices in the VOC palette.
    const grey = decode(readFileSync(join(dir, 'a/ann_dir/val/00003.png'))), voc = decode(readFileSync(join(dir, 'a/SegmentationClass/val_00003.png')));
    assert.deepEqual([grey.channels, grey.depth, grey.palette, voc.channels, voc.palette?.length], [1, 8, undefined, 1, 256]);
    assert.deepEqual(voc.data, grey.data);
    // The VOC image is the mmseg image (a hard link or a copy).
    assert.deepEqual(readFileSync(join(dir, 'a/JPEGImages/val_00003.jpg')), readFileSync(join(dir, 'a/img_dir/val/00003.jpg')));
  });

  test('segmentationFolder reads both layouts alike, with meta.json\'s classes', async () => {
    for (const split of ['train', 'val'] as const) {
      const mm = await segmentationFolder(join(dir, 'a'), { split, layout: 'mmseg', classes: meta.classes });
      const voc = await segmentationFolder(join(dir, 'a'), { split, layout: 'voc', classes: meta.classes });
      assert.equal(mm.length, opts[split]);
      assert.equal(voc.length, opts[split]);
      const idx = Array.from({ length: mm.length }, (_, i) => i);
      const [a, b] = [await mm.getBatch(idx), await voc.getBatch(idx)];
      assert.deepEqual(a.images.shape, [opts[split], 3, S, S]);
      assert.ok(a.images.equal(b.images));
      assert.ok((a.masks as torch.Tensor).equal(b.masks as torch.Tensor));
      const values = new Set(Array.from((a.masks as torch.Tensor).flatten().dataSync() as BigInt64Array, Number));
      for (const v of values) assert.ok(v <= 2 || v === 255, `mask value ${v}`);
      assert.ok(values.has(1) && values.has(2) && values.has(0));
    }
  });

  test('each annotation\'s RLE is its object\'s visible pixels in the class mask; box and area follow from it', () => {
    for (const split of ['train', 'val'] as const) {
      const c = coco(split);
      for (const im of c.images) {
        const mask = readMaskPng(join(dir, 'a/ann_dir', split, im.file_name.replace('.jpg', '.png'))).data;
        const covered = new Uint8Array(S * S);
        for (const a of c.annotations.filter((x) => x.image_id === im.id)) {
          assert.deepEqual(a.segmentation.size, [S, S]);
          const m = scenes.decodeRle(a.segmentation.counts, S, S);
          let area = 0, x0 = S, y0 = S, x1 = -1, y1 = -1;
          for (let y = 0; y < S; y++) {
            for (let x = 0; x < S; x++) {
              if (!m[y * S + x]) continue;
              area++;
              [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
              assert.equal(mask[y * S + x], a.category_id, `${split} ${im.file_name} annotation ${a.id}: class mask at (${x}, ${y})`);
              assert.equal(covered[y * S + x], 0, `annotations of ${im.file_name} overlap at (${x}, ${y})`);
              covered[y * S + x] = 1;
            }
          }
          assert.equal(a.area, area);
          assert.deepEqual(a.bbox, [x0, y0, x1 - x0 + 1, y1 - y0 + 1]);
          assert.ok(area > 0);
        }
        // Every object pixel of the class mask belongs to an annotation; 0 and 255 to none.
        for (let i = 0; i < S * S; i++) assert.equal(covered[i], mask[i] >= 1 && mask[i] <= 2 ? 1 : 0, `${im.file_name} pixel ${i} (mask ${mask[i]})`);
      }
    }
  });

  test('ignore (255) pixels appear exactly when a hidden object left visible pixels', () => {
    let ignoredPixels = 0;
    for (const split of ['train', 'val'] as const) {
      let n = 0;
      for (const f of readdirSync(join(dir, 'a/ann_dir', split))) n += readMaskPng(join(dir, 'a/ann_dir', split, f)).data.filter((v) => v === 255).length;
      assert.equal(n > 0, meta.counts[split].ignored > 0, `${split}: ${n} ignore pixels, ${meta.counts[split].ignored} hidden objects with visible pixels`);
      ignoredPixels += n;
    }
    assert.ok(ignoredPixels > 0, 'this set (maxOverlap 1) has hidden objects: the rule is exercised');
  });

  test('the emoji and photos of val are held out of train; annotations use their split\'s emoji', () => {
    for (const [ci, c] of material.classes.entries()) {
      const { train, val } = meta.emoji[c.name];
      assert.equal(train.length, 2);
      assert.equal(val.length, 1, 'a quarter of 3, at least 1');
      assert.deepEqual([...train, ...val].sort(), c.emoji.map((e) => e.code).sort());
      for (const split of ['train', 'val'] as const) {
        for (const a of coco(split).annotations.filter((x) => x.category_id === ci + 1)) assert.ok(meta.emoji[c.name][split].includes(a.emoji), `${split} annotation ${a.id} uses ${a.emoji}`);
      }
    }
    assert.equal(meta.photos.train.length, 1);
    assert.equal(meta.photos.val.length, 1);
    assert.notEqual(meta.photos.train[0], meta.photos.val[0]);
  });

  test('imageFolder reads the crops: one per annotation, in its class folder', async () => {
    for (const split of ['train', 'val'] as const) {
      const c = coco(split);
      const ds = await imageFolder(join(dir, 'a/crops', split)) as unknown as { length: number; classes: string[]; files: string[]; targets: Int32Array; size: number[] };
      assert.deepEqual(ds.classes, ['fruit', 'mammal'], 'ImageFolder sorts the class folders');
      assert.equal(ds.length, c.annotations.length);
      assert.deepEqual(ds.size, [64, 64]);
      const byId = new Map(c.annotations.map((a) => [a.id, a]));
      ds.files.forEach((f, i) => {
        const a = byId.get(Number(f.split('/').pop()?.replace('.png', '')));
        assert.ok(a, f);
        assert.equal(meta.classes[a.category_id], ds.classes[ds.targets[i]]);
      });
    }
  });

  test('one seed gives the same bytes, whatever the batch size; another seed other scenes', async () => {
    await scenes.generateScenes({ out: join(dir, 'b'), material, ...opts, batchSize: 3 });
    const [a, b] = [tree(join(dir, 'a')), tree(join(dir, 'b'))];
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [k, v] of a) assert.ok(v.equals(b.get(k) as Buffer), k);
    await scenes.generateScenes({ out: join(dir, 'c'), material, ...opts, seed: 1 });
    assert.ok(!readFileSync(join(dir, 'c/img_dir/train/00000.jpg')).equals(a.get('img_dir/train/00000.jpg') as Buffer));
  });

  test('refuses a folder that holds a dataset unless told to overwrite; bad options name the option', async () => {
    await assert.rejects(scenes.generateScenes({ out: join(dir, 'b'), material, ...opts }), /already holds a dataset/);
    await assert.rejects(scenes.generateScenes({ out: join(dir, 'd'), material, ...opts, maxOverlap: 2 }), /scenes\.maxOverlap: expected a value in \[0, 1\]/);
    await assert.rejects(scenes.generateScenes({ out: join(dir, 'd'), material, ...opts, objectSize: [40, 20] }), /scenes\.objectSize/);
    await assert.rejects(scenes.generateScenes({ out: join(dir, 'd'), material: { ...material, photos: material.photos.slice(0, 1) }, ...opts }), /photo list has 1 item/);
  });
  test('sizes above 256: the texture pyramid grows with the largest object (to the renders\' 256 px); beyond that the error names size and objectSize', async () => {
    assert.deepEqual(scenes.textureLevels(96), [128, 64, 32]);
    assert.deepEqual(scenes.textureLevels(129), [256, 128, 64, 32]);
    assert.throws(() => scenes.textureLevels(257), /at most the emoji renders' 256 px/);
    // size 300: objects up to 150 px by default, more than the old fixed 128-px texture.
    const big = { train: 2, val: 2, size: 300, seed: 0, maxObjects: 2, batchSize: 2 };
    const m = await scenes.generateScenes({ out: join(dir, 'big'), material, ...big });
    assert.deepEqual(m.options.objectSize, [25, 150]);
    const mask = readMaskPng(join(dir, 'big/ann_dir/train/00000.png'));
    assert.deepEqual([mask.height, mask.width], [300, 300]);
    assert.ok(m.counts.train.objects + m.counts.val.objects > 0);
    await assert.rejects(scenes.generateScenes({ out: join(dir, 'e'), material, ...big, size: 600 }), /scenes\.objectSize: the largest object, 300 px \(by default 96·size\/192, at size 600 \(--size\)\), is larger than the emoji renders \(256 px.*hi ≤ 256 or a size of at most 512/);
    await assert.rejects(scenes.generateScenes({ out: join(dir, 'e'), material, ...big, objectSize: [20, 280] }), /scenes\.objectSize: the largest object, 280 px, is larger than the emoji renders \(256 px, never enlarged\); give objectSize \[lo, hi\] with hi ≤ 256$/);
  });
});

describe('composeScenes', () => {
  test('an object more than 70% hidden is not annotated and its visible pixels are ignore; one less hidden is kept', async () => {
    const bank = await scenes.loadEmojiBank(material.classes.flatMap((c) => c.emoji.map((e) => e.file)));
    try {
      const plan = (backDx: number): data.scenes.ScenePlan => ({
        photo: 0, crop: { x: 0, y: 0, side: S }, flip: false, brightness: 1, contrast: 1, saturation: 1, drawn: 2,
        objects: [
          { cls: 0, emoji: 0, size: 40, angle: 0, flip: false, cx: 48 + backDx, cy: 48 }, // behind
          { cls: 1, emoji: 3, size: 56, angle: 0, flip: false, cx: 48, cy: 48 },
        ],
      });
      const bg = torch.full([2, 3, S, S], 100);
      const out = scenes.composeScenes([plan(6), plan(30)], bg, bank, { size: S, maxHidden: 0.7, cropSize: 64, cropPad: 0.1, levels: scenes.textureLevels(56), maxObjectSize: 56 });
      const count = (b: number, v: number): number => out.masks.subarray(b * S * S, (b + 1) * S * S).filter((x) => x === v).length;
      const [hidden, front] = out.objects[0];
      assert.ok(hidden.visible > 0 && hidden.visible < 0.3 * hidden.full, `${hidden.visible} of ${hidden.full} visible`);
      assert.equal(hidden.kept, false);
      assert.equal(count(0, 255), hidden.visible, 'the hidden object\'s visible pixels are ignore');
      assert.equal(count(0, 1), 0);
      assert.equal(front.kept, true);
      assert.equal(count(0, 2), front.visible);
      const [back] = out.objects[1];
      assert.ok(back.kept && back.visible < back.full, 'partly hidden, kept');
      assert.equal(count(1, 255), 0);
      assert.equal(count(1, 1), back.visible);
      assert.equal(out.crops.length, 3 * 64 * 64 * 3, 'crops of the kept objects only');
      bg.dispose();
    } finally {
      bank.textures.forEach((t) => t.dispose());
    }
  });
});

test('arsenal data scenes: a class without renders is an error naming it, with exit status 1', () => {
  const r = spawnSync(process.execPath, [join(root, 'dist/src/commands/main.js'), 'data', 'scenes', '--out', join(dir, 'cli'),
    '--emoji', join(fixture, 'emoji'), '--emoji-json', join(fixture, 'emoji.json'), '--backgrounds', join(fixture, 'photos')], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^arsenal: emojiClasses: class 'bird' \(subcategory 'animal-bird'\) has 0 emoji with a render/m);
  const u = spawnSync(process.execPath, [join(root, 'dist/src/commands/main.js'), 'data', 'scenes'], { cwd: root, encoding: 'utf8' });
  assert.equal(u.status, 1);
  assert.match(u.stderr, /--out DIR is required/);
});
