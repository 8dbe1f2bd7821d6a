// The Trainer is a loop plus hooks, nothing more: the same steps written by
// hand with the library's parts — the seeded generators, the loader, the batch
// pipeline, ResNet, SGD, warm-up + cosine per iteration, label-smoothed
// cross-entropy, EMA — give the trainer's weights bit for bit, in one process
// (so whatever this CPU's kernels compute, both compute the same).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, F, optim, data, models, augment, Trainer, type Config } from 'arsenal';
import { quadrantSets } from './helpers/quadrants.js';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

const SEED = 11, K = 4, N = 96, EPOCHS = 3, BATCH = 16, MEAN = 0.3, STD = 0.35;

const sets = () => quadrantSets(N, 32);

const config = (): Config => ({
  task: 'classification',
  seed: SEED,
  data: { dataset: 'fashion-mnist', batchSize: BATCH, mean: [MEAN], std: [STD] },
  model: { name: 'resnet18', stem: 'small', width: 4 },
  optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  schedule: { type: 'cosine', warmupEpochs: 0.5, warmupStartFactor: 0.2, etaMinRatio: 0.1 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }, { type: 'Mixup', mixupAlpha: 0.4, cutmixAlpha: 1, mode: 'elem' }] },
  loss: { labelSmoothing: 0.1 },
  ema: { decay: 0.9 },
  train: { epochs: EPOCHS, amp: 'fp32', channelsLast: true },
});

async function handLoop(cfg: Config, ds: { train: data.TensorDataset }): Promise<{ model: Record<string, torch.Tensor>; ema: Record<string, torch.Tensor> }> {
  torch.manualSeed(SEED);
  // The trainer's JS-side stream for batch augmentations (its loader derives epoch e's order from (seed, e)).
  const rng = new data.Rng(data.Rng.derive(SEED, 0xa06, 1));
  const model = models.buildModel({ name: 'resnet18', stem: 'small', width: 4, numClasses: K, inChannels: 1 });
  model.toMemoryFormat('channelsLast');
  const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const loader = new data.DataLoader(ds.train, { batchSize: BATCH, shuffle: true, dropLast: true, seed: SEED });
  const perEpoch = loader.length, total = EPOCHS * perEpoch, warm = Math.round(0.5 * perEpoch);
  const S = optim.lrScheduler;
  const schedule = new S.SequentialLR(opt, [new S.LinearLR(opt, 0.2, 1, warm), new S.CosineAnnealingLR(opt, total - warm, 0.1 * 0.05)], [warm]);
  const ema = new optim.ModelEma(model, { decay: 0.9 });
  const pipeline = new augment.BatchPipeline(cfg.augment!.train!);
  const ctx = { rng, mean: [MEAN], std: [STD], numClasses: K };
  const mean = torch.tensor([MEAN], { dtype: 'float32' }).reshape(1, 1, 1, 1).keep(), std = torch.tensor([STD], { dtype: 'float32' }).reshape(1, 1, 1, 1).keep();
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    model.train();
    loader.setEpoch(epoch);
    for await (const b of loader) {
      torch.scope(() => {
        const batch = pipeline.apply({ images: b.images.float().div(255).sub(mean).div(std), labels: b.labels }, ctx, epoch, EPOCHS);
        const loss = F.crossEntropy(model.forward(batch.images.contiguous('channelsLast')), batch.labels!, { labelSmoothing: 0.1 });
        loss.backward();
        opt.step();
        opt.zeroGrad();
        loss.item();
      });
      torch.dispose([b.images, b.labels]);
      schedule.step();
      ema.update(model);
    }
  }
  return { model: model.stateDict(), ema: ema.module.stateDict() };
}

test('the trainer equals a hand-written loop of the same steps, bit for bit', async () => {
  const ds = sets();
  const dir = mkdtempSync(join(tmpdir(), 'arsenal-loop-'));
  made.push(dir);
  await new Trainer(config(), { workDir: dir, quiet: true, datasets: ds }).fit();
  const hand = await handLoop(config(), ds);
  const trained = torch.safetensors.loadFile(join(dir, `epoch_${EPOCHS}.safetensors`));
  const ema = torch.safetensors.loadFile(join(dir, 'ema.safetensors'));
  assert.deepEqual(Object.keys(trained).sort(), Object.keys(hand.model).sort());
  for (const [k, v] of Object.entries(hand.model)) assert.ok(trained[k].equal(v), `weights: ${k} differs from the hand-written loop's`);
  for (const [k, v] of Object.entries(hand.ema)) assert.ok(ema[k].equal(v), `EMA: ${k} differs from the hand-written loop's`);
});
