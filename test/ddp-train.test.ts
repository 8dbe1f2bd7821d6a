// `arsenal train CONFIG --nproc 2` (src/commands/launch.ts, the Trainer's
// data-parallel path): two worker processes, each with half of every global
// batch, through DistributedDataParallel, end with the weights one process
// trains on the whole batches (no BatchNorm batch statistics: normLayer
// 'frozen'; flips, crops and erasing drawn per sample for the global batch);
// only rank 0 writes; a worker killed mid-run stops the run with an
// error naming its rank, and the next run starts cleanly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torch } from 'arsenal';
import { writeCocoSquares, tinyDetectionConfig } from './helpers/coco_squares.js';
import { writeMmsegSplit, SEG_CLASSES } from './helpers/seg_folder.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = join(root, 'dist/src/commands/main.js');
const dir = mkdtempSync(join(tmpdir(), 'arsenal-ddp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const config = join(dir, 'tiny.mjs');
writeFileSync(config, `export default ${JSON.stringify({
  task: 'classification', seed: 3,
  data: { dataset: 'fashion-mnist', trainSubset: 96, testSubset: 40, batchSize: 16, mean: [0.286], std: [0.353], prefetch: 1 },
  model: { name: 'resnet18', stem: 'small', width: 4, normLayer: 'frozen' },
  optimizer: { type: 'SGD', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
  schedule: { type: 'cosine' },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }, { type: 'RandomCrop', padding: 2 }, { type: 'RandomErasing', prob: 0.5 }] },
  train: { epochs: 2, amp: 'fp32' },
})};\n`);

const run = (workDir: string, ...extra: string[]) => spawnSync(process.execPath, [cli, 'train', config, '--work-dir', workDir, '--quiet', ...extra], { cwd: root, encoding: 'utf8', timeout: 300_000 });
const trainWith = (cfg: string, workDir: string, ...extra: string[]) => spawnSync(process.execPath, [cli, 'train', cfg, '--work-dir', workDir, '--quiet', ...extra], { cwd: root, encoding: 'utf8', timeout: 300_000 });

/** The largest |Δ| between two weight files' float tensors (the keys must match). */
function maxDiff(fileA: string, fileB: string): number {
  const a = torch.safetensors.loadFile(fileA), b = torch.safetensors.loadFile(fileB);
  assert.deepEqual(Object.keys(b), Object.keys(a), 'the model\'s own keys (not DistributedDataParallel\'s module.*)');
  let d = 0;
  for (const k of Object.keys(a)) if (a[k].dtype === 'float32') d = Math.max(d, a[k].sub(b[k]).abs().max().item());
  return d;
}

test('train --nproc 2: the weights of one process on the whole batches (to fp32 rounding), one metrics.json and one log, written by rank 0', () => {
  const one = run(join(dir, 'one'));
  assert.equal(one.status, 0, one.stderr);
  const two = run(join(dir, 'two'), '--nproc', '2');
  assert.equal(two.status, 0, two.stderr);
  for (const tag of ['epoch_1', 'epoch_2']) {
    const d = maxDiff(join(dir, 'one', `${tag}.safetensors`), join(dir, 'two', `${tag}.safetensors`));
    assert.ok(d < 1e-5, `${tag}: max |Δ| ${d}`);
  }
  const log = readFileSync(join(dir, 'two', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.filter((r) => r.trainLoss !== undefined).map((r) => r.epoch), [1, 2], 'one record per epoch: rank 0\'s');
  const m = JSON.parse(readFileSync(join(dir, 'two', 'metrics.json'), 'utf8'));
  assert.equal(typeof m.metrics.accuracy, 'number');
  assert.equal(m.epochs, 2);
  assert.ok(!existsSync(join(dir, 'two', '.dist')) || readdirSync(join(dir, 'two', '.dist')).length === 0, 'the FileStore is removed');
  // Channels-last parameters through c10d's Reducer (its bucket views take their strides); oneDNN picks other
  // kernels for other layouts and batch sizes, so the match is looser than fp32 rounding of one layout.
  const cl1 = run(join(dir, 'cl-one'), '--set', 'train.channelsLast=true'), cl2 = run(join(dir, 'cl-two'), '--set', 'train.channelsLast=true', '--nproc', '2');
  assert.equal(cl1.status, 0, cl1.stderr);
  assert.equal(cl2.status, 0, cl2.stderr);
  const dcl = maxDiff(join(dir, 'cl-one', 'epoch_2.safetensors'), join(dir, 'cl-two', 'epoch_2.safetensors'));
  assert.ok(dcl < 1e-3, `channels-last: max |Δ| ${dcl}`);
  // The global batch must split evenly over the processes.
  const odd = run(join(dir, 'odd'), '--nproc', '3');
  assert.notEqual(odd.status, 0);
  assert.match(odd.stderr, /data\.batchSize \(16\) is the global batch: it must be divisible by the number of processes \(3\)/);
});

test('a run stopped after epoch 1 on 2 processes and resumed on 1 ends with the weights of one uninterrupted process (the global batch kept)', () => {
  const wd = join(dir, 'resumed');
  const first = run(wd, '--nproc', '2', '--stop-after-epoch', '1');
  assert.equal(first.status, 0, first.stderr);
  assert.ok(existsSync(join(wd, 'epoch_1.json')) && !existsSync(join(wd, 'epoch_2.json')));
  const rest = run(wd, '--resume');
  assert.equal(rest.status, 0, rest.stderr);
  if (!existsSync(join(dir, 'one', 'epoch_2.safetensors'))) assert.equal(run(join(dir, 'one')).status, 0);
  const d = maxDiff(join(dir, 'one', 'epoch_2.safetensors'), join(wd, 'epoch_2.safetensors'));
  assert.ok(d < 1e-5, `max |Δ| ${d}`);
});

test('train --nproc 2: a worker killed mid-run stops the run, naming its rank; the next run starts cleanly', async () => {
  const wd = join(dir, 'killed');
  const p = spawn(process.execPath, [cli, 'train', config, '--work-dir', wd, '--quiet', '--nproc', '2', '--epochs', '50'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((res) => p.on('exit', (code) => res(code)));
  // Rank 1: the launcher's child whose environment says RANK=1, once training has started (epoch 1's checkpoint).
  const t0 = Date.now();
  while (!existsSync(join(wd, 'epoch_1.json')) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 100));
  const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(p.pid)], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number);
  const rank1 = children.find((pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('RANK=1'));
  assert.ok(rank1, `rank 1 among the launcher's children ${children}`);
  process.kill(rank1!, 'SIGKILL');
  const code = await exited;
  assert.notEqual(code, 0);
  assert.match(stderr, new RegExp(`worker rank 1 \\(pid ${rank1}\\) was killed by SIGKILL; the other workers were stopped`));
  assert.ok(Date.now() - t0 < 180_000);
  for (const pid of children) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
  // Nothing left behind blocks the next run.
  const again = run(join(dir, 'again'), '--nproc', '2', '--epochs', '1');
  assert.equal(again.status, 0, again.stderr);
});

test('train --nproc 2, detection (FCOS, frozen BatchNorm, GroupNorm head): the positives\' count averaged over the ranks gives one process\'s weights', async () => {
  const data = join(dir, 'coco');
  await writeCocoSquares(data);
  const cfg = { ...tinyDetectionConfig(data), model: { ...tinyDetectionConfig(data).model, normLayer: 'frozen' }, train: { epochs: 2, amp: 'fp32', clipGradNorm: 35 } };
  const file = join(dir, 'det.mjs');
  writeFileSync(file, `export default ${JSON.stringify(cfg)};\n`);
  const one = trainWith(file, join(dir, 'det-one'));
  assert.equal(one.status, 0, one.stderr);
  const two = trainWith(file, join(dir, 'det-two'), '--nproc', '2');
  assert.equal(two.status, 0, two.stderr);
  const d = maxDiff(join(dir, 'det-one', 'epoch_2.safetensors'), join(dir, 'det-two', 'epoch_2.safetensors'));
  assert.ok(d < 1e-4, `max |Δ| ${d}`);
  const m = JSON.parse(readFileSync(join(dir, 'det-two', 'metrics.json'), 'utf8'));
  assert.ok(m.metrics.AP >= 0 && m.metrics.AP <= 1, 'COCO AP over both ranks\' detections');
});

test('train --nproc 2, segmentation (LR-ASPP MobileNetV3, train.syncBatchNorm): batch statistics over both ranks\' batches give one process\'s weights and running statistics', async () => {
  const data = join(dir, 'seg');
  await writeMmsegSplit(data, 'train', ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 1);
  await writeMmsegSplit(data, 'val', ['i', 'j', 'k'], 2);
  const cfg = (sync: boolean) => ({
    task: 'segmentation', seed: 5, data: { dataset: 'mmseg', root: data, classes: SEG_CLASSES, batchSize: 4 }, model: { name: 'lraspp_mobilenet_v3_large', widthMult: 0.25 },
    optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9 }, augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] }, train: { epochs: 2, amp: 'fp32', syncBatchNorm: sync },
  });
  const file = join(dir, 'seg.mjs');
  writeFileSync(file, `export default ${JSON.stringify(cfg(true))};\n`);
  const one = trainWith(file, join(dir, 'seg-one'));
  assert.equal(one.status, 0, one.stderr);
  const two = trainWith(file, join(dir, 'seg-two'), '--nproc', '2');
  assert.equal(two.status, 0, two.stderr);
  const d = maxDiff(join(dir, 'seg-one', 'epoch_2.safetensors'), join(dir, 'seg-two', 'epoch_2.safetensors'));
  assert.ok(d < 1e-4, `max |Δ| ${d}`);
  // Per-process BatchNorm (PyTorch's DDP default) normalises each half-batch by its own statistics: other weights.
  writeFileSync(file, `export default ${JSON.stringify(cfg(false))};\n`);
  const own = trainWith(file, join(dir, 'seg-own'), '--nproc', '2');
  assert.equal(own.status, 0, own.stderr);
  assert.ok(maxDiff(join(dir, 'seg-one', 'epoch_2.safetensors'), join(dir, 'seg-own', 'epoch_2.safetensors')) > 1e-3);
});

test('the launcher\'s flags are checked: several machines need --master-addr and --master-port, --node-rank is below --nnodes, and they go with --nproc', () => {
  const r = (...a: string[]) => spawnSync(process.execPath, [cli, 'train', config, '--work-dir', join(dir, 'flags'), ...a], { cwd: root, encoding: 'utf8' });
  assert.match(r('--nproc', '2', '--nnodes', '2').stderr, /several machines \(--nnodes > 1\) need --master-addr HOST and --master-port PORT/);
  assert.match(r('--nproc', '2', '--nnodes', '2', '--node-rank', '2', '--master-addr', 'h', '--master-port', '1').stderr, /--node-rank 2 must be below --nnodes 2/);
  assert.match(r('--nnodes', '2').stderr, /--nnodes, --node-rank, --master-addr and --master-port go with --nproc N/);
  assert.match(r('--nproc', '0').stderr, /--nproc must be an integer >= 1, got 0/);
});

test('--nnodes 2 on one machine (two launchers, a TCPStore on node 0, as across machines): one worker per node trains as --nproc 2 does', async () => {
  const port = await new Promise<number>((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
  const node = (rank: number) => new Promise<{ code: number | null; stderr: string }>((res) => {
    const p = spawn(process.execPath, [cli, 'train', config, '--work-dir', join(dir, `nodes-${rank}`), '--quiet', '--nproc', '1', '--nnodes', '2', '--node-rank', String(rank),
      '--master-addr', '127.0.0.1', '--master-port', String(port)], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d) => { stderr += d; });
    p.on('exit', (code) => res({ code, stderr }));
  });
  const [n0, n1] = await Promise.all([node(0), node(1)]);
  assert.equal(n0.code, 0, n0.stderr);
  assert.equal(n1.code, 0, n1.stderr);
  if (!existsSync(join(dir, 'one', 'epoch_2.safetensors'))) assert.equal(run(join(dir, 'one')).status, 0);
  const d = maxDiff(join(dir, 'one', 'epoch_2.safetensors'), join(dir, 'nodes-0', 'epoch_2.safetensors'));
  assert.ok(d < 1e-5, `max |Δ| ${d}`);
  assert.ok(!existsSync(join(dir, 'nodes-1', 'epoch_2.safetensors')), 'only rank 0 (node 0) writes');
});
