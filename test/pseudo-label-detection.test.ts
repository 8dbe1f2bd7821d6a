// Pseudo-boxes (src/tasks/detection/pseudo.ts and src/data/box_dataset.ts through
// src/commands/pseudo_label.ts): the labelled share is a seeded draw of images; the pool
// is selected batch by batch, a box kept when it scores at least the threshold, an image
// kept when it has a kept box; the kept boxes are scored against the pool's true boxes
// (same class, IoU ≥ 0.5); the student trains on the labelled images' true boxes and the
// kept images' pseudo-boxes, in the pixels of the images the training set gives. The data
// is a tiny COCO set written here (as in detection-task.test.ts), resized to 32×32 where
// the frame matters. Assertions are on what the code must do for any weights (selections
// constructed by hand, a teacher that predicts the true boxes, counts under threshold 0),
// never on what a short run reaches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, data, tasks, type Tensor } from 'arsenal';
import { CLASSES, writeCocoSquares, tinyDetectionConfig } from './helpers/coco_squares.js';
import { pseudoLabel, labelRepeats } from '../src/commands/pseudo_label.js';
import { BoxDataset } from '../src/data/box_dataset.js';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-detpseudo-')); made.push(d); return d; };

let root = '';

before(async () => {
  root = tmp();
  await writeCocoSquares(root);
});

const config = (): tasks.DetectionConfig => tinyDetectionConfig(root);
/** The training set as the task gives it, its 64×64 images resized to 32×32 (boxes scaled with them). */
const halfTrain = async () => (await tasks.detection.datasets({ ...config(), data: { ...config().data, imageSize: [32, 32] } })).train;

const pseudo = () => tasks.detection.pseudo!;
const floats = (t: Tensor): number[] => Array.from(t.float().contiguous().dataSync() as Float32Array);
const close = (a: number[], b: number[], tol = 1e-5, msg = '') => {
  assert.equal(a.length, b.length, `${msg}: [${a}] vs [${b}]`);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol, `${msg}: [${a}] vs [${b}]`));
};
const dets = (boxes: number[][], scores: number[], labels: number[]) => ({
  boxes: torch.tensor(boxes.flat(), { dtype: 'float32' }).reshape(boxes.length, 4), scores: torch.tensor(scores, { dtype: 'float32' }), labels: torch.tensor(labels, { dtype: 'int64' }),
});
const truth = (boxes: number[][], labels: number[], ignore?: boolean[]): tasks.DetTarget => ({
  boxes: torch.tensor(boxes.flat(), { dtype: 'float32' }).reshape(boxes.length, 4), labels: torch.tensor(labels, { dtype: 'int64' }), ...(ignore ? { ignore: torch.tensor(ignore.map(Number), { dtype: 'bool' }) } : {}),
});

test('the labelled share is a seeded draw of images, a function of the seed', () => {
  const p = pseudo();
  assert.equal(p.splitRule, 'of the images');
  const ds = { length: 40, classes: CLASSES, classCounts: () => [1, 1], getBatch: () => { throw new Error('not read'); } };
  const [lab, pool] = p.split(ds, 0.25, 42);
  assert.equal(lab.length, 10);
  assert.deepEqual([...lab, ...pool].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
  assert.deepEqual(lab, [...lab].sort((a, b) => a - b));
  assert.deepEqual(p.split(ds, 0.25, 42), [lab, pool]);
  assert.notDeepEqual(p.split(ds, 0.25, 7)[0], lab);
  assert.throws(() => p.split(ds, 0, 42), /labelledShare must be in \(0, 1\)/);
});

test('the selection keeps exactly the boxes at or above the threshold; precision and recall against the true boxes', () => {
  // Batch 1 (pool positions 0, 1): image 0 holds red [0,0,10,10] and blue [20,20,30,30]; its detections: the red box
  // (0.95, right), the blue box called red (0.92, wrong class), a red box under the threshold (0.5), a blue box where
  // nothing is (0.99, wrong). Image 1 (blue [5,5,15,15]) has one detection under the threshold: left out.
  // Batch 2 (pool positions 2, 3): image 2 has no truth and no detection; image 3 holds red [0,0,20,20], red
  // [30,30,40,40] and an ignored red box; its detections: red [1,1,20,20] at 0.9 (IoU 361/400, right) and a red box
  // 0.005 px wide (under mmdet's min_pseudo_bbox_wh: dropped).
  const sel = pseudo().selector({ threshold: 0.9 }, tasks.detection.selectPseudo);
  torch.scope(() => sel.update(
    [dets([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 9], [40, 40, 50, 50]], [0.95, 0.92, 0.5, 0.99], [0, 0, 0, 1]), dets([[5, 5, 15, 15]], [0.3], [1])],
    [truth([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1]), truth([[5, 5, 15, 15]], [1])], [0, 1]));
  torch.scope(() => sel.update(
    [dets([], [], []), dets([[1, 1, 20, 20], [30, 30, 30.005, 40]], [0.9, 0.99], [0, 0])],
    [truth([], []), truth([[0, 0, 20, 20], [30, 30, 40, 40], [44, 44, 60, 60]], [0, 0, 0], [false, false, true])], [2, 3]));
  const r = sel.finish();
  assert.deepEqual(r.indices, [0, 3]);
  // Column 0: the kept image's number (0: pool position 0, 1: pool position 3); then the box, label, score.
  close(floats(r.targets), [0, 0, 0, 10, 10, 0, 0.95, 0, 20, 20, 30, 30, 0, 0.92, 0, 40, 40, 50, 50, 1, 0.99, 1, 1, 1, 20, 20, 0, 0.9], 1e-6);
  // 4 kept boxes, 2 right; 5 true boxes counted (the ignored one not), 2 found; 4 of them on the kept images.
  assert.deepEqual(r.quality, { pseudoLabelAccuracy: 0.5, boxRecall: 0.4, keptRecall: 0.5, pseudoBoxes: 4 });
  assert.match(r.summary, /4 boxes on 2 of the pool's 4 images/);
  r.targets.dispose();

  // Threshold 0 keeps every box wider and taller than 0.01 px, and every image with one.
  const all = pseudo().selector({ threshold: 0 }, tasks.detection.selectPseudo);
  torch.scope(() => all.update([dets([[5, 5, 15, 15]], [0], [1]), dets([], [], [])], [truth([[5, 5, 15, 15]], [1]), truth([[1, 1, 9, 9]], [0])], [4, 5]));
  const a = all.finish();
  assert.deepEqual([a.indices, a.quality], [[4], { pseudoLabelAccuracy: 1, boxRecall: 0.5, keptRecall: 1, pseudoBoxes: 1 }]);
  a.targets.dispose();

  // Nothing kept: an empty [0, 7] selection, no precision, recall 0.
  const none = pseudo().selector({ threshold: 1 }, tasks.detection.selectPseudo);
  torch.scope(() => none.update([dets([[0, 0, 10, 10]], [0.9], [0])], [truth([[0, 0, 10, 10]], [0])], [0]));
  const n = none.finish();
  assert.deepEqual([n.indices, n.targets.shape, n.quality], [[], [0, 7], { pseudoLabelAccuracy: null, boxRecall: 0, keptRecall: null, pseudoBoxes: 0 }]);

  // The selector selects by the rule it is given (pseudo-label passes Task.selectPseudo): here one that keeps each
  // batch's second image with one blue box, whatever the detections.
  const seen: number[] = [];
  const second = pseudo().selector({ threshold: 0.7 }, (p, o) => {
    seen.push(p.length, o.threshold!);
    return { indices: [1], targets: torch.tensor([1, 2, 2, 12, 12, 1, 1]).reshape(1, 7) };
  });
  torch.scope(() => second.update([dets([], [], []), dets([], [], [])], [truth([], []), truth([[2, 2, 12, 12]], [1])], [5, 7]));
  const s2 = second.finish();
  assert.deepEqual([s2.indices, floats(s2.targets), s2.quality.pseudoLabelAccuracy, seen], [[7], [0, 2, 2, 12, 12, 1, 1], 1, [2, 0.7]]);
  s2.targets.dispose();

  // The task's rule on its own: the default threshold 0.9; topK and soft refused before anything trains.
  const one = tasks.detection.selectPseudo([dets([[0, 0, 4, 4], [1, 1, 5, 5]], [0.95, 0.89], [1, 0])], {});
  close(floats(one.targets), [0, 0, 0, 4, 4, 1, 0.95], 1e-6);
  assert.throws(() => pseudo().check({ topK: 3 }), /topK .* is not implemented for detection/);
  assert.throws(() => pseudo().check({ soft: true }), /no soft box targets/);
  assert.throws(() => pseudo().check({ threshold: 1.5 }), /threshold must be in \[0, 1\]/);
  pseudo().check({ threshold: 0.5, soft: false });
});

test("a student's set: the labelled images with their true boxes, the kept pool images with their pseudo-boxes, in the training set's pixels", async () => {
  const train = await halfTrain();
  const p = pseudo();
  const [lab, poolIdx] = p.split(train, 0.5, 3);
  assert.equal(lab.length, 4);
  const labelled = await p.labelled(train, lab) as BoxDataset;
  const t = await train.getBatch(lab) as data.Batch & { boxes: Tensor[]; boxLabels: Tensor[] };
  const lb = await labelled.getBatch([0, 1, 2, 3]);
  assert.equal(lb.images.shape.join(), '4,3,32,32');
  for (let i = 0; i < 4; i++) {
    assert.ok(lb.boxes[i].equal(t.boxes[i]) && lb.boxLabels[i].equal(t.boxLabels[i]), `labelled image ${i} carries its true boxes`);
  }
  assert.ok(lb.images.equal(t.images));
  // The training set's boxes at 32×32 are half the json's 64×64 ones: its pixels, not the stored image's.
  const stored = (await tasks.detection.datasets(config())).train;
  const s0 = await stored.getBatch(lab) as data.Batch & { boxes: Tensor[]; boxLabels: Tensor[] };
  const ours = floats(torch.cat(lb.boxes, 0));
  assert.ok(ours.length > 0);
  close(ours, floats(torch.cat(s0.boxes, 0)).map((v) => v / 2), 1e-4, 'frame');
  torch.dispose([s0.images, s0.labels, ...s0.boxes, ...s0.boxLabels]);

  // A hand-made selection: pool positions 1 and 3, two boxes on the first (red, blue) and one on the second (blue).
  const targets = torch.tensor([0, 1, 2, 11, 12, 0, 0.9, 0, 4, 4, 30, 31, 1, 0.95, 1, 0, 0, 32, 32, 1, 0.99]).reshape(3, 7);
  const sel = { indices: [1, 3], targets, quality: { pseudoLabelAccuracy: null }, summary: '' };
  const L = lab.length, order = Array.from({ length: 2 * L + 2 }, (_, j) => (j < 2 * L ? j % L : j - L));
  const set = await p.studentSet(train, labelled, poolIdx, sel, order, { threshold: 0.9 });
  assert.equal(set.length, 2 * L + 2);
  const b = await set.getBatch([0, L, 2 * L, 2 * L + 1]) as data.Batch & { boxes: Tensor[]; boxLabels: Tensor[] };
  const img = await train.getBatch([lab[0], lab[0], poolIdx[1], poolIdx[3]]) as data.Batch & { boxes: Tensor[]; boxLabels: Tensor[] };
  assert.ok(b.images.equal(img.images), 'images from the training set, pool positions mapped to it');
  assert.ok(b.boxes[0].equal(t.boxes[0]) && b.boxes[1].equal(t.boxes[0]), 'a repeated labelled image keeps its true boxes');
  close(floats(b.boxes[2]), [1, 2, 11, 12, 4, 4, 30, 31]);
  close(floats(b.boxes[3]), [0, 0, 32, 32]);
  assert.deepEqual([b.boxLabels[2].toArray(), b.boxLabels[3].toArray()].map((x) => x.map(Number)), [[0, 1], [1]]);
  assert.equal(b.boxLabels[2].dtype, 'int64');
  assert.deepEqual(b.sizes, [[64, 64], [64, 64], [64, 64], [64, 64]], 'the stored sizes pass through');
  // Boxes per class over every sample (a repeated row counted each time).
  const count = (ls: Tensor[], c: number) => ls.reduce((s, x) => s + torch.scope(() => x.eq(c).sum().item()), 0);
  assert.deepEqual(labelled.classCounts(), [0, 1].map((c) => count(t.boxLabels, c)));
  assert.deepEqual(set.classCounts(), [0, 1].map((c) => 2 * count(t.boxLabels, c) + (c === 0 ? 1 : 2)));
  torch.dispose([targets, t.images, t.labels, ...t.boxes, ...t.boxLabels, lb.images, lb.labels, ...lb.boxes, ...lb.boxLabels, b.images, b.labels, ...b.boxes, ...b.boxLabels, img.images, img.labels, ...img.boxes, ...img.boxLabels]);
  // Boxes made for another frame (beyond the 32×32 images) are refused when read; bad boxes and labels when made.
  const wide = new BoxDataset(train, [0], torch.tensor([0, 0, 60, 60], { dtype: 'float32' }).reshape(1, 4), torch.tensor([0], { dtype: 'int64' }), [1]);
  await assert.rejects(wide.getBatch([0]), /outside the source's 32x32 .* images/);
  assert.throws(() => new BoxDataset(train, [0], torch.tensor([0, 0, 8, 8], { dtype: 'float32' }).reshape(1, 4), torch.tensor([2], { dtype: 'int64' }), [1]), /labels are not in \[0, 2\)/);
  assert.throws(() => new BoxDataset(train, [0], torch.tensor([4, 0, 4, 8], { dtype: 'float32' }).reshape(1, 4), torch.tensor([0], { dtype: 'int64' }), [1]), /x2 > x1/);
  assert.throws(() => new BoxDataset(train, [0, 1], torch.zeros([1, 4]), torch.zeros([1], { dtype: 'int64' }), [1]), /2 indices for 1 samples/);
});

test('a teacher that predicts the true boxes: every pool box found and right, and the student set carries them as the training set gives them', async () => {
  const train = await halfTrain();
  const p = pseudo();
  const [lab, poolIdx] = p.split(train, 0.5, 3);
  const labelled = await p.labelled(train, lab) as BoxDataset;
  // The pool through the loader as pseudo-label streams it, the detections in the frame of the batch's images.
  const sel = p.selector({ threshold: 0.9 }, tasks.detection.selectPseudo);
  const loader = new data.DataLoader(new data.Subset(train, poolIdx), { batchSize: 3, shuffle: false });
  for await (const b of loader) {
    torch.scope(() => {
      const y = tasks.detection.targets({ images: b.images, ...tasks.detection.batchTargets(b) });
      sel.update(y.map((x) => ({ boxes: x.boxes, scores: torch.ones([x.boxes.shape[0]]), labels: x.labels })), y, b.indices);
    });
    torch.dispose([b.images, b.labels, ...(b.boxes ?? []), ...(b.boxLabels ?? [])]);
  }
  const s = sel.finish();
  const truthSet = await train.getBatch(poolIdx) as data.Batch & { boxes: Tensor[]; boxLabels: Tensor[] };
  const withBoxes = poolIdx.flatMap((_, i) => (truthSet.boxes[i].shape[0] > 0 ? [i] : []));
  assert.deepEqual(s.indices, withBoxes, 'the pool images with a box (an image without is left out)');
  assert.deepEqual([s.quality.pseudoLabelAccuracy, s.quality.boxRecall, s.quality.keptRecall], [1, 1, 1]);
  const set = await p.studentSet(train, labelled, poolIdx, s, null, {});
  assert.equal(set.length, lab.length + withBoxes.length);
  const b = await set.getBatch(withBoxes.map((_, j) => lab.length + j)) as data.Batch & { boxes: Tensor[]; boxLabels: Tensor[] };
  withBoxes.forEach((i, j) => {
    assert.ok(b.boxes[j].equal(truthSet.boxes[i]), `pool image ${poolIdx[i]}: its boxes in the training set's pixels`);
    assert.ok(b.boxLabels[j].equal(truthSet.boxLabels[i]));
  });
  torch.dispose([s.targets, truthSet.images, truthSet.labels, ...truthSet.boxes, ...truthSet.boxLabels, b.images, b.labels, ...b.boxes, ...b.boxLabels]);
});

test('pseudoLabel on detection: a teacher, a student on labelled + pseudo-boxes (the pool predicted with TTA); a table with the AP columns', async () => {
  const dir = tmp();
  // Threshold 0 keeps every pool image the untrained teacher gives a box, whatever this CPU's kernels make of it.
  // 32×32 images (the json's 64×64 resized): the teacher predicts, and the student trains, in the resized frame.
  const rows = await pseudoLabel({ ...config(), data: { ...config().data, imageSize: [32, 32] } }, { labelledShare: 0.5, threshold: 0, rounds: 1, minLabelledShare: 0.5, tta: { flips: ['h'] }, workDir: dir, quiet: true });
  assert.deepEqual(rows.map((r) => r.round.split(' (')[0].split(':')[0]), ['teacher', 'student 1']);
  const L = rows[0].trainImages, kept = rows[1].pseudoLabels;
  assert.equal(L, 4);
  assert.ok(kept >= 0 && kept <= 4);
  assert.equal(rows[1].trainImages, labelRepeats(L, kept, 0.5) * L + kept);
  assert.equal(rows[1].steps, Math.floor(rows[1].trainImages / 4));
  assert.ok(typeof rows[1].pseudoBoxes === 'number' && (rows[1].pseudoBoxes as number) >= kept);
  for (const k of ['pseudoLabelAccuracy', 'boxRecall', 'keptRecall']) {
    const v = rows[1][k];
    assert.ok(v === null || (typeof v === 'number' && v >= 0 && v <= 1), `${k}: ${v}`);
    assert.equal(rows[0][k], null);
  }
  for (const r of rows) for (const k of ['AP', 'AP50']) assert.equal(typeof r[k], 'number', `${r.round}: ${k}`);
  const md = readFileSync(join(dir, 'pseudo_label.md'), 'utf8');
  assert.match(md, /\| round \| training images \| images with pseudo-boxes \| pseudo-boxes right \| pool boxes found \| kept images' boxes found \| optimizer steps \| test AP \| test AP50 \|/);
  assert.match(md, /\| teacher \(labelled only, 1 epochs\) \| 4 \| 0 \| — \| — \| — \| 1 \|/);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'pseudo_label.json'), 'utf8')), rows);
});

test('the labelled images\' true boxes are read from a set of images of several sizes (no data.imageSize)', async () => {
  const { readBoxes } = await import('../src/tasks/detection/pseudo.js');
  const sharp = (await import('sharp')).default;
  const { writeFileSync, renameSync } = await import('node:fs');
  const mixed = tmp();
  await writeCocoSquares(mixed);
  // Image 0 of the training split widened to 80 px (its boxes unchanged): the set now mixes 64×64 and 80×64.
  const ann = join(mixed, 'annotations', 'instances_train.json');
  const json = JSON.parse(readFileSync(ann, 'utf8'));
  const first = json.images[0];
  const file = join(mixed, 'img_dir', 'train', first.file_name);
  await sharp(file).extend({ right: 16, background: { r: 90, g: 90, b: 90 } }).png().toFile(`${file}.wide.png`);
  renameSync(`${file}.wide.png`, file);
  first.width = 80;
  writeFileSync(ann, JSON.stringify(json));
  const train = (await tasks.detection.datasets(tinyDetectionConfig(mixed))).train;
  const want = [0, 1, 2].map((i) => json.annotations.filter((a: { image_id: number; iscrowd: number }) => a.image_id === json.images[i].id && !a.iscrowd).length);
  const r = await readBoxes(train, [0, 1, 2]);
  assert.deepEqual(r.counts, want);
  assert.deepEqual(r.boxes.shape, [want.reduce((a, b) => a + b, 0), 4]);
  torch.dispose([r.boxes, r.labels]);
});
