// Segmentation on the Task interface: a config naming an mmseg folder trains
// through the same Trainer (flips moving the masks, EMA, SWA, TTA, the best
// checkpoint by mIoU), `arsenal test --tta` and ensembles as classification
// does, with no task switch. The data is a tiny mmseg layout written here:
// squares of two colours on noise, masks with an ignored border. Assertions
// are on what the code must do for any kernels (keys, shapes, selections
// constructed by hand, the loss normaliser over processes), not on what a
// short run reaches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, data, tasks, Trainer, validateConfig, evaluateCheckpoint, runEnsemble, type Tensor } from 'arsenal';
import { writeNoiseSquares } from './helpers/seg_folder.js';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-seg-')); made.push(d); return d; };

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
  optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 },
  schedule: { type: 'poly' },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  loss: { classWeight: 'inverse', terms: [{ type: 'CrossEntropyLoss' }, { type: 'DiceLoss', weight: 0.5 }, { type: 'LovaszLoss', weight: 0.5 }] },
  swa: { start: 2, lr: 0.005 },
  ema: { decay: 0.9 },
  tta: { flips: ['h'] },
  train: { epochs: 2, amp: 'fp32' },
});

test('a segmentation config validates; mistakes name the key', () => {
  validateConfig(config());
  assert.throws(() => validateConfig({ ...config(), model: { name: 'resnet18' } }), /config\.model\.name/);
  assert.throws(() => validateConfig({ ...config(), tta: { merge: 'vote' } }), /config\.tta\.merge/);
  assert.throws(() => validateConfig({ ...config(), loss: [{ type: 'LovaszLos' }] }), /config\.loss\[0\]\.type/);
});

test('segmentation trains from an mmseg folder through the Trainer (EMA, SWA, TTA, best by mIoU), then test --tta and an ensemble', async () => {
  const dir = tmp();
  const r = await new Trainer(config(), { workDir: dir, quiet: true }).fit();
  for (const k of ['aAcc', 'mIoU', 'mAcc', 'mDice', 'emaMIoU', 'modelMIoU', 'ttaMIoU']) assert.equal(typeof r.metrics[k], 'number', k);
  assert.ok(r.metrics.aAcc >= 0 && r.metrics.aAcc <= 1);
  for (const f of ['best.safetensors', 'ema.safetensors', 'swa.safetensors', 'epoch_2.safetensors']) assert.ok(existsSync(join(dir, f)), f);

  // mmseg's TTA: flips and whole-image ratios, scores resized back and merged as probabilities.
  const t = await evaluateCheckpoint({ ...config(), tta: { flips: ['h'], ratios: [0.75] } }, join(dir, 'epoch_2.safetensors'), tmp(), { tta: true, quiet: true });
  assert.deepEqual(t.views!.map((v) => v.view), ['identity', 'flip-h', 'ratio(0.75)', 'TTA (mean of 3 views)']);
  assert.equal(typeof t.metrics.mIoU, 'number');
  const members = ['epoch_1.safetensors', 'epoch_2.safetensors'].map((f) => ({ cfg: config(), config: 'seg', checkpoint: join(dir, f) }));
  const e = await runEnsemble(members, { workDir: tmp(), quiet: true });
  assert.equal(e.rows.length, 2);
  assert.match(String(e.ensemble.member), /^ensemble \(mean/);
});

test('augment.sample Mosaic on segmentation: masks travel through the mixed dataset and the Trainer trains 2 epochs', async () => {
  const cfg: tasks.SegmentationConfig = {
    ...config(),
    augment: { sample: [{ type: 'Mosaic', imgScale: [32, 32], prob: 1 }], train: [{ type: 'RandomFlip', prob: 0.5 }] },
    loss: { terms: [{ type: 'CrossEntropyLoss' }] },
    swa: undefined, ema: undefined, tta: undefined,
  };
  validateConfig(cfg);
  const r = await new Trainer(cfg, { workDir: tmp(), quiet: true }).fit();
  assert.equal(typeof r.metrics.mIoU, 'number');
});

test('pseudo-masks: confident pixels keep their class, the others become 255; images with none are dropped', () => {
  const seg = tasks.segmentation;
  // Two images of 1×2 pixels, 2 classes; softmax of (a, 0): p(class 0) = σ(a).
  const scores = torch.tensor([3, -3, 0.1, 0, 0, 0, 0.2, 0], { dtype: 'float32' }).reshape(2, 2, 1, 2);
  // Image 0: pixel 0 scores (3, 0.1) → class 0 at 0.95; pixel 1 (−3, 0) → class 1 at 0.95.
  // Image 1: (0, 0.2) → class 1 at 0.55; (0, 0) → 0.5. Threshold 0.9 keeps image 0 only.
  const { indices, targets } = seg.selectPseudo(scores, { threshold: 0.9 });
  assert.deepEqual(indices, [0]);
  assert.deepEqual(targets.toArray(), [[[0, 1]]]);
  const all = seg.selectPseudo(scores, { threshold: 0.52 });
  assert.deepEqual(all.indices, [0, 1]);
  assert.deepEqual(all.targets.toArray(), [[[0, 1]], [[1, 255]]]);
  assert.throws(() => seg.selectPseudo(scores, { topK: 3 }), /per-pixel confidence threshold/);
});

test('segmentation cross-entropy with class weights and ignored pixels: 2 processes × B/2 through the LossContext equal 1 × B', () => {
  const g = new data.Rng(8);
  const x = torch.tensor(Float32Array.from({ length: 2 * 3 * 4 * 4 }, () => g.uniform(-2, 2))).reshape(2, 3, 4, 4);
  const yv = BigInt64Array.from({ length: 32 }, (_, i) => (i % 7 === 0 ? 255n : BigInt(i < 16 ? 0 : 1 + (i % 2))));
  const y = torch.tensor(yv).reshape(2, 4, 4);
  for (const normaliser of ['mmseg', 'pytorch'] as const) {
    const lossOf = (ctx: tasks.LossContext | undefined, xs: Tensor, ys: Tensor) =>
      tasks.buildSegLoss({ classWeight: [1, 3, 5], normaliser, terms: [{ type: 'CrossEntropyLoss' }, { type: 'FocalLoss', weight: 0.5 }] }, [1, 1, 1], CLASSES, ctx).multi.forward(xs, ys).total.item();
    const xa = x.narrow(0, 0, 1), xb = x.narrow(0, 1, 1), ya = y.narrow(0, 0, 1), yb = y.narrow(0, 1, 1);
    const sent = (xs: Tensor, ys: Tensor) => { const v: number[] = []; lossOf({ processes: 2, averageOverProcesses: (t) => { v.push(t.item()); return t; } }, xs, ys); return v; };
    const fromA = sent(xa, ya), fromB = sent(xb, yb);
    const ctx = (other: number[]): tasks.LossContext => { let i = 0; return { processes: 2, averageOverProcesses: (t) => t.add(other[i++]).div(2) }; };
    const whole = lossOf(undefined, x, y);
    const reduced = (lossOf(ctx(fromB), xa, ya) + lossOf(ctx(fromA), xb, yb)) / 2;
    const naive = (lossOf(undefined, xa, ya) + lossOf(undefined, xb, yb)) / 2;
    assert.ok(Math.abs(reduced - whole) < 1e-5, `${normaliser}: ${reduced} vs ${whole}`);
    assert.ok(Math.abs(naive - whole) > 1e-3, `${normaliser}: the shards must differ for the test to mean anything (${naive} vs ${whole})`);
  }
});

test('model.pretrained: torchvision-keyed weights load into a model of another class count; the class-score layers are skipped and named', () => {
  const seg = tasks.segmentation;
  const cfg = config();
  const three = seg.buildModel(cfg, { classes: CLASSES, classCounts: [1, 1, 1], inChannels: 3 });
  const file = join(tmp(), 'three.safetensors');
  torch.safetensors.saveFile(three.stateDict(), file);
  const lines: string[] = [];
  const four = seg.buildModel({ ...cfg, model: { ...cfg.model, pretrained: file } }, { classes: [...CLASSES, 'green'], classCounts: [1, 1, 1, 1], inChannels: 3 }, (l) => lines.push(l));
  assert.match(lines.join("\n"), /loaded 315 tensors; skipped classifier\.high_classifier\.bias, classifier\.high_classifier\.weight, classifier\.low_classifier\.bias, classifier\.low_classifier\.weight$/);
  const a = three.stateDict(), b = four.stateDict();
  assert.ok(a['backbone.0.0.weight'].equal(b['backbone.0.0.weight']));
  assert.ok(a['classifier.cbr.0.weight'].equal(b['classifier.cbr.0.weight']));
  assert.deepEqual(b['classifier.low_classifier.weight'].shape.slice(0, 1), [4]);
});

test("weighting 'gradnorm' works for segmentation: the loss is given the model's last weight matrix and a step runs", () => {
  const seg = tasks.segmentation;
  const cfg = { ...config(), loss: { weighting: 'gradnorm' as const, terms: [{ type: 'CrossEntropyLoss' as const }, { type: 'DiceLoss' as const }] } };
  const info = { classes: CLASSES, classCounts: [1, 1, 1], inChannels: 3 };
  const model = seg.buildModel(cfg, info);
  const lines: string[] = [];
  const loss = seg.buildLoss(cfg, info, model, (l) => lines.push(l));
  const last = [...model.namedParameters()].filter(([, p]) => p.ndim >= 2).at(-1)![0];
  assert.ok(lines.includes(`GradNorm: gradient norms balanced at ${last} (α 1.5)`), lines.join('\n'));
  const x = torch.rand([2, 3, 32, 32]);
  const y = torch.tensor(BigInt64Array.from({ length: 2 * 32 * 32 }, (_, i) => BigInt(i % 3))).reshape(2, 32, 32);
  const { total } = loss.multi.forward(model.forward(x), y);
  total.backward();
  assert.ok(Number.isFinite(total.item()));
});
