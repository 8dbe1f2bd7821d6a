// Pseudo-labelling (src/commands/pseudo_label.ts): the labelled split is
// stratified and seeded; selection by threshold or top-k per class follows its
// rule; a round trains a student on labelled + pseudo-labelled images (hard or
// soft) and reports each round.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch } from 'arsenal';
import type { ClassificationConfig as Config } from 'arsenal';
import { stratifiedSplit, selectConfident, labelRepeats, pseudoLabel } from '../src/commands/pseudo_label.js';
import { TensorDataset } from '../src/data/dataset.js';
import { runEnsemble } from '../src/commands/ensemble.js';

/** ResNet-18 at width 4 on 320 Fashion-MNIST training images: a pseudo-labelling run in seconds. */
const tinyConfig = (seed: number): Config => ({
  task: 'classification', seed,
  data: { dataset: 'fashion-mnist', batchSize: 16, trainSubset: 320, testSubset: 200, mean: [0.286], std: [0.353] },
  model: { name: 'resnet18', stem: 'small', width: 4 },
  optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9 },
  train: { epochs: 1, amp: 'fp32' },
});

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

test('stratifiedSplit keeps the share in every class, disjoint and seeded', () => {
  const labels = torch.arange(0, 500, 1).remainder(5);
  const ds = new TensorDataset(torch.zeros([500, 1, 2, 2], { dtype: 'uint8' }), labels, ['a', 'b', 'c', 'd', 'e']);
  const [lab, pool] = stratifiedSplit(ds, 0.1, 42);
  assert.equal(lab.length, 50);
  assert.equal(pool.length, 450);
  assert.equal(new Set([...lab, ...pool]).size, 500);
  const per = [0, 0, 0, 0, 0];
  for (const i of lab) per[ds.targets[i]]++;
  assert.deepEqual(per, [10, 10, 10, 10, 10]);
  assert.deepEqual(stratifiedSplit(ds, 0.1, 42)[0], lab);
  assert.notDeepEqual(stratifiedSplit(ds, 0.1, 7)[0], lab);
  assert.throws(() => stratifiedSplit(ds, 1, 42), /labelledShare must be in \(0, 1\)/);
});

test('selectConfident: threshold, or the k most confident per predicted class', () => {
  const probs = torch.tensor([[0.95, 0.05], [0.6, 0.4], [0.2, 0.8], [0.05, 0.95], [0.99, 0.01], [0.3, 0.7]], { dtype: 'float32' });
  assert.deepEqual(selectConfident(probs, { threshold: 0.9 }), [0, 3, 4]);
  assert.deepEqual(selectConfident(probs, { topK: 1 }), [3, 4]);
  assert.deepEqual(selectConfident(probs, { topK: 2 }), [0, 2, 3, 4]);
  assert.throws(() => selectConfident(probs, { topK: 0 }), /topK must be a positive integer/);
});

test('labelRepeats: the fewest repeats that make the labelled images at least the share of an epoch', () => {
  assert.equal(labelRepeats(3001, 26999, 0.5), 9); // 27,009 labelled against 26,999 pseudo-labelled
  assert.equal(labelRepeats(80, 100, 0.5), 2); // 160 / 260 ≥ 0.5; once (80 / 180) is not
  assert.equal(labelRepeats(100, 100, 0.5), 1);
  assert.equal(labelRepeats(100, 900, 0.25), 3); // 300 / 1200 = 0.25 exactly
  assert.equal(labelRepeats(100, 900, 0), 1);
  assert.equal(labelRepeats(100, 0, 0.9), 1);
});

test('pseudoLabel: teacher then a student per round, hard and soft labels, a report', async () => {
  const cfg = tinyConfig(3);
  for (const soft of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'arsenal-pseudo-'));
    made.push(dir);
    // The hard-label run keeps the 10 most confident per predicted class. The soft-label run keeps the whole pool
    // (threshold 0), so what it trains on does not depend on what the teacher happens to predict on this CPU's kernels;
    // its student also starts from its teacher's final weights (teacher/epoch_2.safetensors: a wrong path fails the
    // run), sees the labelled images at least half of its epoch, and trains 2 epochs (a student-only override).
    const rows = await pseudoLabel(cfg, {
      labelledShare: 0.25, soft, rounds: 1, workDir: dir, quiet: true, teacherEpochs: 2, control: true, studentInit: soft ? 'teacher' : 'scratch',
      ...(soft ? { threshold: 0, minLabelledShare: 0.5, student: ['train.epochs=2'] } : { topK: 10 }),
    });
    assert.equal(rows.length, 3);
    // Steps (the last partial batch is dropped): the teacher 2 epochs of ⌊80/16⌋ batches; the student 1 epoch of
    // its images; the control about as many as the student, on the labelled images.
    const per = Math.floor(rows[0].trainImages / 16);
    assert.equal(rows[0].steps, 2 * per);
    assert.equal(rows[1].steps, (soft ? 2 : 1) * Math.floor(rows[1].trainImages / 16));
    assert.equal(rows[2].trainImages, rows[0].trainImages);
    const target = soft ? rows[0].steps + rows[1].steps : rows[1].steps; // fine-tuned from the teacher: the chain's steps
    assert.equal(rows[2].steps, Math.max(1, Math.round(target / per)) * per);
    assert.match(rows[2].round, /^control: labelled only/);
    const labelled = rows[0].trainImages;
    assert.ok(Math.abs(labelled - 80) <= 5, `teacher on ${labelled} images (a quarter of each class)`);
    if (soft) assert.equal(rows[1].pseudoLabels, 320 - labelled, 'threshold 0 keeps the whole pool');
    else assert.ok(rows[1].pseudoLabels > 0 && rows[1].pseudoLabels <= 100, `kept ${rows[1].pseudoLabels} (at most 10 per class)`);
    // ~80 labelled against ~240 pool images: 3 repeats make them half of the student's epoch.
    const repeats = soft ? labelRepeats(labelled, rows[1].pseudoLabels, 0.5) : 1;
    assert.ok(!soft || repeats >= 2, `the labelled images repeat (${repeats}×)`);
    assert.equal(rows[1].trainImages, repeats * labelled + rows[1].pseudoLabels);
    assert.equal(JSON.parse(readFileSync(join(dir, 'student_1', 'metrics.json'), 'utf8')).epochs, soft ? 2 : 1);
    assert.ok(rows[1].pseudoLabelAccuracy! >= 0 && rows[1].pseudoLabelAccuracy! <= 1);
    assert.match(readFileSync(join(dir, 'pseudo_label.md'), 'utf8'), /\| student 1 \| \d+ \| \d+ \| \d+\.\d\d% \| \d+ \|/);
  }
});

test('pseudoLabel: a teacher ensemble of seeds, scored as arsenal ensemble scores its members', async () => {
  const cfg = tinyConfig(5);
  const dir = mkdtempSync(join(tmpdir(), 'arsenal-pseudo-'));
  made.push(dir);
  const rows = await pseudoLabel(cfg, { labelledShare: 0.25, threshold: 0, teachers: 2, rounds: 1, workDir: dir, quiet: true, teacherEpochs: 2 });
  assert.deepEqual(rows.map((r) => r.round.split(' (')[0]), ['teacher 1', 'teacher 2', 'teacher ensemble', 'student 1']);
  assert.equal(rows[3].pseudoLabels, 320 - rows[0].trainImages, 'threshold 0 keeps the whole pool');
  assert.match(rows[1].round, /seed 6/);
  assert.equal(rows[2].steps, 2 * rows[0].steps);
  const w1 = torch.safetensors.loadFile(join(dir, 'teacher_1', 'epoch_2.safetensors'));
  const w2 = torch.safetensors.loadFile(join(dir, 'teacher_2', 'epoch_2.safetensors'));
  const name = Object.keys(w1).find((n) => n.endsWith('conv1.weight'))!;
  assert.ok(!w1[name].equal(w2[name]), 'the members differ in seed');
  const { ensemble } = await runEnsemble([1, 2].map((i) => ({ cfg, config: 'test', checkpoint: join(dir, `teacher_${i}`, 'epoch_2.safetensors') })), { workDir: join(dir, 'ensemble') });
  assert.equal(rows[2].accuracy, ensemble.accuracy);
  assert.equal(rows[2].balancedAccuracy, ensemble.balancedAccuracy);
  // Again with --resume: the finished teachers are reused as they are (same scores, no new checkpoints). Threshold 1
  // keeps only probabilities that round to exactly 1 in fp32 (almost always none, which leaves the student the
  // labelled images alone: the path that once crashed); the count is whatever the teachers gave, on any CPU.
  rmSync(join(dir, 'student_1'), { recursive: true });
  const again = await pseudoLabel(cfg, { labelledShare: 0.25, threshold: 1, teachers: 2, rounds: 1, workDir: dir, quiet: true, teacherEpochs: 2, resume: true });
  assert.deepEqual(again.slice(0, 3).map((r) => r.accuracy), rows.slice(0, 3).map((r) => r.accuracy));
  assert.ok(again[3].pseudoLabels < rows[3].pseudoLabels);
  assert.equal(again[3].trainImages, rows[0].trainImages + again[3].pseudoLabels);
});

test('pseudoLabel: a bad studentInit, labelled share or student override is refused before training', async () => {
  const cfg: Config = {
    task: 'classification', seed: 3,
    data: { dataset: 'fashion-mnist', batchSize: 16, trainSubset: 64, testSubset: 32, mean: [0.286], std: [0.353] },
    model: { name: 'resnet18', stem: 'small', width: 4 }, optimizer: { type: 'SGD', lr: 0.05 }, train: { epochs: 1, amp: 'fp32' },
  };
  const workDir = mkdtempSync(join(tmpdir(), 'arsenal-pseudo-'));
  made.push(workDir);
  await assert.rejects(pseudoLabel(cfg, { workDir, quiet: true, studentInit: 'teachr' as never }), /studentInit must be 'scratch' or 'teacher'/);
  await assert.rejects(pseudoLabel(cfg, { workDir, quiet: true, teachers: 0 }), /teachers must be a positive integer/);
  await assert.rejects(pseudoLabel(cfg, { workDir, quiet: true, threshold: 2 }), /threshold must be in \[0, 1\]/);
  await assert.rejects(pseudoLabel(cfg, { workDir, quiet: true, minLabelledShare: 1 }), /minLabelledShare must be in \[0, 1\)/);
  await assert.rejects(pseudoLabel(cfg, { workDir, quiet: true, student: ['train.epochs=0'] }), /the students' config\.train\.epochs/);
  assert.deepEqual(readdirSync(workDir), [], 'nothing trained');
});
