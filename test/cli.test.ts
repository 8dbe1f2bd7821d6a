// The `arsenal` command as a user runs it: train writes metrics.json with the
// documented keys, test evaluates a checkpoint, info reports the installation,
// and bad input ends with a one-line message and exit status 1 (no stack trace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8' });

const quick = ['--set', 'data.trainSubset=128', '--set', 'data.testSubset=256', '--set', 'model.width=4', '--set', 'data.batchSize=32'];

test('arsenal train writes metrics.json, checkpoints and a log; arsenal test reads a checkpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arsenal-cli-'));
  const r = run('train', 'configs/fashion-mnist/baseline.ts', '--epochs', '1', '--seed', '3', '--work-dir', dir, ...quick);
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
  ];
  for (const [args, re] of cases) {
    const r = run(...args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
