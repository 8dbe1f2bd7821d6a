// A user's hooks (TrainerOptions.hooks) run after the tricks' hooks and before
// logging and checkpointing: what they add to an epoch's record reaches
// log.jsonl, and their state is saved with the epoch, so a resumed run equals
// an uninterrupted one for them too. Hook names prefix checkpoint tensors:
// duplicates and the trainer's own prefixes are refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, data, engine, Trainer, type Config } from 'arsenal';

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-hooks-')); made.push(d); return d; };

function sets(): { train: data.TensorDataset; test: data.TensorDataset } {
  const g = new data.Rng(5);
  const images = torch.tensor(Uint8Array.from({ length: 32 * 64 }, () => g.int(0, 256)), { dtype: 'uint8' }).reshape(32, 1, 8, 8);
  const labels = torch.tensor(BigInt64Array.from({ length: 32 }, (_, i) => BigInt(i % 2)));
  return { train: new data.TensorDataset(images, labels, ['a', 'b']), test: new data.TensorDataset(images, labels, ['a', 'b']) };
}
const config = (): Config => ({
  task: 'classification', seed: 3,
  data: { dataset: 'fashion-mnist', batchSize: 8 },
  model: { name: 'resnet18', stem: 'small', width: 2 },
  optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9 },
  ema: { decay: 0.9 },
  train: { epochs: 3, amp: 'fp32' },
});

/** Sums the loss of every step (state: a tensor and a number) and writes the running sum into each epoch's record. */
class LossSum implements engine.Hook {
  name = 'lossSum';
  sum = torch.zeros([1]).keep();
  steps = 0;
  afterStep(_t: Trainer, s: engine.StepInfo): void { torch.noGrad(() => this.sum.add_(s.loss)); this.steps++; }
  afterEpoch(_t: Trainer, _e: number, record: engine.EpochRecord): void { record.lossSum = this.sum.item(); record.steps = this.steps; }
  stateDict() { return { tensors: { sum: this.sum }, meta: { steps: this.steps } }; }
  loadStateDict(s: { tensors: Record<string, torch.Tensor>; meta: { steps: number } }): void { torch.noGrad(() => this.sum.copy_(s.tensors.sum)); this.steps = s.meta.steps; }
}
const records = (dir: string) => readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.trainLoss !== undefined);

test("a user's hook: its record fields are logged, its state is checkpointed, resume equals an uninterrupted run", async () => {
  const ds = sets();
  const a = tmp(), b = tmp();
  await new Trainer(config(), { workDir: a, quiet: true, datasets: ds, hooks: [new LossSum()] }).fit();
  await new Trainer(config(), { workDir: b, quiet: true, datasets: ds, hooks: [new LossSum()], stopAfterEpoch: 1 }).fit();
  const resumed = new LossSum();
  await new Trainer(config(), { workDir: b, quiet: true, datasets: ds, hooks: [resumed], resume: true }).fit();
  const ra = records(a), rb = records(b);
  assert.deepEqual(ra.map((r) => r.steps), [4, 8, 12]);
  assert.deepEqual(rb.map((r) => r.steps), [4, 8, 12], 'the resumed hook continues from the checkpointed count');
  assert.deepEqual(rb.map((r) => r.lossSum), ra.map((r) => r.lossSum));
  // Checkpointed under the hook's name, as of the end of its epoch.
  const state = torch.safetensors.loadFile(join(b, 'epoch_1.state.safetensors'));
  assert.equal(state['lossSum.sum'].item(), ra[0].lossSum);
});

test('hook names: duplicates and the trainer\'s own prefixes are refused', async () => {
  for (const name of ['ema', 'optimizer', 'rng']) {
    const h: engine.Hook = { name };
    await assert.rejects(new Trainer(config(), { workDir: tmp(), quiet: true, datasets: sets(), hooks: [h] }).fit(), new RegExp(`hook name "${name}" must be unique`));
  }
});

test('a checkpoint from before the hooks is refused by --resume with a clear message', async () => {
  const d = tmp(), ds = sets();
  await new Trainer(config(), { workDir: d, quiet: true, datasets: ds, stopAfterEpoch: 1 }).fit();
  const meta = JSON.parse(readFileSync(join(d, 'epoch_1.json'), 'utf8'));
  delete meta.hooks;
  writeFileSync(join(d, 'epoch_1.json'), JSON.stringify(meta));
  await assert.rejects(new Trainer(config(), { workDir: d, quiet: true, datasets: ds, resume: true }).fit(), /written by an Arsenal before the trainer's hooks.*start a new work dir/);
});
