// A task written only here — regression of an image's mean brightness — trains
// through the same Trainer (EMA, SWA, TTA, the best checkpoint), `arsenal
// test --tta` (evaluateCheckpoint) and ensembles (runEnsemble) as
// classification does, with no change to src/: the proof that a new task
// needs no task switches. The assertions hold for any CPU's kernels: the
// merges are means, so the merged error is at most the mean of the parts'
// errors (|mean(p) − y| ≤ mean|p − y|), whatever the models predict.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, nn, data, losses, config as C, Trainer, registerTask, validateConfig, evaluateCheckpoint, runEnsemble, type Task, type Tensor } from 'arsenal';

const { obj, req, opt, num, oneOf } = C.schema;
const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-toy-')); made.push(d); return d; };

const B = C.BASE_SHAPE;
const BRIGHTNESS = obj({
  task: req(oneOf('brightness')),
  seed: B.seed,
  data: req(obj({ ...C.DATA_COMMON, images: req(num(8, 1e5, true)) })),
  model: req(obj({ name: req(oneOf('tiny-cnn')), width: opt(num(1, 64, true)) })),
  optimizer: B.optimizer, schedule: B.schedule, augment: B.augment, swa: B.swa, ema: B.ema,
  tta: opt(C.ttaSection(['mean'])),
  train: B.train,
});
type BrightnessConfig = C.schema.Infer<typeof BRIGHTNESS>;

/** N 1×12×12 images of random brightness; the target (a one-column soft label) is the mean pixel in 0–1. */
function brightnessSet(n: number, seed: number): data.TensorDataset {
  const g = new data.Rng(seed);
  const px = new Uint8Array(n * 144);
  for (let i = 0; i < n; i++) {
    const level = g.int(20, 200);
    for (let j = 0; j < 144; j++) px[i * 144 + j] = level + g.int(0, 50);
  }
  const images = torch.tensor(px, { dtype: 'uint8' }).reshape(n, 1, 12, 12);
  const mean = images.float().div(255).mean([1, 2, 3]).reshape(n, 1);
  return new data.TensorDataset(images, mean, ['brightness']);
}

type MaeState = { absSum: number; sqSum: number; count: number };
class MaeMeter {
  s: MaeState = { absSum: 0, sqSum: 0, count: 0 };
  update(pred: Tensor, target: Tensor): void {
    torch.scope(() => {
      const d = pred.sub(target);
      this.s.absSum += d.abs().sum().item();
      this.s.sqSum += d.pow(2).sum().item();
      this.s.count += target.shape[0];
    });
  }
  compute() { return { mae: this.s.absSum / this.s.count, loss: this.s.sqSum / this.s.count }; }
  state(): MaeState { return { ...this.s }; }
  merge(o: MaeState): void { this.s.absSum += o.absSum; this.s.sqSum += o.sqSum; this.s.count += o.count; }
}

const brightness: Task<BrightnessConfig, Tensor, Tensor, Tensor> = {
  name: 'brightness',
  primaryMetric: 'mae',
  rule: 'less',
  schema: BRIGHTNESS,
  merges: ['mean'],
  datasets: async (cfg) => ({ train: brightnessSet(cfg.data.images, 1), test: brightnessSet(40, 2) }),
  buildModel: (cfg, info) => {
    const w = cfg.model.width ?? 4;
    return new nn.Sequential(new nn.Conv2d(info.inChannels, w, 3, { padding: 1 }), new nn.BatchNorm2d(w), new nn.ReLU(), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Linear(w, 1));
  },
  buildLoss: () => ({ multi: new losses.MultiLoss<[Tensor, Tensor]>([{ name: 'mse', fn: (out, y) => out.sub(y).pow(2).mean() }]), describe: ['loss: mean squared error'] }),
  batchTargets: (b) => ({ labels: b.labels }),
  targets: (b) => b.labels!,
  decode: (out) => out,
  meter: () => new MaeMeter(),
  // Brightness does not move with the pixels.
  invert: (_view, p) => p,
  merge: (preds, o) => {
    const w = o.weights ?? preds.map(() => 1);
    const total = w.reduce((a, b) => a + b, 0);
    return preds.map((p, i) => p.mul(w[i] / total)).reduce((a, b) => a.add(b));
  },
  selectPseudo: (p) => ({ indices: Array.from({ length: p.shape[0] }, (_, i) => i), targets: p }),
};
registerTask(brightness);

const config = (over: Partial<BrightnessConfig> = {}): BrightnessConfig => ({
  task: 'brightness',
  seed: 5,
  data: { images: 64, batchSize: 16, mean: [0.5], std: [0.25] },
  model: { name: 'tiny-cnn', width: 4 },
  optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9 },
  schedule: { type: 'cosine', warmupEpochs: 1 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  swa: { start: 3, lr: 0.01 },
  ema: { decay: 0.9 },
  tta: { flips: ['h', 'v'] },
  train: { epochs: 4, amp: 'fp32' },
  ...over,
});

test('a task written in a test file validates its own config through the registry', () => {
  validateConfig(config());
  assert.throws(() => validateConfig({ ...config(), model: { name: 'resnet18' } }), /config\.model\.name.*tiny-cnn/);
  assert.throws(() => validateConfig({ ...config(), data: { batchSize: 16 } }), /config\.data\.images/);
});

test('the toy task trains through the Trainer with EMA, SWA, TTA and the best checkpoint (lower MAE is better)', async () => {
  const dir = tmp();
  const r = await new Trainer(config(), { workDir: dir, quiet: true }).fit();
  for (const k of ['mae', 'loss', 'emaMae', 'modelMae', 'ttaMae']) assert.ok(Number.isFinite(r.metrics[k]), `metrics.${k}: ${r.metrics[k]}`);
  assert.equal(r.metrics.ttaLoss, undefined, 'TTA reports the task metrics, not its loss');
  for (const f of ['best.safetensors', 'ema.safetensors', 'swa.safetensors', 'epoch_4.safetensors']) assert.ok(existsSync(join(dir, f)), f);
  // The best checkpoint is the epoch of the least test MAE (Task.rule 'less').
  const epochs = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.testMae !== undefined);
  assert.equal(epochs.length, 4);
  const least = Math.min(...epochs.map((e) => e.testMae));
  const meta = torch.safetensors.loadFileWithMetadata(join(dir, 'best.safetensors')).metadata;
  assert.equal(Number(meta.mae), least);
  assert.equal(Number(meta.epoch), epochs.find((e) => e.testMae === least).epoch);
});

test('the toy task goes through arsenal test --tta and ensembles: merged MAE ≤ the mean of the parts', async () => {
  const dir = tmp();
  await new Trainer(config({ swa: undefined }), { workDir: dir, quiet: true }).fit();
  const t = await evaluateCheckpoint(config(), join(dir, 'epoch_4.safetensors'), tmp(), { tta: true, quiet: true });
  const views = t.views!;
  assert.deepEqual(views.map((v) => v.view).slice(0, 3), ['identity', 'flip-h', 'flip-v']);
  const single = views.slice(0, 3).map((v) => v.mae as number);
  assert.ok(t.metrics.mae <= single.reduce((a, b) => a + b) / 3 + 1e-6, `TTA MAE ${t.metrics.mae} vs views ${single}`);

  const members = ['epoch_1.safetensors', 'epoch_4.safetensors', 'ema.safetensors'].map((f) => ({ cfg: config(), config: 'toy', checkpoint: join(dir, f) }));
  const { rows, ensemble } = await runEnsemble(members, { workDir: tmp(), quiet: true });
  const mean = rows.reduce((a, r) => a + (r.mae as number), 0) / rows.length;
  assert.ok((ensemble.mae as number) <= mean + 1e-6, `ensemble MAE ${ensemble.mae} vs members' mean ${mean}`);
  // Weights are the task's to apply: all weight on one member gives that member.
  const one = await runEnsemble(members, { workDir: tmp(), quiet: true, weights: [0, 1, 0] });
  assert.ok(Math.abs((one.ensemble.mae as number) - (rows[1].mae as number)) < 1e-6);
  assert.throws(() => brightness.schema({ ...config(), tta: { merge: 'median' } }, 'config'), /config\.tta\.merge/);
});

test("a meter's state merged into another equals one meter over all the batches (evaluation sharded over processes)", () => {
  const p = torch.tensor([0.1, 0.5, 0.9, 0.3, 0.7, 0.2], { dtype: 'float32' }).reshape(6, 1);
  const y = torch.tensor([0.2, 0.5, 0.6, 0.1, 0.7, 0.4], { dtype: 'float32' }).reshape(6, 1);
  const whole = new MaeMeter(), a = new MaeMeter(), b = new MaeMeter();
  whole.update(p, y);
  a.update(p.narrow(0, 0, 2), y.narrow(0, 0, 2));
  b.update(p.narrow(0, 2, 4), y.narrow(0, 2, 4));
  a.merge(b.state());
  // Equal up to float32 summation order within a batch.
  assert.ok(Math.abs(a.compute().mae - whole.compute().mae) < 1e-6);
  assert.equal(a.state().count, 6);
  assert.ok(Math.abs(whole.compute().mae - 0.8 / 6) < 1e-6); // |Δ| = 0.1, 0, 0.3, 0.2, 0, 0.2
});
