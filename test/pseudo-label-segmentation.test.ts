// Pseudo-masks (src/tasks/segmentation/pseudo.ts through src/commands/pseudo_label.ts): the
// labelled share is a seeded draw of images; the pool is selected batch by batch, a pixel
// kept only where the teacher's top probability reaches the threshold (255 elsewhere), scored
// against the pool's true masks; the student trains on the labelled images' true masks and the
// kept images' pseudo-masks; the rounds, the control, resume and the table are the ones
// classification uses. The data is a tiny mmseg layout written here (as in
// segmentation-task.test.ts). Assertions are on what the code must do for any kernels
// (selections constructed by hand, counts under threshold 0, which keeps every pixel), never
// on what a short run reaches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torch, data, tasks, models } from 'arsenal';
import { pseudoLabel, labelRepeats } from '../src/commands/pseudo_label.js';
import { MaskDataset } from '../src/data/mask_dataset.js';
import { writeNoiseSquares } from './helpers/seg_folder.js';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-segpseudo-')); made.push(d); return d; };

const S = 32, CLASSES = ['background', 'red', 'blue'];
let root = '';


before(async () => {
  root = tmp();
  await writeNoiseSquares(root, 'train', 12, 1);
  await writeNoiseSquares(root, 'val', 4, 2);
});

const config = (): tasks.SegmentationConfig => ({
  task: 'segmentation',
  seed: 4,
  data: { dataset: 'mmseg', root, classes: CLASSES, batchSize: 4, mean: [0.4, 0.4, 0.4], std: [0.25, 0.25, 0.25] },
  model: { name: 'lraspp_mobilenet_v3_large', widthMult: 0.25 },
  optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9 },
  loss: { terms: [{ type: 'CrossEntropyLoss' }] },
  train: { epochs: 1, amp: 'fp32' },
});
const trainSet = () => data.segmentationFolder(root, { layout: 'mmseg', split: 'train', classes: CLASSES });

test('the labelled share is a seeded draw of images: disjoint, covering, the same for the same seed', () => {
  const ds = { length: 50, classes: CLASSES, classCounts: () => [1, 1, 1], getBatch: () => { throw new Error('not read'); } };
  const [lab, pool] = tasks.randomSplit(ds, 0.1, 42);
  assert.equal(lab.length, 5);
  assert.equal(pool.length, 45);
  assert.deepEqual([...lab, ...pool].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(lab, [...lab].sort((a, b) => a - b));
  assert.deepEqual(tasks.randomSplit(ds, 0.1, 42), [lab, pool]);
  assert.notDeepEqual(tasks.randomSplit(ds, 0.1, 7)[0], lab);
  // At least one image on each side.
  assert.deepEqual(tasks.randomSplit({ ...ds, length: 3 }, 0.01, 42)[0].length, 1);
  assert.deepEqual(tasks.randomSplit({ ...ds, length: 3 }, 0.99, 42)[1].length, 1);
  assert.throws(() => tasks.randomSplit(ds, 1, 42), /labelledShare must be in \(0, 1\)/);
});

test('the pool is selected batch by batch: kept pixels are exactly the confident ones, scored against the true masks', () => {
  const sel = tasks.segmentation.pseudo!.selector({ threshold: 0.9 }, tasks.segmentation.selectPseudo);
  // Softmax over 2 classes of (a, b): p = σ(a − b). Batch 1 (pool positions 0, 1), images of 1×3 pixels.
  //   image 0: (3, 0) → class 0 at 0.953; (0, 3) → class 1 at 0.953; (0.5, 0) → 0.62, not kept.
  //   image 1: (1, 0), (0, 1), (0, 0): none reaches 0.9 → dropped.
  // Batch 2 (pool positions 2, 3): image 2 none; image 3 (0, 4) → 1 at 0.982, (4, 0) → 0, (0, 2.5) → 1 at 0.924.
  const scores = (img: [number, number][][]) => torch.tensor(Float32Array.from(img.flatMap((px) => [...px.map((p) => p[0]), ...px.map((p) => p[1])]))).reshape(img.length, 2, 1, 3);
  const truth = (rows: number[][]) => torch.tensor(BigInt64Array.from(rows.flat().map(BigInt))).reshape(rows.length, 1, 3);
  torch.scope(() => sel.update(scores([[[3, 0], [0, 3], [0.5, 0]], [[1, 0], [0, 1], [0, 0]]]), truth([[0, 0, 1], [1, 1, 1]]), [0, 1]));
  torch.scope(() => sel.update(scores([[[0, 0], [0.1, 0], [0, 0.1]], [[0, 4], [4, 0], [0, 2.5]]]), truth([[2, 2, 2], [1, 255, 0]]), [2, 3]));
  const r = sel.finish();
  assert.deepEqual(r.indices, [0, 3]);
  assert.equal(r.targets.dtype, 'uint8');
  assert.deepEqual(r.targets.toArray(), [[[0, 1, 255]], [[1, 0, 1]]]);
  // Kept pixels 5 of 12; judged (true label not 255) 4: image 0 (0 = 0, 1 ≠ 0), image 3 (1 = 1, 1 ≠ 0) → 2 right of 4.
  assert.equal(r.quality.keptPixels, 5 / 12);
  assert.equal(r.quality.pseudoLabelAccuracy, 0.5);
  r.targets.dispose();
  // The task's own selection gives the same masks on one batch (its int64 targets).
  const one = tasks.segmentation.selectPseudo(scores([[[3, 0], [0, 3], [0.5, 0]]]), { threshold: 0.9 });
  assert.deepEqual(one.targets.toArray(), [[[0, 1, 255]]]);
  // Nothing kept: an empty selection of the pool's mask size, no accuracy.
  const none = tasks.segmentation.pseudo!.selector({ threshold: 1 }, tasks.segmentation.selectPseudo);
  torch.scope(() => none.update(scores([[[0, 0], [0, 0], [0, 0]]]), truth([[0, 0, 0]]), [0]));
  const n = none.finish();
  assert.deepEqual([n.indices, n.targets.shape, n.quality], [[], [0, 1, 3], { pseudoLabelAccuracy: null, keptPixels: 0 }]);
  // The selector selects by the task's rule it is given (pseudo-label passes Task.selectPseudo): here one that keeps
  // each batch's second image, all pixels class 1, whatever the scores.
  const seen: number[][] = [];
  const second = tasks.segmentation.pseudo!.selector({ threshold: 0.9 }, (p, o) => {
    seen.push([p.shape[0], o.threshold!]);
    return { indices: [1], targets: torch.ones([1, 1, 3], { dtype: 'int64' }) };
  });
  torch.scope(() => second.update(scores([[[3, 0], [0, 3], [0.5, 0]], [[1, 0], [0, 1], [0, 0]]]), truth([[0, 0, 1], [1, 1, 1]]), [5, 7]));
  const s2 = second.finish();
  assert.deepEqual([s2.indices, s2.targets.toArray(), s2.quality.pseudoLabelAccuracy, seen], [[7], [[[1, 1, 1]]], 1, [[2, 0.9]]]);
  s2.targets.dispose();
  assert.throws(() => tasks.segmentation.pseudo!.check({ topK: 3 }), /per-pixel confidence threshold/);
  assert.throws(() => tasks.segmentation.pseudo!.check({ soft: true }), /per-pixel confidence threshold/);
  assert.throws(() => tasks.segmentation.pseudo!.check({ threshold: 1.5 }), /threshold must be in \[0, 1\]/);
});

test("a student's set: the labelled images with their true masks, then the kept pool images with their pseudo-masks, labelled rows repeated", async () => {
  const train = await trainSet();
  const seg = tasks.segmentation.pseudo!;
  const [lab, poolIdx] = seg.split(train, 0.25, 4);
  const labelled = await seg.labelled(train, lab) as MaskDataset;
  const truth = await train.getBatch(lab);
  const lb = await labelled.getBatch(Array.from(lab, (_, i) => i));
  assert.ok(lb.masks!.equal(truth.masks!), 'the labelled images carry their true masks');
  assert.ok(lb.images.equal(truth.images));
  // A hand-made selection: pool positions 1 and 4, masks of class 2 and of class 1 under a 255 stripe of 4 rows.
  const targets = torch.tensor(Uint8Array.from({ length: 2 * S * S }, (_, i) => ((i % (S * S)) < 4 * S ? 255 : i < S * S ? 2 : 1))).reshape(2, S, S);
  const L = lab.length, order = Array.from({ length: 2 * L + 2 }, (_, j) => (j < 2 * L ? j % L : j - L));
  const set = await seg.studentSet(train, labelled, poolIdx, { indices: [1, 4], targets, quality: { pseudoLabelAccuracy: null }, summary: '' }, order, {});
  assert.equal(set.length, 2 * L + 2);
  const b = await set.getBatch([0, L, 2 * L, 2 * L + 1]);
  const img = await train.getBatch([lab[0], lab[0], poolIdx[1], poolIdx[4]]);
  assert.ok(b.images.equal(img.images), 'images from the training set, pool positions mapped to it');
  assert.ok(b.masks!.narrow(0, 0, 2).equal(img.masks!.narrow(0, 0, 2)), 'a repeated labelled image keeps its true mask');
  assert.ok(b.masks!.narrow(0, 2, 2).equal(targets.long()), 'the pool images carry their pseudo-masks');
  assert.equal(b.masks!.dtype, 'int64');
  // Pixel counts over every sample (a repeated row counted each time), 255 not counted.
  const count = (m: torch.Tensor, c: number) => torch.scope(() => m.eq(c).sum().item());
  assert.deepEqual(labelled.classCounts(), [0, 1, 2].map((c) => count(truth.masks!, c)));
  const expect = [0, 1, 2].map((c) => 2 * count(truth.masks!, c) + count(targets, c));
  assert.deepEqual(set.classCounts(), expect);
  torch.dispose([targets, truth.images, truth.masks!, truth.labels, lb.images, lb.masks!, lb.labels, b.images, b.masks!, b.labels, img.images, img.masks!, img.labels]);
  assert.throws(() => new MaskDataset(train, [0], torch.full([1, S, S], 3, { dtype: 'uint8' })), /label ≥ 3 that is not 255/);
  await assert.rejects(Promise.resolve().then(() => new MaskDataset(train, [0], torch.zeros([1, 8, 8], { dtype: 'uint8' })).getBatch([0])), /images are 32x32 .* masks are 8x8/);
});

test('pseudoLabel on segmentation: teacher, student on labelled + pseudo-masks, control; a table; --resume reuses the finished models', async () => {
  const dir = tmp();
  // Threshold 0 keeps every pixel of every pool image, whatever the teacher predicts on this CPU's kernels.
  const opts = { labelledShare: 0.34, threshold: 0, rounds: 1, control: true, minLabelledShare: 0.5, workDir: dir, quiet: true };
  const rows = await pseudoLabel(config(), opts);
  assert.deepEqual(rows.map((r) => r.round.split(' (')[0].split(':')[0]), ['teacher', 'student 1', 'control']);
  const L = rows[0].trainImages;
  assert.equal(L, 4, 'round(12 × 0.34) images');
  assert.equal(rows[1].pseudoLabels, 12 - L, 'every pool image kept');
  assert.equal(rows[1].keptPixels, 1, 'threshold 0 keeps every pixel');
  assert.ok((rows[1].pseudoLabelAccuracy as number) >= 0 && (rows[1].pseudoLabelAccuracy as number) <= 1);
  const repeats = labelRepeats(L, 12 - L, 0.5);
  assert.equal(repeats, 2);
  assert.equal(rows[1].trainImages, repeats * L + 12 - L);
  assert.equal(rows[1].steps, Math.floor(rows[1].trainImages / 4));
  assert.equal(rows[2].steps, Math.max(1, Math.round(rows[1].steps / Math.floor(L / 4))) * Math.floor(L / 4));
  for (const r of rows) for (const k of ['mIoU', 'aAcc']) assert.equal(typeof r[k], 'number', `${r.round}: ${k}`);
  assert.equal(rows[0].pseudoLabelAccuracy, null);
  assert.equal(rows[0].keptPixels, null);
  const md = readFileSync(join(dir, 'pseudo_label.md'), 'utf8');
  assert.match(md, /\| round \| training images \| pseudo-masks \| kept pixels right \| pool pixels kept \| optimizer steps \| test mIoU \| test aAcc \|/);
  assert.match(md, /\| student 1 \| 16 \| 8 \| \d+\.\d\d% \| 100\.00% \| 4 \| \d+\.\d\d% \| \d+\.\d\d% \|/);
  assert.match(md, /\| teacher \(labelled only, 1 epochs\) \| 4 \| 0 \| — \| — \| 1 \|/);
  assert.match(md, /\| control: labelled only/);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'pseudo_label.json'), 'utf8')), rows);

  // --resume: the finished teacher and control are reused as they are (same scores, their checkpoints untouched); the
  // removed student trains again.
  const stamp = statSync(join(dir, 'teacher', 'epoch_1.safetensors')).mtimeMs;
  rmSync(join(dir, 'student_1'), { recursive: true });
  const again = await pseudoLabel(config(), { ...opts, resume: true });
  assert.equal(again[0].mIoU, rows[0].mIoU);
  assert.equal(again[2].mIoU, rows[2].mIoU);
  assert.equal(statSync(join(dir, 'teacher', 'epoch_1.safetensors')).mtimeMs, stamp);
  assert.ok(existsSync(join(dir, 'student_1', 'epoch_1.safetensors')));
  assert.equal(again[1].pseudoLabels, rows[1].pseudoLabels);
});

test("studentInit 'teacher' with model.backbonePretrained: the teacher loads the classifier's backbone, the student the teacher's whole weights (not both)", async () => {
  const cls = models.buildModel({ name: 'mobilenet_v3_large', numClasses: 5, widthMult: 0.25 });
  const dir = tmp(), backbone = join(dir, 'mnv3.safetensors');
  torch.safetensors.saveFile(cls.stateDict(), backbone);
  cls.dispose();
  const cfg = config();
  cfg.model.backbonePretrained = backbone;
  const rows = await pseudoLabel(cfg, { labelledShare: 0.34, threshold: 0, studentInit: 'teacher', workDir: join(dir, 'run'), quiet: true });
  assert.deepEqual(rows.map((r) => r.round.split(' (')[0]), ['teacher', 'student 1']);
});

test('arsenal pseudo-label runs the VOC recipe unchanged on an mmseg folder (--set only), with --tta', () => {
  const repo = fileURLToPath(new URL('../..', import.meta.url));
  const dir = tmp();
  const set = ['data.dataset=mmseg', `data.root=${root}`, `data.classes=${JSON.stringify(CLASSES)}`, 'data.imageSize=[32,32]', 'data.batchSize=4', 'model.widthMult=0.25', 'train.epochs=1', 'train.amp=fp32', 'train.channelsLast=false', 'schedule.warmupEpochs=0'];
  const r = spawnSync(process.execPath, [join(repo, 'dist/src/commands/main.js'), 'pseudo-label', 'configs/segmentation/lraspp-voc.ts', '--labelled', '0.5', '--threshold', '0.6', '--tta', '--quiet', '--work-dir', dir, ...set.flatMap((s) => ['--set', s])], { cwd: repo, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(readFileSync(join(dir, 'pseudo_label.json'), 'utf8'));
  assert.deepEqual(rows.map((x: { round: string }) => x.round.split(' (')[0]), ['teacher', 'student 1']);
  assert.equal(rows[0].trainImages, 6);
  assert.match(readFileSync(join(dir, 'pseudo_label.md'), 'utf8'), /\| student 1 \| \d+ \| \d+ \|/);
});
