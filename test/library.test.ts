// Arsenal as a library: everything comes from 'arsenal' and its subpath
// exports (the package's self-reference), never from relative paths. A model
// trains from code with train(config) and with a hand-written loop; the
// assertions hold for any numerics (shapes, files, keys, changed weights),
// never an accuracy.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as arsenal from 'arsenal';
import { torch, F, nn, optim, data, models, engine, train, resnet18, TensorDataset, DataLoader, type Config, type Tensor } from 'arsenal';
import * as modelsPath from 'arsenal/models';
import * as dataPath from 'arsenal/data';
import * as enginePath from 'arsenal/engine';
import * as torchPath from 'arsenal/torch';
import * as nnPath from 'arsenal/nn';
import * as optimPath from 'arsenal/optim';
import * as lossesPath from 'arsenal/losses';
import * as metricsPath from 'arsenal/metrics';
import * as inferPath from 'arsenal/infer';
import * as augmentPath from 'arsenal/augment';

const made: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-library-')); made.push(d); return d; };
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

test('the root exports each namespace, the same objects as its subpath, and the entry points by name', () => {
  const pairs: [string, object, object][] = [
    ['models', arsenal.models, modelsPath], ['data', arsenal.data, dataPath], ['engine', arsenal.engine, enginePath],
    ['torch', arsenal.torch, torchPath], ['nn', arsenal.nn, nnPath], ['optim', arsenal.optim, optimPath], ['losses', arsenal.losses, lossesPath],
    ['metrics', arsenal.metrics, metricsPath], ['infer', arsenal.infer, inferPath], ['augment', arsenal.augment, augmentPath],
  ];
  for (const [name, root, sub] of pairs) {
    assert.deepEqual(Object.keys(root).sort(), Object.keys(sub).sort(), `arsenal.${name} and 'arsenal/${name}' export the same names`);
    for (const k of Object.keys(sub)) assert.equal((root as any)[k], (sub as any)[k], `arsenal.${name}.${k}`);
  }
  // By name at the root: the same objects as in their namespaces.
  const named: [unknown, unknown][] = [
    [arsenal.train, engine.train], [arsenal.Trainer, engine.Trainer], [arsenal.loadConfig, engine.loadConfig], [arsenal.validateConfig, engine.validateConfig],
    [arsenal.applyOverrides, engine.applyOverrides], [arsenal.pseudoLabel, arsenal.commands.pseudoLabel], [arsenal.runEnsemble, arsenal.commands.runEnsemble],
    [arsenal.evaluateCheckpoint, arsenal.commands.evaluateCheckpoint], [arsenal.registerTask, arsenal.tasks.registerTask], [arsenal.validateConfig, arsenal.tasks.validateConfig], [arsenal.buildModel, models.buildModel], [arsenal.resnet18, models.resnet18],
    [arsenal.resnet34, models.resnet34], [arsenal.resnet50, models.resnet50], [arsenal.ResNet, models.ResNet], [arsenal.loadPretrained, models.loadPretrained],
    [arsenal.DataLoader, data.DataLoader], [arsenal.TensorDataset, data.TensorDataset], [arsenal.fashionMnist, data.fashionMnist],
    [arsenal.TTA, arsenal.infer.TTA], [arsenal.mergeProbs, arsenal.infer.mergeProbs], [arsenal.Tensor, torch.Tensor],
  ];
  named.forEach(([a, b], i) => assert.ok(typeof a === 'function' && a === b, `root export #${i}`));
  for (const f of [arsenal.metrics.scoreLogits, arsenal.losses.softmaxFocalLoss, arsenal.commands.selectConfident, arsenal.commands.stratifiedSplit, optim.SGD, nn.Conv2d, F.crossEntropy])
    assert.equal(typeof f, 'function');
  assert.deepEqual(models.modelNames(), ['resnet18', 'resnet34', 'resnet50', 'mobilenet_v3_large']);
});

/** 96 images [1,16,16] in 3 classes, each class a brighter band in another third of the image: learnable, made in the test. */
function bands(n: number, seed: number): TensorDataset {
  torch.manualSeed(seed);
  return torch.scope(() => {
    const labels = torch.arange(0, n, 1, { dtype: 'int64' }).remainder(3);
    const rows = torch.arange(0, 16, 1, { dtype: 'int64' }).div(6, 'floor').reshape(1, 1, 16, 1);
    const band = rows.eq(labels.reshape(n, 1, 1, 1)).float().expand(n, 1, 16, 16);
    const images = band.mul(0.6).add(torch.rand(n, 1, 16, 16).mul(0.4));
    return new TensorDataset(images, labels, ['top', 'middle', 'bottom']);
  });
}

function tinyConfig(): Config {
  return {
    task: 'classification',
    seed: 3,
    data: { dataset: 'fashion-mnist', batchSize: 16 }, // the datasets option below replaces the dataset; batch size and normalisation apply
    model: { name: 'resnet18', stem: 'small', width: 4 },
    optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9 },
    schedule: { type: 'cosine' },
    train: { epochs: 2 },
  };
}

test('train(config) runs to completion from code: metrics, work dir, checkpoint, trained model', async () => {
  const dir = tmp();
  const trainSet = bands(96, 1), testSet = bands(30, 2);
  // Start from known weights (pretrained), so the test can see that they moved.
  const init = resnet18({ stem: 'small', width: 4, numClasses: 3, inChannels: 1 });
  const initFile = join(dir, 'init.safetensors');
  torch.safetensors.saveFile(init.stateDict({ keys: 'torchvision' }), initFile);
  const cfg = tinyConfig();
  cfg.model.pretrained = initFile;
  const frozen = JSON.stringify(cfg);

  const run = await train(cfg, { workDir: join(dir, 'run'), quiet: true, datasets: { train: trainSet, test: testSet } });
  assert.equal(JSON.stringify(cfg), frozen, 'train() does not modify the config');
  assert.equal(run.workDir, join(dir, 'run'));
  assert.equal(run.epochs, 2);
  assert.equal(run.seed, 3);
  for (const k of ['accuracy', 'balancedAccuracy', 'loss']) assert.ok(Number.isFinite(run.metrics[k]), `metrics.${k}`);
  assert.ok(run.metrics.accuracy >= 0 && run.metrics.accuracy <= 1);
  assert.deepEqual(JSON.parse(readFileSync(join(run.workDir, 'metrics.json'), 'utf8')).metrics, run.metrics);
  assert.equal(run.checkpoint, join(run.workDir, 'epoch_2.safetensors'));
  assert.ok(existsSync(run.checkpoint) && existsSync(join(run.workDir, 'log.jsonl')));
  assert.equal(run.config.model.pretrained, initFile);

  // The returned model is the trained one, in eval mode; its weights moved from the initial ones and are the checkpoint's.
  const model = run.model as models.ResNet;
  assert.ok(model instanceof models.ResNet);
  assert.equal(model.training, false);
  const y = torch.noGrad(() => model.forward(torch.zeros(5, 1, 16, 16)));
  assert.deepEqual(y.shape, [5, 3]);
  y.dispose();
  const now = model.stateDict(), before = init.stateDict();
  for (const k of ['backbone.conv1.weight', 'backbone.layer4.1.conv2.weight', 'head.fc.weight', 'backbone.bn1.running_mean'])
    assert.ok(!now[k].equal(before[k]), `${k} changed in training`);
  const saved = torch.safetensors.loadFile(run.checkpoint);
  for (const [k, t] of Object.entries(now)) assert.ok(saved[k].equal(t), `${k}: the checkpoint holds the returned model`);
  const reloaded = resnet18({ stem: 'small', width: 4, numClasses: 3, inChannels: 1 });
  reloaded.loadStateDict(saved);
  torch.dispose(saved);
  for (const m of [init, model, reloaded]) m.dispose();
  trainSet.dispose();
  testSet.dispose();
});

test('train(): a bad config or option is an error naming it', async () => {
  const cfg = tinyConfig();
  await assert.rejects(train({ ...cfg, optimizer: { ...cfg.optimizer, momentun: 0.9 } as never }), /config\.optimizer\.momentun: unknown key/);
  await assert.rejects(train(cfg, { workdir: 'x' } as never), /train: unknown option 'workdir'.*workDir/);
  await assert.rejects(train(cfg, { overrides: 'train.epochs=1' as never }), /options\.overrides must be an array/);
  await assert.rejects(train(cfg, { overrides: ['train.epochs=0'] }), /config\.train\.epochs: expected a value in \[1/);
  await assert.rejects(train(cfg, { datasets: { train: [] } as never }), /options\.datasets must be \{ train, test \}/);
  await assert.rejects(train(42 as never), /expected a Config object or the path of a recipe file/);
  await assert.rejects(train('no/such/recipe.ts'), /no such file 'no\/such\/recipe\.ts'/);
});

test('a hand-written PyTorch-style loop with the root exports: models, optim, DataLoader, F', async () => {
  const ds = bands(32, 4);
  const model = models.resnet18({ stem: 'small', width: 4, numClasses: 3, inChannels: 1 });
  const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const before = model.head.fc.weight.clone();
  const loader = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 1 });
  let steps = 0;
  for await (const b of loader) {
    const loss = torch.scope(() => {
      const l = F.crossEntropy(model.forward(b.images.float()), b.labels);
      l.backward();
      return l.item();
    });
    opt.step();
    opt.zeroGrad();
    torch.dispose([b.images, b.labels]);
    assert.ok(Number.isFinite(loss));
    steps++;
  }
  assert.equal(steps, 4);
  assert.ok(!model.head.fc.weight.equal(before), 'the classifier moved');
  for (const t of [before] as Tensor[]) t.dispose();
  model.dispose();
  ds.dispose();
});
