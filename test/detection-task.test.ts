// Detection on the Task interface: a config naming a COCO json trains through
// the same Trainer, `arsenal test` (evaluateCheckpoint) and TTA as the other
// tasks, with no task switch in the engine. The data is a tiny COCO set
// written here: 64×64 noise with red and blue squares, category ids 5 and 9
// (not contiguous), one training image without boxes, a crowd box in val.
// Assertions are on what the code must do for any weights — keys, ids, boxes
// mapped back, merges and the metric's frame constructed by hand — never on
// what a one-epoch run reaches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { torch, data, infer, metrics, tasks, Trainer, validateConfig, evaluateCheckpoint, runEnsemble, type Tensor } from 'arsenal';
import { S, CAT, CLASSES, writeCocoSquares, tinyDetectionConfig } from './helpers/coco_squares.js';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-det-')); made.push(d); return d; };

let root = '';

before(async () => {
  root = tmp();
  await writeCocoSquares(root);
});

const config = (): tasks.DetectionConfig => tinyDetectionConfig(root);

const floats = (t: Tensor): number[] => Array.from(t.float().contiguous().dataSync() as Float32Array);
const ints = (t: Tensor): number[] => Array.from(t.to('int32').contiguous().dataSync() as Int32Array);
const close = (a: number[], b: number[], tol = 1e-4, msg = '') => {
  assert.equal(a.length, b.length, `${msg}: ${a} vs ${b}`);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol, `${msg}: [${a}] vs [${b}]`));
};
const dets = (boxes: number[][], scores: number[], labels: number[]) => ({
  boxes: torch.tensor(boxes.flat(), { dtype: 'float32' }).reshape(boxes.length, 4), scores: torch.tensor(scores, { dtype: 'float32' }), labels: torch.tensor(labels, { dtype: 'int64' }),
});

test('a detection config validates; mistakes name the key', () => {
  validateConfig(config());
  const bad: [unknown, RegExp][] = [
    [{ ...config(), data: { ...config().data, dataset: 'kitti' } }, /config\.data\.dataset/],
    [{ ...config(), data: { dataset: 'yolo', root, batchSize: 2 } }, /config\.data\.classes: required for dataset 'yolo'/],
    [{ ...config(), data: { dataset: 'voc', root, batchSize: 2, annFile: 'x.json' } }, /config\.data\.annFile: applies to dataset 'coco' only/],
    [{ ...config(), model: { name: 'fcos_resnet19_fpn' } }, /config\.model\.name/],
    [{ ...config(), model: { ...config().model, normLayer: 'group' } }, /config\.model\.normLayer/],
    [{ ...config(), tta: { flips: ['h'], merge: 'mean' } }, /config\.tta\.merge/],
    [{ ...config(), boxMerge: { wbf: { iouThr: 1.5 } } }, /config\.boxMerge\.wbf\.iouThr/],
    [{ ...config(), postprocess: { preset: 'detectron2' } }, /config\.postprocess\.preset/],
    [{ ...config(), loss: { weights: { bbox_iou: 1 } } }, /config\.loss\.weights/],
  ];
  for (const [cfg, msg] of bad) assert.throws(() => validateConfig(cfg), msg);
});

test('the training set leaves out crowd boxes; the test set keeps them, flagged', async () => {
  const { train, test: val } = await tasks.detection.datasets({ ...config(), data: { ...config().data, trainSplit: 'val' } });
  const t = await train.getBatch([0, 1]) as data.Batch & { boxes: Tensor[]; boxLabels: Tensor[] };
  const v = await val.getBatch([0, 1]) as data.DetectionBatch;
  assert.deepEqual(t.boxes.map((b) => b.shape[0]), [2, 1], 'image 31 trains on its 2 boxes, not the crowd');
  assert.deepEqual(ints(t.boxLabels[0]), [0, 1]);
  assert.deepEqual(v.boxes.map((b) => b.shape[0]), [3, 1]);
  assert.deepEqual(ints(v.ignore[0]), [0, 0, 1]);
  close(floats(v.boxes[0].narrow(0, 2, 1)), [40, 40, 62, 62], 0, 'the crowd box');
  // What the metric gets: numeric ids from the json, the factor to the stored size.
  const y = tasks.detection.targets({ images: v.images, ...tasks.detection.batchTargets(v) });
  assert.deepEqual(y.map((x) => x.imageId), [31, 22]);
  assert.deepEqual(y[0].scale, [1, 1]);
  assert.deepEqual(ints(y[0].ignore!), [0, 0, 1]);
});

test('detection trains through the Trainer (AP by pycocotools\' names); arsenal test reproduces it and writes COCO results with the json\'s ids', async () => {
  const dir = tmp();
  const r = await new Trainer(config(), { workDir: dir, quiet: true }).fit();
  const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
  assert.equal(m.task, 'detection');
  assert.equal(m.primaryMetric, 'AP');
  assert.deepEqual(m.headline, ['AP', 'AP50', 'AP75']);
  for (const k of metrics.COCO_STAT_NAMES) assert.equal(typeof m.metrics[k], 'number', k);
  for (const f of ['epoch_1.safetensors', 'best.safetensors']) assert.ok(existsSync(join(dir, f)), f);

  const out = tmp();
  const t = await evaluateCheckpoint(config(), join(dir, 'epoch_1.safetensors'), out, { quiet: true, panels: 2 });
  assert.equal(t.metrics.AP, r.metrics.AP, 'test on the final checkpoint reproduces training\'s final evaluation');
  assert.deepEqual(t.metrics, r.metrics);
  const results = JSON.parse(readFileSync(join(out, 'results.bbox.json'), 'utf8')) as { image_id: number; category_id: number; bbox: number[]; score: number }[];
  assert.ok(results.length > 0, 'scoreThresh 0: every image has detections');
  assert.deepEqual([...new Set(results.map((x) => x.image_id))].sort(), [13, 22, 31, 44]);
  for (const x of results) {
    assert.ok(x.category_id === CAT.red || x.category_id === CAT.blue, `category_id ${x.category_id} is one of the json's`);
    const [bx, by, bw, bh] = x.bbox;
    assert.ok(bx >= 0 && by >= 0 && bw >= 0 && bh >= 0 && bx + bw <= S + 1e-3 && by + bh <= S + 1e-3, `bbox ${x.bbox} is [x, y, w, h] inside the image`);
    assert.ok(x.score >= 0 && x.score <= 1);
  }
  assert.ok(results.filter((x) => x.image_id === 31).length <= 20, 'detectionsPerImg');
  assert.ok(existsSync(join(out, 'panels', '31.png')) && existsSync(join(out, 'panels', '22.png')) && !existsSync(join(out, 'panels', '13.png')), 'the first 2 images drawn');
  const summary = tasks.detection.describeMetrics!(t.metrics);
  assert.equal(summary.length, 12);
  assert.match(summary[0], /^ Average Precision {2}\(AP\) @\[ IoU=0\.50:0\.95 \| area= {3}all \| maxDets=100 \] = -?\d\.\d{3}$/);

  // TTA: the flip's boxes come back through Task.invert and merge with the identity's.
  const v = await evaluateCheckpoint({ ...config(), tta: { flips: ['h'], merge: 'wbf' } }, join(dir, 'epoch_1.safetensors'), tmp(), { quiet: true, tta: true, predictions: false });
  assert.deepEqual(v.views!.map((x) => x.view), ['identity', 'flip-h', 'TTA (wbf of 2 views)']);
  assert.equal(v.views![0].AP, r.metrics.AP, 'the identity view is the plain evaluation');

  // An ensemble of a checkpoint with itself, merged by NMS: every box meets its twin, so the merge is the member.
  const members = ['epoch_1.safetensors', 'best.safetensors'].map((f) => ({ cfg: config(), config: 'det', checkpoint: join(dir, f) }));
  const e = await runEnsemble(members, { workDir: tmp(), quiet: true, merge: 'nms' });
  assert.match(String(e.ensemble.member), /^ensemble \(nms/);
  for (const k of metrics.COCO_STAT_NAMES) assert.equal(e.ensemble[k], e.rows[0][k], k);
});

test('detection trains with augment.sample: Mosaic, RandomAffine back to the image size and YOLOX MixUp carry the boxes, off in the last epoch', async () => {
  const dir = tmp();
  const sample = [
    { type: 'Mosaic', imgScale: [S, S], padVal: 114, prob: 1, offLastEpochs: 1 },
    { type: 'RandomAffine', scalingRatioRange: [0.5, 1.5], border: [-S / 2, -S / 2], offLastEpochs: 1 },
    { type: 'YoloxMixUp', imgScale: [S, S], ratioRange: [0.8, 1.2], padVal: 114, prob: 1, offLastEpochs: 1 },
  ];
  const cfg = { ...config(), augment: { train: [{ type: 'RandomFlip', prob: 0.5 }], sample }, train: { ...config().train, epochs: 2 } } as tasks.DetectionConfig;
  validateConfig(cfg);
  const r = await new Trainer(cfg, { workDir: dir, quiet: true }).fit();
  assert.equal(typeof r.metrics.AP, 'number');
  const log = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.filter((e) => e.trainLoss !== undefined).every((e) => Number.isFinite(e.trainLoss)), 'a finite loss in both epochs');
});

test('the results json: boxes in the stored image\'s pixels as [x, y, w, h], the json\'s image and category ids', async () => {
  const { test: val } = await tasks.detection.datasets(config());
  const dir = tmp();
  const w = tasks.detection.predictionWriter!(config(), { classes: CLASSES, classCounts: [1, 1], inChannels: 3 }, val, { workDir: dir, panels: 1 });
  // A batch the loader resized to 32×32 from the stored 64×64; its left half red, its right half dark blue.
  const image = torch.cat([torch.full([1, 3, 32, 16], 0).add(torch.tensor([200, 0, 0]).reshape(1, 3, 1, 1)), torch.full([1, 3, 32, 16], 0).add(torch.tensor([0, 0, 90]).reshape(1, 3, 1, 1))], 3).to('uint8');
  const batch = { images: image, labels: torch.zeros([1], { dtype: 'int64' }), indices: [0], sizes: [[64, 64]] as [number, number][], imageIds: [31] };
  w.write(batch, [dets([[2, 4, 10, 12], [0, 0, 32, 16]], [0.9, 0.25], [1, 0])]);
  await w.close();
  const r = JSON.parse(readFileSync(join(dir, 'results.bbox.json'), 'utf8'));
  assert.equal(r.length, 2);
  assert.deepEqual(r.map((x: { image_id: number }) => x.image_id), [31, 31]);
  assert.deepEqual(r.map((x: { category_id: number }) => x.category_id), [CAT.blue, CAT.red]);
  close(r[0].bbox, [4, 8, 16, 16], 1e-5, 'box 0 × 2, as xywh');
  close(r[1].bbox, [0, 0, 64, 32], 1e-5, 'box 1 × 2, as xywh');
  close([r[0].score], [0.9], 1e-6);
  // The panel: truth | prediction, each the image magnified 10× (to 320 pixels), a 4-pixel gap between.
  const { data: px, info } = await sharp(join(dir, 'panels', '31.png')).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [2 * 320 + 4, 320, 3]);
  const at = (x: number, y: number) => [...px.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  assert.deepEqual(at(60, 300), [200, 0, 0], 'truth tile, left half');
  assert.deepEqual(at(300, 300), [0, 0, 90], 'truth tile, right half');
  assert.deepEqual(at(324 + 60, 300), [200, 0, 0], 'prediction tile, left half');
  assert.notDeepEqual(at(324 + 21, 40), [200, 0, 0], 'the 0.9 box (2, 4 → 20, 40 at 10×) is drawn over the prediction tile');
});

test('TTA: boxes found in a flipped or shifted view are mapped back by Task.invert', () => {
  const [, flip, shift] = infer.buildViews({ flips: ['h'], shifts: [[10, 0]] });
  const x = torch.zeros([1, 3, 48, 64]);
  flip.apply(x);
  shift.apply(x);
  // Closed form of a horizontal flip: x ↦ W − x, the corners swapped.
  const back = tasks.detection.invert(flip, [dets([[4, 6, 20, 30], [50, 0, 64, 10]], [0.8, 0.5], [0, 1])]);
  close(floats(back[0].boxes), [64 - 20, 6, 64 - 4, 30, 0, 0, 64 - 50, 10], 1e-6);
  close(floats(back[0].scores), [0.8, 0.5], 1e-7);
  assert.deepEqual(ints(back[0].labels), [0, 1]);
  // A shift by 10 moves boxes back by 10; a box wholly in the shifted-in strip has nothing left in the image and goes.
  const s = tasks.detection.invert(shift, [dets([[20, 5, 30, 15], [0, 0, 8, 8]], [0.7, 0.6], [1, 1])]);
  close(floats(s[0].boxes), [10, 5, 20, 15], 1e-6);
  assert.deepEqual(ints(s[0].labels), [1]);
});

test('merges: NMS of two identical sets is the set; WBF of a box and its 2 px shift is their mean; classes never merge', () => {
  const a = dets([[10, 10, 30, 30], [40, 40, 60, 60], [12, 10, 32, 30]], [0.9, 0.7, 0.4], [0, 0, 1]);
  for (const how of ['nms', 'soft-nms'] as const) {
    const [m] = tasks.detection.merge([[a], [a]], { how });
    close(floats(m.boxes), floats(a.boxes), 0, how);
    close(floats(m.scores), floats(a.scores), 1e-7, how);
    assert.deepEqual(ints(m.labels), ints(a.labels), how);
  }
  const b = dets([[12, 10, 32, 30]], [0.8], [0]);
  const [f] = tasks.detection.merge([[dets([[10, 10, 30, 30]], [0.8], [0])], [b]], { how: 'wbf' });
  close(floats(f.boxes), [11, 10, 31, 30], 1e-4, 'the mean box');
  close(floats(f.scores), [0.8], 1e-6);
  // Weights: WBF's model weights give the mean box weighted 3:1.
  const [g] = tasks.detection.merge([[dets([[10, 10, 30, 30]], [0.8], [0])], [b]], { how: 'wbf', weights: [3, 1] });
  close(floats(g.boxes), [10.5, 10, 30.5, 30], 1e-4, 'weighted mean');
  // The config's boxMerge reaches the merge: WBF with iouThr above the pair's IoU keeps both boxes.
  const cfg = { ...config(), boxMerge: { wbf: { iouThr: 0.95 } } };
  const [k] = tasks.detection.merge([[dets([[10, 10, 30, 30]], [0.8], [0])], [b]], { how: 'wbf', cfg });
  assert.equal(k.boxes.shape[0], 2);
  // Boxes of different classes stay apart in every merge.
  for (const how of ['nms', 'wbf', 'soft-nms'] as const) {
    const [c] = tasks.detection.merge([[dets([[10, 10, 30, 30]], [0.8], [0])], [dets([[10, 10, 30, 30]], [0.6], [1])]], { how });
    assert.deepEqual(ints(c.labels).sort(), [0, 1], how);
  }
});

test('the metric is COCO\'s in the stored frame: boxes of a batch at half size are scaled back before matching', async () => {
  const task = tasks.detection;
  const info = { classes: CLASSES, classCounts: [1, 1], inChannels: 3 };
  // A gt of 40×40 stored pixels (COCO area 1600: 'medium'), its perfect detection, and a false positive of 40×40 stored
  // pixels scoring higher. At the batch's half size the false positive is 20×20 ('small'): only scaled back does it count
  // against APm, as pycocotools scores the results json.
  const batch = {
    images: torch.zeros([1, 3, 32, 32]), boxes: [torch.tensor([2, 2, 22, 22], { dtype: 'float32' }).reshape(1, 4)], boxLabels: [torch.tensor([0], { dtype: 'int64' })],
    ignore: [torch.tensor([false], { dtype: 'bool' })], area: [torch.tensor([1600], { dtype: 'float32' })], imageIds: [7], sizes: [[64, 64]] as [number, number][],
  };
  const pred = [dets([[10, 10, 30, 30], [2, 2, 22, 22]], [0.9, 0.5], [0, 0])];
  const meter = task.meter(config(), info);
  meter.update(pred, task.targets(batch));
  const stored = new metrics.CocoMeter(2);
  stored.add({ boxes: [[20, 20, 60, 60], [4, 4, 44, 44]], scores: [0.9, 0.5], labels: [0, 0] }, { boxes: [[4, 4, 44, 44]], labels: [0], area: [1600], iscrowd: [0], imageId: 7 });
  assert.deepEqual(meter.compute(), { ...stored.compute() });
  const unscaled = task.meter(config(), info);
  const { sizes: _sizes, ...noSizes } = batch;
  unscaled.update(pred, task.targets(noSizes));
  assert.notEqual(meter.compute().APm, unscaled.compute().APm, 'the frame matters for the area ranges');

  // The val set loaded at half its stored size: its own boxes as detections score AP 1.
  const { test: half } = await task.datasets({ ...config(), data: { ...config().data, imageSize: [32, 32] } });
  const b = await half.getBatch([0, 1, 2, 3]) as data.DetectionBatch;
  const y = task.targets({ images: b.images, ...task.batchTargets(b) });
  assert.deepEqual(y[0].scale, [2, 2]);
  const perfect = task.meter(config(), info);
  perfect.update(b.boxes.map((bx, i) => {
    const keep = b.ignore[i].logicalNot().nonzero().reshape(-1);
    return { boxes: bx.indexSelect(0, keep), scores: torch.ones([keep.shape[0]]), labels: b.boxLabels[i].indexSelect(0, keep) };
  }), y);
  assert.equal(perfect.compute().AP, 1);
});

test('pseudo-boxes: the boxes scoring at least the threshold, the images with any', () => {
  const p = [dets([[0, 0, 4, 4], [1, 1, 5, 5]], [0.95, 0.3], [1, 0]), dets([[2, 2, 6, 6]], [0.2], [0]), dets([[3, 3, 9, 9]], [0.9], [0])];
  const s = tasks.detection.selectPseudo(p, { threshold: 0.9 });
  assert.deepEqual(s.indices, [0, 2]);
  close(floats(s.targets), [0, 0, 0, 4, 4, 1, 0.95, 2, 3, 3, 9, 9, 0, 0.9], 1e-6);
  assert.throws(() => tasks.detection.selectPseudo(p, { topK: 2 }), /threshold/);
  assert.ok(tasks.detection.pseudo, 'pseudo-labelling rounds: test/pseudo-label-detection.test.ts');
});
