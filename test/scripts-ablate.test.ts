// scripts/ablate.mjs as a study runs it: each variant × seed trained once,
// the table's Δ column is the seed-by-seed paired difference to the first
// variant, and a study resumes from its work dirs or from its --record file
// (a later session, or another machine) without training again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const name = `test-ablate-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'arsenal-ablate-'));
after(() => { rmSync(dir, { recursive: true, force: true }); rmSync(join(root, 'work_dirs/ablate', name), { recursive: true, force: true }); });

const record = join(dir, 'record.json');
const ablate = (...extra: string[]) => spawnSync(process.execPath, [join(root, 'scripts/ablate.mjs'), 'configs/fashion-mnist/baseline.ts', '--name', name, '--seeds', '1,2',
  '--epochs', '1', '--set', 'data.trainSubset=128', '--set', 'data.testSubset=128', '--set', 'model.width=4', '--set', 'data.batchSize=32',
  '--variant', 'plain=', '--variant', 'low lr=--set optimizer.lr=0.01', ...extra], { cwd: root, encoding: 'utf8' });
const rowOf = (table: string, label: string) => table.split('\n').find((l) => l.startsWith(`| ${label} |`))!.split('|').map((c) => c.trim());

test('ablate: runs each variant and seed once, Δ is the paired difference, and resumes from the record', () => {
  const weights = join(dir, 'weights.bin');
  writeFileSync(weights, 'the weights the runs start from');
  const first = ablate('--record', record, '--input', weights);
  assert.equal(first.status, 0, first.stderr);
  const rec = JSON.parse(readFileSync(record, 'utf8'));
  assert.equal(rec.runs.length, 4);
  assert.deepEqual(rec.inputs, { [weights]: createHash('sha256').update('the weights the runs start from').digest('hex') });
  for (const r of rec.runs) {
    assert.equal(typeof r.metrics.accuracy, 'number');
    assert.ok(typeof r.cpu === 'string' && r.cpu.length > 0 && typeof r.commit === 'string');
    assert.ok(r.args.includes('--seed') && r.args.includes(String(r.seed)));
  }
  const acc = (v: string, s: number) => 100 * rec.runs.find((r: { variant: string; seed: number }) => r.variant === v && r.seed === s).metrics.accuracy;
  const d = [acc('low lr', 1) - acc('plain', 1), acc('low lr', 2) - acc('plain', 2)];
  const mean = (d[0] + d[1]) / 2, std = Math.abs(d[0] - d[1]) / Math.SQRT2;
  const row = rowOf(first.stdout, 'low lr');
  assert.equal(row[4], `${mean.toFixed(2)} ± ${std.toFixed(2)}`, 'Δ accuracy: mean ± sample std of the per-seed differences');
  assert.equal(row[5], `${acc('low lr', 1).toFixed(2)}, ${acc('low lr', 2).toFixed(2)}`);
  assert.equal(rowOf(first.stdout, 'plain')[4], '—');

  // Again, with the work dirs: nothing trains, the same table.
  const again = ablate('--record', record);
  assert.equal(again.status, 0, again.stderr);
  assert.equal((again.stdout.match(/recorded \(/g) ?? []).length, 4);
  assert.doesNotMatch(again.stdout, /node .*train/);
  assert.equal(again.stdout.split('\n\n').at(-1), first.stdout.split('\n\n').at(-1));

  // Without the work dirs (another machine), from the record alone.
  rmSync(join(root, 'work_dirs/ablate', name), { recursive: true, force: true });
  const fromRecord = ablate('--record', record);
  assert.equal(fromRecord.status, 0, fromRecord.stderr);
  assert.equal((fromRecord.stdout.match(/recorded \(/g) ?? []).length, 4);
  assert.equal(fromRecord.stdout.split('\n\n').at(-1), first.stdout.split('\n\n').at(-1));

  // Other weights than the recorded runs started from: an error, the record untouched.
  writeFileSync(weights, 'other weights');
  const before = readFileSync(record, 'utf8');
  const changed = ablate('--record', record, '--input', weights);
  assert.equal(changed.status, 2);
  assert.match(changed.stderr, /--input '.*weights\.bin' has sha256 .* but the runs in .* started from .*: they would not be comparable/);
  assert.equal(readFileSync(record, 'utf8'), before);
});

test('ablate: a malformed --variant is named', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts/ablate.mjs'), 'configs/fashion-mnist/baseline.ts', '--variant', 'no-equals'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--variant 'no-equals': expected 'label=ARGS'/);
});
