// FCN / DeepLabV3 in segmentation configs: model.width, outputStride and
// auxLoss; the auxiliary head's loss term (loss.auxWeight × its
// cross-entropy, on `aux` of the training-mode { out, aux }); a
// deeplabv3_resnet18 config with an aux head through the Trainer with EMA, SWA
// (whose BatchNorm pass runs the model in training mode), TTA and bf16
// autocast where it runs (amp 'auto': the predictor casts { out, aux } to
// fp32), then `arsenal test --tta` on its checkpoint; GradNorm with the aux
// term; an ImageNet ResNet as the dilated backbone's pretrained weights. The
// data is a tiny mmseg layout written here. Assertions are on wiring and on losses
// constructed by hand, never on what a short run reaches.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, nn, data, losses, models, tasks, Trainer, validateConfig, evaluateCheckpoint, type Tensor } from 'arsenal';
import { gradNormParameter } from '../src/tasks/grad_norm.js';
import { writeNoiseSquares } from './helpers/seg_folder.js';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-segaux-')); made.push(d); return d; };

const S = 32, CLASSES = ['background', 'red', 'blue'];
let root = '';


before(async () => {
  root = tmp();
  await writeNoiseSquares(root, 'train', 8, 1);
  await writeNoiseSquares(root, 'val', 4, 2);
});

const config = (): tasks.SegmentationConfig => ({
  task: 'segmentation',
  seed: 5,
  data: { dataset: 'mmseg', root, classes: CLASSES, batchSize: 4, mean: [0.4, 0.4, 0.4], std: [0.25, 0.25, 0.25] },
  model: { name: 'deeplabv3_resnet18', width: 8, outputStride: 16, auxLoss: true },
  optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 },
  schedule: { type: 'poly' },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  loss: { auxWeight: 0.3, terms: [{ type: 'CrossEntropyLoss' }, { type: 'DiceLoss', weight: 0.5 }] },
  train: { epochs: 2, amp: 'fp32' },
});
const INFO = { classes: CLASSES, classCounts: [1, 1, 1], inChannels: 3 };

test('model.width / outputStride / auxLoss and loss.auxWeight validate; mistakes name the key', () => {
  validateConfig(config());
  assert.throws(() => validateConfig({ ...config(), model: { name: 'deeplabv3_resnet18', outputStride: 32 } }), /config\.model\.outputStride/);
  assert.throws(() => validateConfig({ ...config(), model: { name: 'fcn_resnet18', auxLoss: 'yes' } }), /config\.model\.auxLoss/);
  assert.throws(() => validateConfig({ ...config(), loss: { auxWeight: -1 } }), /config\.loss\.auxWeight/);
  // auxWeight without an aux head, and an option the model does not take, are errors when the parts are built.
  const noAux = { ...config(), model: { name: 'deeplabv3_resnet18' as const, width: 8 } };
  const m = tasks.segmentation.buildModel(noAux, INFO);
  assert.throws(() => tasks.segmentation.buildLoss(noAux, INFO, m, () => {}), /loss\.auxWeight is set but the model has no auxiliary head/);
  m.dispose();
  assert.throws(() => tasks.segmentation.buildModel({ ...config(), model: { name: 'lraspp_mobilenet_v3_large', outputStride: 8 } }, INFO), /option 'outputStride' does not apply/);
});

test('the aux term: total = Σ main terms on `out` + auxWeight · cross-entropy of `aux` (the same class weights, ignore and normaliser)', () => {
  torch.scope(() => {
    const g = new data.Rng(3);
    const rand = () => torch.tensor(Float32Array.from({ length: 2 * 3 * 4 * 5 }, () => g.uniform(-2, 2))).reshape(2, 3, 4, 5);
    const cls = Array.from({ length: 40 }, (_, i) => (i % 9 === 0 ? 255 : i % 3));
    const y = torch.tensor(BigInt64Array.from(cls, BigInt)).reshape(2, 4, 5);
    // out: noise; aux: 3 on each pixel's class (an easier output, so its cross-entropy is far from out's).
    const out = rand();
    const aux = torch.tensor(Float32Array.from({ length: 120 }, (_, j) => {
      const [n, k, p] = [Math.floor(j / 60), Math.floor(j / 20) % 3, j % 20];
      return cls[n * 20 + p] === k ? 3 : 0;
    })).reshape(2, 3, 4, 5);
    const classWeight = [1, 2, 0.5];
    const ce = (x: Tensor) => losses.segCrossEntropy(x, y, { weight: classWeight, ignoreIndex: 255, normaliser: 'pytorch' }).item();
    const dice = losses.diceLoss(out, y, { ignoreIndex: 255 }).item();
    const build = (auxWeight?: number) => tasks.buildSegLoss({ classWeight, normaliser: 'pytorch', auxWeight, terms: [{ type: 'CrossEntropyLoss' }, { type: 'DiceLoss', weight: 0.5 }] }, [1, 1, 1], CLASSES, undefined, { auxLoss: true });
    const l = build(0.3);
    assert.deepEqual(l.multi.terms.map((t) => [t.name, t.weight]), [['CrossEntropyLoss', undefined], ['DiceLoss', 0.5], ['aux', 0.3]]);
    const { total, values } = l.multi.forward({ out, aux }, y);
    assert.ok(Math.abs(values.CrossEntropyLoss - ce(out)) < 1e-6, 'the main terms read `out`');
    assert.ok(Math.abs(values.DiceLoss - dice) < 1e-6);
    assert.ok(Math.abs(values.aux - ce(aux)) < 1e-6, 'the aux term reads `aux`');
    assert.ok(ce(out) - ce(aux) > 0.5, `out and aux differ enough for the test to mean something (${ce(out)}, ${ce(aux)})`);
    assert.ok(Math.abs(total.item() - (ce(out) + 0.5 * dice + 0.3 * ce(aux))) < 1e-5);
    assert.match(l.describe[0], /CrossEntropyLoss×1 \+ DiceLoss×0\.5 \+ aux×0\.3/);
    // Default weight 0.4 (mmseg's auxiliary FCNHead loss_weight).
    assert.ok(Math.abs(build().multi.forward({ out, aux }, y).total.item() - (ce(out) + 0.5 * dice + 0.4 * ce(aux))) < 1e-5);
    // An eval-mode output (a tensor) has no aux: a clear error; without model.auxLoss a tensor is the whole output.
    assert.throws(() => l.multi.forward(out, y), /the 'aux' term needs the training-mode output \{ out, aux \}/);
    const plain = tasks.buildSegLoss({ classWeight, normaliser: 'pytorch' }, [1, 1, 1], CLASSES);
    assert.ok(Math.abs(plain.multi.forward(out, y).total.item() - ce(out)) < 1e-6);
    // MixUp-ed targets: the aux term mixes as the main terms do, λ·CE(aux, a) + (1−λ)·CE(aux, b).
    const y2 = y.flip([2]);
    const ce2 = (x: Tensor, t: Tensor) => losses.segCrossEntropy(x, t, { weight: classWeight, ignoreIndex: 255, normaliser: 'pytorch' }).item();
    const mixed = l.multi.forward({ out, aux }, { masks: y, masks2: y2, lam: 0.7 }).values;
    assert.ok(Math.abs(mixed.aux - (0.7 * ce2(aux, y) + 0.3 * ce2(aux, y2))) < 1e-6);
    assert.ok(Math.abs(mixed.CrossEntropyLoss - (0.7 * ce2(out, y) + 0.3 * ce2(out, y2))) < 1e-6);
    assert.ok(Math.abs(ce2(aux, y) - ce2(aux, y2)) > 0.1, 'the two mask sets differ enough for the test to mean something');
  });
});

test("weighting 'gradnorm' with an aux head: balanced at the last layer both heads share (layer3), and a step moves the weights", () => {
  const cfg = { ...config(), loss: { weighting: 'gradnorm' as const, terms: [{ type: 'CrossEntropyLoss' as const }, { type: 'DiceLoss' as const }] } };
  const model = tasks.segmentation.buildModel(cfg, INFO);
  const lines: string[] = [];
  const loss = tasks.segmentation.buildLoss(cfg, INFO, model, (l) => lines.push(l));
  assert.ok(lines.includes('GradNorm: gradient norms balanced at backbone.layer3.1.conv2.weight (α 1.5)'), lines.join('\n'));
  torch.scope(() => {
    const x = torch.rand([2, 3, 32, 32]);
    const y = torch.tensor(BigInt64Array.from({ length: 2 * 32 * 32 }, (_, i) => BigInt(i % 3))).reshape(2, 32, 32);
    const { total, values } = loss.multi.forward(model.train().forward(x), y);
    total.backward();
    assert.deepEqual(Object.keys(values), ['CrossEntropyLoss', 'DiceLoss', 'aux']);
    assert.ok(Number.isFinite(total.item()));
    const w = Object.values(loss.multi.weights());
    assert.ok(w.some((v) => Math.abs(v - 1) > 1e-4), `GradNorm moved the weights: ${w}`);
  });
  model.dispose();
});

test("GradNorm's shared parameter: a name that is not found says what was looked for (the config's, or the model's own hint)", () => {
  const m = models.deeplabv3Resnet18({ numClasses: 3, width: 8, auxLoss: true });
  assert.deepEqual(gradNormParameter(m, 'deeplabv3_resnet18')[0], 'backbone.layer3.1.conv2.weight');
  assert.throws(() => gradNormParameter(m, 'deeplabv3_resnet18', 'head.nope'), /config: loss\.gradNorm\.parameter 'head\.nope' is not a parameter of deeplabv3_resnet18 \(e\.g\. /);
  // A model whose hint names no parameter of its own.
  const stale = Object.assign(m, { gradNormParameter: () => 'backbone.layer9.weight' });
  assert.throws(() => gradNormParameter(stale, 'deeplabv3_resnet18'), /GradNorm: deeplabv3_resnet18's gradNormParameter\(\) names 'backbone\.layer9\.weight', which is not one of its parameters; name one with loss\.gradNorm\.parameter/);
  assert.throws(() => gradNormParameter(new nn.ReLU(), 'relu'), /GradNorm: relu has no weight matrix/);
  m.dispose();
});

test('deeplabv3_resnet18 with an aux head trains through the Trainer (EMA, SWA, TTA, bf16 where it runs), logs the aux term, and its checkpoint evaluates with TTA', async () => {
  const dir = tmp();
  const cfg: tasks.SegmentationConfig = { ...config(), swa: { start: 2, lr: 0.005 }, ema: { decay: 0.9 }, tta: { flips: ['h'] }, train: { epochs: 2, amp: 'auto' } };
  const r = await new Trainer(cfg, { workDir: dir, quiet: true }).fit();
  assert.equal(r.amp, torch.bf16Support().available ? 'bf16' : 'fp32');
  for (const k of ['mIoU', 'aAcc', 'emaMIoU', 'modelMIoU', 'ttaMIoU']) assert.equal(typeof r.metrics[k], 'number', k);
  const epochs = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.trainLoss !== undefined);
  assert.deepEqual(Object.keys(epochs[1].lossTerms), ['CrossEntropyLoss', 'DiceLoss', 'aux']);
  assert.equal(epochs[1].lossWeights.aux, 0.3);
  for (const f of ['best.safetensors', 'ema.safetensors', 'swa.safetensors', 'epoch_2.safetensors']) assert.ok(existsSync(join(dir, f)), f);
  // The checkpoint holds the aux head (torchvision's keys) and evaluates with TTA views.
  const sd = torch.safetensors.loadFile(join(dir, 'epoch_2.safetensors'));
  assert.ok('aux_classifier.4.weight' in sd && 'classifier.0.convs.4.1.weight' in sd);
  torch.dispose(sd);
  const t = await evaluateCheckpoint({ ...cfg, train: { epochs: 2, amp: 'fp32' } }, join(dir, 'epoch_2.safetensors'), tmp(), { tta: true, quiet: true });
  assert.deepEqual(t.views!.map((v) => v.view), ['identity', 'flip-h', 'TTA (mean of 2 views)']);
  assert.equal(typeof t.metrics.mIoU, 'number');
});

test('models.deeplabv3Resnet18 through the task: width, outputStride and auxLoss reach the model', () => {
  const m = tasks.segmentation.buildModel(config(), INFO) as models.DeepLabV3;
  assert.ok(m instanceof models.DeepLabV3 && m.aux_classifier !== null);
  assert.equal((m.backbone as models.ResNetBackbone).outputStride, 16);
  assert.deepEqual(m.stateDict()['backbone.conv1.weight'].shape, [8, 3, 7, 7]);
  m.dispose();
});

test("model.pretrained: a torchvision ResNet-18 classifier's state dict initialises the dilated backbone (dilation changes no shape); fc is skipped, the heads kept", () => {
  const r18 = models.resnet18({ width: 8, numClasses: 10 });
  const file = join(tmp(), 'r18.safetensors');
  torch.safetensors.saveFile(r18.stateDict({ keys: 'torchvision' }), file);
  const lines: string[] = [];
  const cfg = { ...config(), model: { ...config().model, pretrained: file } };
  const m = tasks.segmentation.buildModel(cfg, INFO, (l) => lines.push(l)) as models.DeepLabV3;
  const n = Object.keys(r18.stateDict()).length - 2; // all but fc.weight, fc.bias
  assert.match(lines.join('\n'), new RegExp(`loaded ${n} tensors; skipped fc\\.bias, fc\\.weight; not in the file \\(kept as initialised\\): classifier\\.`));
  assert.ok(m.stateDict()['backbone.layer4.1.conv1.weight'].equal(r18.stateDict()['backbone.layer4.1.conv1.weight']));
  for (const x of [m, r18]) x.dispose();
});
