// The training engine end to end on a small slice of Fashion-MNIST: same seed
// → the same weights bit for bit; an interrupted and resumed run equals an
// uninterrupted one; metrics.json has the documented shape; configs with a
// wrong key or value fail with a message naming it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch } from 'arsenal';
import type { ClassificationConfig as Config } from 'arsenal';
import { Trainer } from '../src/engine/trainer.js';
import { validateConfig } from '../src/tasks/index.js';
import { applyOverrides } from '../src/config/overrides.js';
import { loadConfig } from '../src/engine/load_config.js';
import { TensorDataset } from '../src/data/dataset.js';
import { longTailSubset } from '../src/data/long_tail.js';

// A tiny recipe exercising every hook: warm-up + cosine per iteration, the
// batch augmentations (flip, crop, noise erasing from libtorch's generator,
// MixUp/CutMix soft targets switched off for the last epoch), label smoothing,
// paramwise rules, SWA for the last epoch, EMA, bf16 autocast where its
// kernels run ('auto': fp32 on a CPU without them, e.g. under ONEDNN_MAX_CPU_ISA=AVX2).
function tiny(): Config {
  return {
    task: 'classification',
    seed: 7,
    data: { dataset: 'fashion-mnist', batchSize: 32, testBatchSize: 250, trainSubset: 192, testSubset: 500, mean: [0.286], std: [0.353] },
    model: { name: 'resnet18', stem: 'small', width: 4 },
    optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9, weightDecay: 5e-4, paramwise: { normDecayMult: 0 } },
    schedule: { type: 'cosine', warmupEpochs: 0.5, etaMinRatio: 0.1 },
    augment: {
      train: [
        { type: 'RandomFlip', prob: 0.5 }, { type: 'RandomCrop', padding: 2 }, { type: 'RandomErasing', mode: 'pixel' },
        { type: 'Mixup', mixupAlpha: 0.2, cutmixAlpha: 1, mode: 'elem', offLastEpochs: 1 },
      ],
    },
    loss: { labelSmoothing: 0.1 },
    swa: { start: 3, lr: 0.01, annealEpochs: 1 },  // epochs 3 and 4 averaged
    ema: { decay: 0.9 },
    train: { epochs: 4, amp: 'auto', channelsLast: true, logInterval: 2 },
  };
}

const made: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-engine-')); made.push(d); return d; };
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const bytes = (dir: string, name: string) => readFileSync(join(dir, name));

test('same seed, same config: identical weights, bit for bit; resume equals uninterrupted', async () => {
  const a = tmp(), b = tmp(), c = tmp();
  const ra = await new Trainer(tiny(), { workDir: a, quiet: true }).fit();
  await new Trainer(tiny(), { workDir: b, quiet: true }).fit();
  assert.ok(bytes(a, 'epoch_4.safetensors').equals(bytes(b, 'epoch_4.safetensors')), 'two runs with one seed differ');
  assert.ok(bytes(a, 'swa.safetensors').equals(bytes(b, 'swa.safetensors')), 'SWA weights differ between identical runs');

  // Interrupted after epoch 1 (before SWA) and again after epoch 3 (SWA under way), then resumed.
  await new Trainer(tiny(), { workDir: c, quiet: true, stopAfterEpoch: 1 }).fit();
  await new Trainer(tiny(), { workDir: c, quiet: true, resume: true, stopAfterEpoch: 3 }).fit();
  const rc = await new Trainer(tiny(), { workDir: c, quiet: true, resume: true }).fit();
  assert.ok(bytes(a, 'epoch_4.safetensors').equals(bytes(c, 'epoch_4.safetensors')), 'resumed run differs from the uninterrupted one');
  assert.ok(bytes(a, 'epoch_4.state.safetensors').equals(bytes(c, 'epoch_4.state.safetensors')), 'optimizer/SWA/EMA state differs after resume');
  assert.equal(rc.metrics.accuracy, ra.metrics.accuracy);
  assert.ok(bytes(a, 'swa.safetensors').equals(bytes(c, 'swa.safetensors')), 'SWA weights differ after a resume during SWA');
  assert.ok(bytes(a, 'best.safetensors').equals(bytes(c, 'best.safetensors')), 'the best checkpoint differs after resume');

  // Native tensors do not pile up across runs (the trainers above are done).
  const live = torch.memory().tensors;
  await new Trainer(tiny(), { workDir: tmp(), quiet: true }).fit();
  assert.ok(torch.memory().tensors - live < 2000, `live tensors grew by ${torch.memory().tensors - live} over one run`);

  // A different seed gives different weights.
  const d = tmp();
  await new Trainer({ ...tiny(), seed: 8 }, { workDir: d, quiet: true }).fit();
  assert.ok(!bytes(a, 'epoch_4.safetensors').equals(bytes(d, 'epoch_4.safetensors')));

  // metrics.json as documented
  const m = JSON.parse(readFileSync(join(a, 'metrics.json'), 'utf8'));
  assert.deepEqual(Object.keys(m).sort(), ['amp', 'dataWaitShare', 'dataset', 'epochs', 'headline', 'imagesPerSecond', 'metrics', 'primaryMetric', 'seed', 'task', 'wallSeconds'].sort());
  assert.equal(m.primaryMetric, 'accuracy');
  assert.deepEqual(m.headline, ['accuracy', 'balancedAccuracy']);
  assert.equal(m.task, 'classification');
  assert.equal(m.dataset, 'fashion-mnist');
  assert.equal(m.seed, 7);
  assert.equal(m.amp, torch.bf16Support().available ? 'bf16' : 'fp32', "amp 'auto' follows what the bf16 kernels can do");
  assert.equal(JSON.parse(readFileSync(join(a, 'epoch_4.json'), 'utf8')).amp, m.amp, 'the checkpoint records the precision');
  assert.ok(m.metrics.accuracy >= 0 && m.metrics.accuracy <= 1, `accuracy ${m.metrics.accuracy}`);
  assert.ok(typeof m.metrics.modelAccuracy === 'number' && typeof m.metrics.emaAccuracy === 'number');
  assert.ok(m.imagesPerSecond > 0);
  // no temporary files left behind, the log is JSON lines
  assert.deepEqual(readdirSync(a).filter((f) => f.includes('.tmp')), []);
  const lines = readFileSync(join(a, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.testAccuracy !== undefined) && lines.some((l) => l.iter !== undefined));
  // checkpoint weights carry PyTorch's names
  const w = torch.safetensors.loadFile(join(a, 'epoch_4.safetensors'));
  assert.ok('backbone.layer1.0.conv1.weight' in w && 'backbone.bn1.running_mean' in w && 'head.fc.weight' in w);
  torch.dispose(w);
});

test("amp: 'auto' keeps the precision recorded in the checkpoint it resumes; an unusable 'bf16' is an error, not a crash", async () => {
  // Trained in fp32 for an epoch, then resumed with amp 'auto': fp32 to the end on any machine (even one with bf16),
  // and the weights equal an uninterrupted fp32 run's.
  const cfg = (amp: 'fp32' | 'auto'): Config => ({ ...tiny(), data: { ...tiny().data, trainSubset: 64, testSubset: 64 }, augment: undefined, swa: undefined, ema: undefined, train: { epochs: 2, amp } });
  const a = tmp(), b = tmp();
  const ra = await new Trainer(cfg('fp32'), { workDir: a, quiet: true }).fit();
  await new Trainer(cfg('fp32'), { workDir: b, quiet: true, stopAfterEpoch: 1 }).fit();
  const rb = await new Trainer(cfg('auto'), { workDir: b, resume: true, quiet: true }).fit();
  assert.equal(ra.amp, 'fp32');
  assert.equal(rb.amp, 'fp32', 'the resumed run kept fp32');
  assert.equal(JSON.parse(readFileSync(join(b, 'metrics.json'), 'utf8')).amp, 'fp32');
  assert.ok(bytes(a, 'epoch_2.safetensors').equals(bytes(b, 'epoch_2.safetensors')), 'resumed in another precision');
  if (!torch.bf16Support().available) {
    assert.throws(() => new Trainer({ ...cfg('fp32'), train: { epochs: 1, amp: 'bf16' } }, { workDir: tmp(), quiet: true }), /config\.train\.amp: 'bf16', but bf16 is not available here: .+ Use 'auto'/);
  }
});

test('config errors name the key and what was expected', () => {
  const bad = (mut: (c: any) => void) => { const c: any = tiny(); mut(c); return () => validateConfig(c); };
  assert.throws(bad((c) => { c.optimizer.momentun = 0.9; }), /config\.optimizer\.momentun: unknown key \(expected one of type, lr, momentum/);
  assert.throws(bad((c) => { c.optimizer.type = 'LAMB'; }), /config\.optimizer\.type: expected one of "SGD", "Adam", "AdamW", got "LAMB"/);
  assert.throws(bad((c) => { c.data.batchSize = 0; }), /config\.data\.batchSize: expected a value in \[1, 1000000\], got 0/);
  assert.throws(bad((c) => { delete c.train; }), /config\.train: missing/);
  assert.throws(bad((c) => { c.model.name = 'vgg'; }), /config\.model\.name: expected one of "resnet18"/);
  assert.throws(bad((c) => { c.swa.lr = 'x'; }), /config\.swa\.lr: expected a number, got "x"/);
  const c: any = tiny();
  applyOverrides(c, ['train.epochs=5', 'model.stem=imagenet', 'optimizer.paramwise.customKeys={"backbone":{"lrMult":0.1}}']);
  assert.equal(c.train.epochs, 5);
  assert.equal(c.model.stem, 'imagenet');
  assert.equal(c.optimizer.paramwise.customKeys.backbone.lrMult, 0.1);
  assert.throws(() => applyOverrides(c, ['novalue']), /expected key\.path=value/);
});

test('recipes load and validate; --set applies before validation', async () => {
  // Every recipe in configs/ (each validated by its task's schema).
  const { readdirSync } = await import('node:fs');
  const recipes = readdirSync('configs', { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => `configs/${f}`);
  assert.ok(recipes.length >= 7, recipes.join(', '));
  for (const r of recipes) {
    const cfg = await loadConfig(r);
    // The task is the folder's (segmentation/, detection/; the others classify); a *-backbone.ts pre-trains a backbone as a classifier.
    const folder = r.split('/')[1];
    assert.equal(cfg.task, ['segmentation', 'detection'].includes(folder) && !r.endsWith('-backbone.ts') ? folder : 'classification', r);
  }
  const cfg = await loadConfig('configs/fashion-mnist/tricks.ts', ['train.epochs=2']);
  assert.equal(cfg.train.epochs, 2);
  await assert.rejects(loadConfig('configs/fashion-mnist/tricks.ts', ['train.epoch=2']), /config\.train\.epoch: unknown key/);
  await assert.rejects(loadConfig('configs/nope.ts'), /no such file 'configs\/nope\.ts'/);
});

test('a swa.start past the last epoch is refused', async () => {
  const c = tiny();
  c.swa = { start: 9, lr: 0.01 };
  await assert.rejects(new Trainer(c, { workDir: tmp(), quiet: true }).fit(), /swa\.start \(9\) is past the last epoch \(4\)/);
  assert.ok(existsSync);
});

// Two epochs with a loss config on a small slice; an interrupted + resumed run must equal the uninterrupted one
// (weights and optimizer/loss state). Returns the config and the per-epoch log records.
async function lossRun(loss: Config['loss'], data: Partial<Config['data']> = {}) {
  const cfg = (): Config => ({
    ...tiny(),
    data: { ...tiny().data, trainSubset: 128, ...data },
    augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
    loss, swa: undefined, ema: undefined, train: { ...tiny().train, epochs: 2 },
  });
  const a = tmp(), b = tmp();
  await new Trainer(cfg(), { workDir: a, quiet: true }).fit();
  await new Trainer(cfg(), { workDir: b, quiet: true, stopAfterEpoch: 1 }).fit();
  await new Trainer(cfg(), { workDir: b, quiet: true, resume: true }).fit();
  assert.ok(bytes(a, 'epoch_2.safetensors').equals(bytes(b, 'epoch_2.safetensors')), `resume differs with ${JSON.stringify(loss)}`);
  assert.ok(bytes(a, 'epoch_2.state.safetensors').equals(bytes(b, 'epoch_2.state.safetensors')));
  const epochs = readFileSync(join(a, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.trainLoss !== undefined);
  return { cfg, epochs };
}

test('GradNorm weighting trains (balanced at fc.weight), logs its weights and resumes bit for bit', async () => {
  const { cfg, epochs } = await lossRun({ weighting: 'gradnorm', terms: [{ type: 'CrossEntropyLoss' }, { type: 'FocalLoss', weight: 0.5, gamma: 2 }] });
  const w = epochs[1].lossWeights;
  assert.ok(w.CrossEntropyLoss !== 1 && Math.abs(w.CrossEntropyLoss + w.FocalLoss / 0.5 - 2) < 1e-9, `λ moved and sums to 2: ${JSON.stringify(w)}`);
  await assert.rejects(new Trainer({ ...cfg(), loss: { ...(cfg().loss as object), gradNorm: { parameter: 'fc.wieght' } } }, { workDir: tmp(), quiet: true }).fit(), /loss\.gradNorm\.parameter 'fc\.wieght' is not a parameter of resnet18 \(e\.g\. .*fc\.weight\)/);
});

test('loss terms, class weights and uncertainty weighting train, log each term and resume bit for bit; long-tailed data', async () => {
  const { epochs } = await lossRun(
    { labelSmoothing: 0.1, classWeight: 'effective-number', classWeightBeta: 0.99, weighting: 'uncertainty', terms: [{ type: 'CrossEntropyLoss' }, { type: 'FocalLoss', weight: 0.5, gamma: 2 }] },
    { longTail: 4 },
  );
  assert.deepEqual(Object.keys(epochs[1].lossTerms), ['CrossEntropyLoss', 'FocalLoss']);
  assert.ok(epochs[1].lossWeights.FocalLoss !== 0.25, 'the learnt weight moved from ½·e⁰·0.5');
  // longTailSubset: class c keeps ⌊n_max · ratio^(−c/(K−1))⌋ (Cui et al. 2019).
  const labels = torch.arange(0, 200, 1).remainder(10);
  const ds = new TensorDataset(torch.zeros([200, 1, 2, 2], { dtype: 'uint8' }), labels, Array.from({ length: 10 }, (_, c) => String(c)));
  assert.deepEqual(longTailSubset(ds, 10).classCounts(), Array.from({ length: 10 }, (_, c) => Math.floor(20 * 10 ** (-c / 9))));
  assert.throws(() => longTailSubset(ds, 0.5), /ratio must be a number >= 1/);
  const bad = (l: unknown) => () => validateConfig({ ...tiny(), loss: l });
  assert.throws(bad({ classWeight: 'inverse-log' }), /config\.loss\.classWeight: expected one of "inverse", "inverse-sqrt", "median-frequency", "effective-number"/);
  assert.throws(bad([{ type: 'DiceLos' }]), /config\.loss\[0\]\.type: expected one of "CrossEntropyLoss", "FocalLoss", "DiceLoss"/);
  assert.throws(bad({ weighting: 'grad-norm' }), /config\.loss\.weighting: expected one of "fixed", "uncertainty", "dwa", "gradnorm"/);
  assert.throws(bad({ weighting: 'gradnorm', gradNorm: { alpha: -1 } }), /config\.loss\.gradNorm\.alpha/);
  validateConfig({ ...tiny(), loss: [{ type: 'FocalLoss', weight: 1 }, { type: 'DiceLoss', weight: 0.5 }] });
});
