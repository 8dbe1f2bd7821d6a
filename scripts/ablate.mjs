#!/usr/bin/env node
// Runs a recipe with and without one change, over several seeds, and prints
// the mean ± std of the task's headline metrics of each variant (metrics.json's
// `headline`: accuracy and balanced accuracy, or mIoU, mAcc and aAcc; the
// numbers docs/tricks.md reports), and each variant's paired difference to
// the first one (same seeds). Each run is `arsenal train`, its work dir
// work_dirs/ablate/<name>/<variant>-seed<N>.
//
//   node scripts/ablate.mjs <config.ts> --name NAME --variant 'label=--set a=b ...' [--variant ...] [--seeds 1,2,3] [--record FILE] [--set ...]
//
// A run whose work dir already holds its metrics.json for the same arguments
// is not run again, so a study can be stopped and resumed. --record FILE
// keeps every finished run's metrics (with the CPU and commit that made it)
// in a JSON file that can be committed: a study spread over several sessions
// or machines resumes from it, and its table is rebuilt from it. --input FILE
// (repeatable) names a file the runs depend on (pre-trained weights, say): the
// record keeps its sha256, and resuming with a different file is an error, so
// one table never mixes runs that started from different weights.
//
// e.g. class weighting on long-tailed Fashion-MNIST:
//   node scripts/ablate.mjs configs/fashion-mnist/long-tail.ts --name long-tail \
//     --variant 'effective-number=' --variant 'plain CE=--set loss.classWeight=null'
import { spawnSync, execSync } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { cpus } from 'node:os';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { metricLabel as label } from '../dist/src/util/table.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const config = argv[0];
const usage = 'usage: node scripts/ablate.mjs <config.ts> --name NAME --variant "label=ARGS" [--variant ...] [--seeds 1,2,3] [--record FILE] [--input FILE] [--set ...]';
if (!config || config.startsWith('--')) { console.error(usage); process.exit(2); }
let name = 'ablation', seeds = [1, 2, 3], recordFile = null;
const variants = [], common = [], inputs = [];
for (let i = 1; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--name') name = argv[++i];
  else if (a === '--seeds') seeds = argv[++i].split(',').map(Number);
  else if (a === '--record') recordFile = argv[++i];
  else if (a === '--input') inputs.push(argv[++i]);
  else if (a === '--variant') {
    const v = argv[++i] ?? '';
    const eq = v.indexOf('=');
    if (eq < 1) { console.error(`ablate: --variant '${v}': expected 'label=ARGS' (ARGS may be empty)`); process.exit(2); }
    variants.push({ label: v.slice(0, eq), args: v.slice(eq + 1).split(' ').filter(Boolean) });
  } else common.push(a);
}
if (variants.length === 0) { console.error('ablate: give at least one --variant'); process.exit(2); }
if (seeds.some((s) => !Number.isInteger(s))) { console.error(`ablate: --seeds: expected integers separated by commas`); process.exit(2); }

const record = recordFile && existsSync(recordFile) ? JSON.parse(readFileSync(recordFile, 'utf8')) : { config, runs: [] };
for (const f of inputs) {
  if (!f || !existsSync(f)) { console.error(`ablate: --input '${f ?? ''}': no such file`); process.exit(2); }
  const sha = createHash('sha256').update(readFileSync(f)).digest('hex');
  record.inputs ??= {};
  const was = record.inputs[f];
  if (was && was !== sha && record.runs.length) {
    console.error(`ablate: --input '${f}' has sha256 ${sha.slice(0, 16)}…, but the runs in ${recordFile} started from ${was.slice(0, 16)}…: they would not be comparable (move the record aside to start a new study)`);
    process.exit(2);
  }
  record.inputs[f] = sha;
}
const saveRecord = () => {
  if (!recordFile) return;
  const tmp = `${recordFile}.tmp`;
  mkdirSync(dirname(recordFile), { recursive: true });
  writeFileSync(tmp, JSON.stringify(record, null, 1) + '\n');
  renameSync(tmp, recordFile); // never a torn file
};
/** The checkout a run was trained from, read when it ends: HEAD, with '+changes' when tracked files differed from it. */
function commitNow() {
  try {
    const git = (a) => execSync(`git ${a}`, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return git('rev-parse --short HEAD') + (git('status --porcelain --untracked-files=no') ? '+changes' : '');
  } catch { return 'unknown'; } // not a checkout
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));
const pm = (xs) => `${mean(xs).toFixed(2)} ± ${std(xs).toFixed(2)}`;

/** One run's metrics.json: from the record, from a finished work dir with the same arguments, or by training. */
function run(v, seed) {
  const args = [config, '--seed', String(seed), ...common, ...v.args];
  const same = (r) => r.variant === v.label && r.seed === seed && JSON.stringify(r.args) === JSON.stringify(args);
  const known = record.runs.find(same);
  if (known) { console.log(`# ${v.label}, seed ${seed}: recorded (${known.cpu}, ${known.commit})`); return known; }
  const wd = join(root, 'work_dirs/ablate', name, `${v.label.replace(/[^\w.-]+/g, '_')}-seed${seed}`);
  const argsFile = join(wd, 'ablate-args.json');
  const done = existsSync(join(wd, 'metrics.json')) && existsSync(argsFile) && readFileSync(argsFile, 'utf8') === JSON.stringify(args);
  if (!done) {
    const cmd = [join(root, 'dist/src/commands/main.js'), 'train', config, '--seed', String(seed), '--work-dir', wd, '--quiet', ...common, ...v.args];
    console.log(`# ${v.label}, seed ${seed}: node ${cmd.slice(1).join(' ')}`);
    const r = spawnSync(process.execPath, cmd, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) { console.error(`ablate: run failed (${v.label}, seed ${seed})`); process.exit(1); }
    writeFileSync(argsFile, JSON.stringify(args));
  } else console.log(`# ${v.label}, seed ${seed}: finished before (${wd})`);
  const m = JSON.parse(readFileSync(join(wd, 'metrics.json'), 'utf8'));
  const entry = { variant: v.label, seed, args, metrics: m.metrics, headline: m.headline, wallSeconds: m.wallSeconds, cpu: cpus()[0]?.model ?? 'unknown', commit: commitNow() };
  record.runs = record.runs.filter((r) => !(r.variant === v.label && r.seed === seed));
  record.runs.push(entry);
  saveRecord();
  return entry;
}

const results = [];
let headline = null;
for (const v of variants) {
  const runs = seeds.map((seed) => {
    const r = run(v, seed);
    // The task's headline metrics (classification: accuracy, balanced accuracy; segmentation: mIoU, mAcc, aAcc), as percentages.
    headline ??= r.headline ?? ['accuracy', 'balancedAccuracy'];
    console.log(`  ${headline.map((k) => `${label(k)} ${(100 * r.metrics[k]).toFixed(2)}%`).join(', ')}, ${r.wallSeconds.toFixed(0)} s`);
    return r;
  });
  results.push({ v, runs });
}
const primary = headline[0];
const vals = (runs, k) => runs.map((r) => 100 * r.metrics[k]);
const rows = results.map(({ v, runs }, i) => {
  const p = vals(runs, primary);
  const delta = i === 0 ? '—' : pm(p.map((x, j) => x - vals(results[0].runs, primary)[j]));
  return `| ${v.label} | ${headline.map((k) => pm(vals(runs, k))).join(' | ')} | ${delta} | ${p.map((a) => a.toFixed(2)).join(', ')} | ${mean(runs.map((r) => r.wallSeconds)).toFixed(0)} s |`;
});
const table = [
  `${name}: ${config} ${common.join(' ')}, seeds ${seeds.join(', ')} (mean ± sample std; Δ: the paired difference to ${results[0].v.label}, seed by seed)`, '',
  `| variant | ${headline.map((k) => `test ${label(k)} %`).join(' | ')} | Δ ${label(primary)} | per seed (${label(primary)}) | wall time per run |`,
  `|---|${headline.map(() => '---:|').join('')}---:|---|---:|`, ...rows,
].join('\n');
console.log('\n' + table);
mkdirSync(join(root, 'work_dirs/ablate', name), { recursive: true });
writeFileSync(join(root, 'work_dirs/ablate', name, 'summary.md'), table + '\n');
