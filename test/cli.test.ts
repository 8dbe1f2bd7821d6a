// The `arsenal` command as a user runs it: train writes metrics.json with the
// documented keys, test evaluates a checkpoint, info reports the installation,
// and bad input ends with a one-line message and exit status 1 (no stack trace).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/src/commands/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });

const made: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-cli-')); made.push(d); return d; };
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

const quick = ['--set', 'data.trainSubset=128', '--set', 'data.testSubset=256', '--set', 'model.width=4', '--set', 'data.batchSize=32'];

test('arsenal train writes metrics.json, checkpoints and a log; arsenal test reads a checkpoint', () => {
  const dir = tmp();
  const r = run('train', 'configs/fashion-mnist/baseline.ts', '--epochs', '1', '--seed', '3', '--work-dir', dir, '--set', 'tta={"flips":["h"]}', ...quick);
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
  assert.equal(m.task, 'classification');
  assert.equal(m.dataset, 'fashion-mnist');
  assert.equal(m.epochs, 1);
  assert.equal(m.seed, 3);
  for (const k of ['accuracy', 'balancedAccuracy', 'loss']) assert.equal(typeof m.metrics[k], 'number', k);
  assert.ok(m.wallSeconds > 0 && m.imagesPerSecond > 0);
  for (const f of ['epoch_1.safetensors', 'epoch_1.state.safetensors', 'epoch_1.json', 'latest.json', 'best.safetensors', 'log.jsonl']) assert.ok(existsSync(join(dir, f)), f);

  const t = run('test', 'configs/fashion-mnist/baseline.ts', '--checkpoint', join(dir, 'epoch_1.safetensors'), '--work-dir', dir, ...quick);
  assert.equal(t.status, 0, t.stderr);
  const m2 = JSON.parse(readFileSync(join(dir, 'test_metrics.json'), 'utf8'));
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')), m, 'the training metrics stay as they were');
  assert.equal(m2.metrics.accuracy, m.metrics.accuracy, 'test on the final checkpoint reproduces training\'s final evaluation');

  // --tta: a table of each view alone and their merge, from one forward per view; the merge is what training reported.
  const v = run('test', 'configs/fashion-mnist/baseline.ts', '--checkpoint', join(dir, 'epoch_1.safetensors'), '--work-dir', dir, '--tta', '--set', 'tta={"flips":["h"]}', ...quick);
  assert.equal(v.status, 0, v.stderr);
  const m3 = JSON.parse(readFileSync(join(dir, 'test_metrics.json'), 'utf8'));
  assert.deepEqual(m3.views.map((x: { view: string }) => x.view), ['identity', 'flip-h', 'TTA (mean of 2 views)']);
  assert.equal(m3.views[0].accuracy, m.metrics.accuracy, 'the identity view is the plain evaluation');
  assert.equal(m3.views[2].accuracy, m.metrics.ttaAccuracy, 'the merge is the TTA accuracy training reported');
  assert.equal(m3.metrics.accuracy, m.metrics.ttaAccuracy);
  assert.match(readFileSync(join(dir, 'test_metrics.md'), 'utf8'), /^\| view \| accuracy \|.*\n.*\n\| identity \| \d+\.\d\d% \|/);
  assert.match(v.stdout, /\| flip-h \| \d+\.\d\d% \|/);
});

test('arsenal info names libtorch, threads and the datasets', () => {
  const r = run('info');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /libtorch 1\.\d+/);
  assert.match(r.stdout, /threads \d+/);
  assert.match(r.stdout, /dataset fashion-mnist: /);
});

test('bad input: one clear line and exit status 1', () => {
  const cases: [string[], RegExp][] = [
    [['train', 'configs/nope.ts'], /arsenal: config: no such file 'configs\/nope\.ts'/],
    [['train', 'configs/fashion-mnist/baseline.ts', '--set', 'optimizer.lr=-1'], /config\.optimizer\.lr: expected a value in \[0, Infinity\], got -1/],
    [['train', 'configs/fashion-mnist/baseline.ts', '--epoch', '1'], /unknown option --epoch/],
    [['test', 'configs/fashion-mnist/baseline.ts'], /--checkpoint FILE is required/],
    [['test', 'configs/fashion-mnist/baseline.ts', '--checkpoint', '/nonexistent.safetensors'], /checkpoint '\/nonexistent\.safetensors' does not exist/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['pseudo-label', 'configs/fashion-mnist/baseline.ts', '--student-set', 'train.epochs=0'], /pseudo-label --student-set: the students' config\.train\.epochs: expected a value in \[1, 1000000\], got 0/],
    [['pseudo-label', 'configs/fashion-mnist/baseline.ts', '--student-set', 'nonsense'], /--student-set nonsense: expected key\.path=value/],
  ];
  for (const [args, re] of cases) {
    const r = run(...args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('arsenal augment draws a PNG grid of the pipeline (with --scenes: boxes and masks); bad --out is named', () => {
  const dir = tmp();
  for (const extra of [[], ['--scenes']]) {
    const out = join(dir, `grid${extra.length}.png`);
    const r = run('augment', 'configs/fashion-mnist/tricks.ts', '--out', out, '--n', '6', ...extra);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /6 samples after RandomFlip, RandomCrop, RandomErasing/);
    const png = readFileSync(out);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
    // 6 tiles → 3 columns × 2 rows of (side·4 + 2) pixels: 28-pixel images, or 64-pixel scenes at 2×.
    const tile = extra.length ? 64 * 2 + 2 : 28 * 4 + 2;
    assert.equal(png.readUInt32BE(16), 3 * tile, 'width');
    assert.equal(png.readUInt32BE(20), 2 * tile, 'height');
  }
  const bad = run('augment', 'configs/fashion-mnist/tricks.ts', '--out', join(dir, 'x.jpg'));
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /augment: --out FILE\.png is required/);
});

test('arsenal ensemble: members and the ensemble in a table, JSON and Markdown; test --tta; a checkpoint of another model is named', () => {
  const dir = tmp();
  const runs = [1, 2].map((seed) => {
    const wd = join(dir, `s${seed}`);
    const r = run('train', 'configs/fashion-mnist/baseline.ts', '--epochs', '1', '--seed', String(seed), '--work-dir', wd, ...quick);
    assert.equal(r.status, 0, r.stderr);
    return join(wd, 'epoch_1.safetensors');
  });
  const e = run('ensemble', 'configs/fashion-mnist/baseline.ts', '--checkpoint', runs[0], '--checkpoint', runs[1], '--merge', 'logits', '--work-dir', dir, ...quick);
  assert.equal(e.status, 0, e.stderr);
  assert.match(e.stdout, /\| member \| accuracy \| balanced accuracy \| loss \|/);
  assert.match(e.stdout, /\| ensemble \(logits\) \| \d+\.\d\d% \|/);
  const rows = JSON.parse(readFileSync(join(dir, 'ensemble.json'), 'utf8'));
  assert.equal(rows.length, 3);
  assert.ok(existsSync(join(dir, 'ensemble.md')));
  const t = run('test', 'configs/fashion-mnist/baseline.ts', '--checkpoint', runs[0], '--tta', '--work-dir', dir, ...quick);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /with TTA \(identity, flip-h; merge mean\)/);
  // A checkpoint of a wider model: the error names the file and the key.
  const wrong = run('test', 'configs/fashion-mnist/baseline.ts', '--checkpoint', runs[0], ...quick, '--set', 'model.width=8');
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /epoch_1\.safetensors/);
  assert.match(wrong.stderr, /is '.*epoch_1\.safetensors' a checkpoint of this config's model, resnet18 with 10 classes\?/);
  const one = run('ensemble', 'configs/fashion-mnist/baseline.ts', '--checkpoint', runs[0]);
  assert.notEqual(one.status, 0);
  assert.match(one.stderr, /at least 2 --checkpoint files/);
});

test('arsenal start: the tricks recipe in a budget, the plan and a table naming the CPU, threads and precision', () => {
  const dir = tmp();
  const r = run('start', '--budget', '6h', '--epochs', '2', '--work-dir', dir, ...quick, '--set', 'train.amp=fp32');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /in a 6h budget \(2 epochs, each cut to the steps that fit/);
  assert.match(r.stdout, /budget 360\.0 min: planned .* img\/s training, .* fp32, \d+ threads/);
  assert.match(r.stdout, /\| machine \| .+, \d+ threads, fp32 \|/);
  assert.match(r.stdout, /\| budget \| 6h00m: planned .*, 256 training images in 8 steps \(4 of 4 an epoch\)/);
  assert.match(r.stdout, /\| wall time \| .* of the budget\) \|/);
  const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
  assert.equal(m.plan.stepsPerEpoch, 4);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')), m.plan);
  // One evaluation at the end under a budget: epoch 1 has no test metrics.
  const epochs = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.trainLoss !== undefined);
  assert.deepEqual(epochs.map((e) => e.testAccuracy === undefined), [true, false]);
  assert.match(run('start', '--full', '--budget', '5m').stderr, /give --full or --budget, not both/);
});

test('arsenal eval-seg scores two folders of mask PNGs the mmseg way; a missing prediction is named', async () => {
  const { encode } = await import('fast-png');
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const dir = tmp(), pred = join(dir, 'pred'), gt = join(dir, 'gt');
  mkdirSync(pred); mkdirSync(gt);
  const png = (v: number[]) => encode({ width: 2, height: 2, data: Uint8Array.from(v), channels: 1, depth: 8 });
  // a.png: truth 0 0 1 255, prediction 0 1 1 1 (the ignored pixel counts for nothing); b.png: truth 1 1 1 1, prediction 1 1 0 1.
  writeFileSync(join(gt, 'a.png'), png([0, 0, 1, 255])); writeFileSync(join(pred, 'a.png'), png([0, 1, 1, 1]));
  writeFileSync(join(gt, 'b.png'), png([1, 1, 1, 1])); writeFileSync(join(pred, 'b.png'), png([1, 1, 0, 1]));
  const r = run('eval-seg', '--pred', pred, '--gt', gt, '--num-classes', '2', '--classes', 'bg,fg', '--work-dir', dir);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(readFileSync(join(dir, 'eval_seg.json'), 'utf8'));
  // Counted pixels: 3 + 4. Class 0: label 2, pred 2, intersection 1 → IoU 1/3, Acc 1/2. Class 1: label 5, pred 5, intersection 4 → IoU 4/6, Acc 4/5.
  // aAcc = 5/7; mIoU = (1/3 + 2/3)/2 = 0.5; mAcc = (0.5 + 0.8)/2 = 0.65.
  assert.ok(Math.abs(j.metrics.aAcc - 5 / 7) < 1e-12 && Math.abs(j.metrics.mIoU - 0.5) < 1e-12 && Math.abs(j.metrics.mAcc - 0.65) < 1e-12, JSON.stringify(j.metrics));
  assert.deepEqual(j.perClass.map((c: { class: string }) => c.class), ['bg', 'fg']);
  assert.match(r.stdout, /\| class \| IoU \| Acc \|/);
  writeFileSync(join(gt, 'c.png'), png([0, 0, 0, 0]));
  assert.match(run('eval-seg', '--pred', pred, '--gt', gt, '--num-classes', '2', '--work-dir', dir).stderr, /1 ground-truth masks have no prediction of the same name .*c\.png/);
});

test('segmentation from the command line: test writes pred_masks/ that eval-seg scores to the same metrics, and panels; augment overlays the masks', async () => {
  const { writeMmsegSplit, SEG_CLASSES, BACKGROUND } = await import('./helpers/seg_folder.js');
  const { writeFileSync } = await import('node:fs');
  const sharp = (await import('sharp')).default;
  const dir = tmp(), data = join(dir, 'data'), work = join(dir, 'work');
  await writeMmsegSplit(data, 'train', ['a', 'b', 'c', 'd'], 1);
  await writeMmsegSplit(data, 'val', ['e', 'f', 'g'], 2);
  const cfg = join(dir, 'seg.mjs');
  writeFileSync(cfg, `export default ${JSON.stringify({
    task: 'segmentation', data: { dataset: 'mmseg', root: data, classes: SEG_CLASSES, batchSize: 2 }, model: { name: 'lraspp_mobilenet_v3_large', widthMult: 0.25 },
    optimizer: { type: 'SGD', lr: 0.01 }, train: { epochs: 1, amp: 'fp32' },
  })};\n`);
  assert.equal(run('train', cfg, '--work-dir', work, '--quiet').status, 0);
  const t = run('test', cfg, '--checkpoint', join(work, 'epoch_1.safetensors'), '--work-dir', work, '--panels', '2', '--set', 'inference={"mode":"slide","crop":[24,24],"stride":[16,16]}');
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /pred_masks: 3 palette PNGs .* arsenal eval-seg --pred \S*pred_masks --gt \S*ann_dir\/val --names \S*pred_masks\.txt --num-classes 3\n/);
  assert.match(t.stdout, /panels: 2 \(image \| truth \| prediction/);
  for (const f of ['e.png', 'f.png']) assert.equal((await sharp(join(work, 'panels', f)).metadata()).width, 3 * 32, f);
  assert.ok(!existsSync(join(work, 'panels', 'g.png')), '--panels 2');
  // --no-predictions: the metrics alone.
  const quiet = join(dir, 'no-predictions');
  const np = run('test', cfg, '--checkpoint', join(work, 'epoch_1.safetensors'), '--work-dir', quiet, '--no-predictions');
  assert.equal(np.status, 0, np.stderr);
  assert.ok(existsSync(join(quiet, 'test_metrics.json')) && !existsSync(join(quiet, 'pred_masks')) && !existsSync(join(quiet, 'panels')) && !/pred_masks/.test(np.stdout));
  assert.match(run('test', cfg, '--checkpoint', join(work, 'epoch_1.safetensors'), '--no-predictions', '--panels', '2').stderr, /--panels draws prediction files, --no-predictions writes none/);
  const s = run('eval-seg', '--pred', join(work, 'pred_masks'), '--gt', join(data, 'ann_dir', 'val'), '--num-classes', '3', '--work-dir', work);
  assert.equal(s.status, 0, s.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(work, 'eval_seg.json'), 'utf8')).metrics, JSON.parse(readFileSync(join(work, 'test_metrics.json'), 'utf8')).metrics);

  // augment: masks blended at 50% in the VOC colours — the first row is ignore (224, 224, 192), the pixel below it background (black).
  const grid = join(dir, 'grid.png');
  const a = run('augment', cfg, '--out', grid, '--n', '4');
  assert.equal(a.status, 0, a.stderr);
  const { data: px, info } = await sharp(grid).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 2 * (32 * 4 + 2));
  const at = (y: number, x: number) => [...px.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  const blend = (c: number[]) => c.map((v) => Math.round((BACKGROUND + v) / 2));
  assert.deepEqual(at(1, 1), blend([224, 224, 192]));
  assert.deepEqual(at(5, 5), blend([0, 0, 0]));
});
