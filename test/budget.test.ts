// The time budget (src/engine/budget.ts): the arithmetic of the plan checked
// by hand, and the plan's use: each epoch cut to the planned steps, the plan
// recorded in plan.json and metrics.json, and --resume reusing plan.json so a
// resumed run equals an uninterrupted one. The plans here are written by hand
// (what a machine measures is not asserted); one run measures its own plan
// with a budget no machine needs, so its epochs are whole.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, data, engine, Trainer, DataLoader, type Config } from 'arsenal';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-budget-')); made.push(d); return d; };

test('parseDuration: seconds, minutes, hours; anything else names the key', () => {
  assert.equal(engine.parseDuration('90s'), 90);
  assert.equal(engine.parseDuration('10m'), 600);
  assert.equal(engine.parseDuration('10min'), 600);
  assert.equal(engine.parseDuration('1.5h'), 5400);
  assert.equal(engine.parseDuration(45), 45);
  assert.throws(() => engine.parseDuration('ten minutes'), /train\.budget: expected a duration such as '90s'/);
  assert.throws(() => engine.parseDuration(-3), /train\.budget/);
});

test('stepsThatFit: the steps per epoch that fit, by hand', () => {
  const o = { budgetSeconds: 600, setupSeconds: 20, epochs: 10, batchSize: 100, fullStepsPerEpoch: 500, trainIps: 100, evalIps: 1000, testImages: 1000, evalPasses: 12, swa: false };
  // fixed: 20 s set-up + 12 passes × 1 s + 10 epochs × 1 s = 42 s; a step of every epoch: 10 × 100 / 100 = 10 s;
  // The plan fills 88% of the budget: (600 × 0.88 − 42) / 10 = 48.6 → 48 steps, 42 + 480 = 522 s.
  assert.deepEqual(engine.stepsThatFit(o), { steps: 48, estimatedSeconds: 522 });
  // With SWA, each step's batch is also forwarded once to recompute BatchNorm (evaluation speed):
  // fixed 20 + 12 × 1000 / 100 + 10 = 150 s; a step 10 + 100 / 100 = 11 s; (528 − 150) / 11 = 34.4 → 34.
  const swa = engine.stepsThatFit({ ...o, swa: true, evalIps: 100 });
  assert.deepEqual(swa, { steps: 34, estimatedSeconds: 150 + 34 * 11 });
  // Never more than a whole epoch.
  assert.equal(engine.stepsThatFit({ ...o, budgetSeconds: 1e6 }).steps, 500);
  assert.throws(() => engine.stepsThatFit({ ...o, budgetSeconds: 50 }), /train\.budget: 50 s is too short: set-up, evaluation and one step per epoch take about 52 s/);
});

test('evalPasses counts every evaluation of the test set', () => {
  const cfg = { train: { epochs: 12, evalInterval: 5 }, ema: {}, swa: { start: 0.75, lr: 0.01 }, tta: { flips: ['h'] } } as unknown as Config;
  // Epochs 5, 10 and the last; EMA; SWA; identity and flip-h.
  assert.equal(engine.evalPasses(cfg), 3 + 1 + 1 + 2);
});

test('DataLoader maxBatches: the first batches of the same shuffled order, and a clear error', async () => {
  const ds = new data.TensorDataset(torch.arange(10).reshape(10, 1, 1, 1).to('uint8'), torch.zeros([10], { dtype: 'int64' }), ['a']);
  const all = new DataLoader(ds, { batchSize: 3, shuffle: true, dropLast: true, seed: 4 });
  const cut = new DataLoader(ds, { batchSize: 3, shuffle: true, dropLast: true, seed: 4, maxBatches: 2 });
  assert.equal(all.length, 3);
  assert.equal(cut.length, 2);
  for (const epoch of [1, 2]) {
    all.setEpoch(epoch);
    cut.setEpoch(epoch);
    const a: number[][] = [], c: number[][] = [];
    for await (const b of all) a.push(b.indices);
    for await (const b of cut) c.push(b.indices);
    assert.deepEqual(c, a.slice(0, 2));
  }
  assert.throws(() => new DataLoader(ds, { batchSize: 3, maxBatches: 0 }), /DataLoader: maxBatches must be a positive integer, got 0/);
});

// ---- the plan in a run ------------------------------------------------------------------------------------
const N = 48, BATCH = 8;
function sets(): { train: data.TensorDataset; test: data.TensorDataset } {
  const g = new data.Rng(3);
  const px = Uint8Array.from({ length: N * 64 }, () => g.int(0, 256));
  const images = torch.tensor(px, { dtype: 'uint8' }).reshape(N, 1, 8, 8);
  const labels = torch.tensor(BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 3)));
  return { train: new data.TensorDataset(images, labels, ['a', 'b', 'c']), test: new data.TensorDataset(images.narrow(0, 0, 16).contiguous(), labels.narrow(0, 0, 16).contiguous(), ['a', 'b', 'c']) };
}
const config = (budget: string): Config => ({
  task: 'classification',
  seed: 9,
  data: { dataset: 'fashion-mnist', batchSize: BATCH, mean: [0.5], std: [0.25] },
  model: { name: 'resnet18', stem: 'small', width: 2 },
  optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9 },
  schedule: { type: 'cosine', warmupEpochs: 1 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  swa: { start: 3, lr: 0.01 },
  ema: { decay: 0.9 },
  train: { epochs: 3, amp: 'fp32', budget },
});

/** A hook of the test's own (TrainerOptions.hooks): optimizer steps per epoch. */
function stepCounter(): { hook: engine.Hook; steps: Map<number, number> } {
  const steps = new Map<number, number>();
  return { steps, hook: { name: 'count', afterStep: (_t, s) => { steps.set(s.epoch, (steps.get(s.epoch) ?? 0) + 1); } } };
}

const handPlan = { budgetSeconds: 600, stepsPerEpoch: 2, fullStepsPerEpoch: N / BATCH, epochs: 3, trainImages: 2 * BATCH * 3, trainImagesPerSecond: 100, evalImagesPerSecond: 400, setupSeconds: 1, estimatedSeconds: 30, amp: 'fp32', threads: 1, cpu: 'written by hand' };

test('a plan cuts each epoch to its steps, and --resume reuses plan.json: a resumed run equals an uninterrupted one', async () => {
  const ds = sets();
  const a = tmp(), b = tmp();
  for (const d of [a, b]) writeFileSync(join(d, 'plan.json'), JSON.stringify(handPlan));
  // a: interrupted after epoch 1, then resumed; b: uninterrupted (--resume with no checkpoint yet starts from scratch, with the plan).
  const ca = stepCounter();
  await new Trainer(config('10m'), { workDir: a, quiet: true, resume: true, datasets: ds, stopAfterEpoch: 1, hooks: [ca.hook] }).fit();
  const ra = await new Trainer(config('10m'), { workDir: a, quiet: true, resume: true, datasets: ds, hooks: [ca.hook] }).fit();
  const cb = stepCounter();
  const rb = await new Trainer(config('10m'), { workDir: b, quiet: true, resume: true, datasets: ds, hooks: [cb.hook] }).fit();
  assert.deepEqual([...ca.steps], [[1, 2], [2, 2], [3, 2]]);
  assert.deepEqual([...cb.steps], [[1, 2], [2, 2], [3, 2]]);
  assert.deepEqual(rb.plan, handPlan);
  assert.deepEqual(JSON.parse(readFileSync(join(b, 'metrics.json'), 'utf8')).plan, handPlan);
  assert.deepEqual(ra.metrics, rb.metrics);
  for (const f of ['epoch_3.safetensors', 'swa.safetensors', 'ema.safetensors']) {
    const wa = torch.safetensors.loadFile(join(a, f)), wb = torch.safetensors.loadFile(join(b, f));
    for (const [k, v] of Object.entries(wa)) assert.ok(v.equal(wb[k]), `${f}: ${k} differs between the resumed and the uninterrupted run`);
  }
});

test('without a plan to reuse, the run measures one and writes it (a budget no machine needs: whole epochs)', async () => {
  const d = tmp();
  const c = stepCounter();
  const r = await new Trainer(config('24h'), { workDir: d, quiet: true, datasets: sets(), hooks: [c.hook] }).fit();
  assert.ok(existsSync(join(d, 'plan.json')));
  const plan = JSON.parse(readFileSync(join(d, 'plan.json'), 'utf8'));
  assert.deepEqual(r.plan, plan);
  assert.equal(plan.budgetSeconds, 86400);
  assert.equal(plan.stepsPerEpoch, N / BATCH);
  assert.ok(plan.trainImagesPerSecond > 0 && plan.evalImagesPerSecond > 0 && plan.threads >= 1);
  assert.deepEqual([...c.steps], [[1, 6], [2, 6], [3, 6]]);
  // The same config without a budget trains the same weights: measuring touches neither libtorch's generator nor the run's.
  const plain = tmp();
  const cfg = config('24h');
  delete cfg.train.budget;
  await new Trainer(cfg, { workDir: plain, quiet: true, datasets: sets() }).fit();
  const w1 = torch.safetensors.loadFile(join(d, 'epoch_3.safetensors')), w2 = torch.safetensors.loadFile(join(plain, 'epoch_3.safetensors'));
  for (const [k, v] of Object.entries(w1)) assert.ok(v.equal(w2[k]), `${k}: measuring the plan changed the run`);
});

test('--resume with a plan made for another budget, epoch count or data is refused, naming both', async () => {
  const d = tmp();
  writeFileSync(join(d, 'plan.json'), JSON.stringify(handPlan));
  const cfg = config('20m');
  await assert.rejects(new Trainer(cfg, { workDir: d, quiet: true, resume: true, datasets: sets() }).fit(),
    /--resume: .*plan\.json was planned for \{"budgetSeconds":600,"epochs":3,"fullStepsPerEpoch":6\}, the config now gives \{"budgetSeconds":1200,"epochs":3,"fullStepsPerEpoch":6\}/);
});
