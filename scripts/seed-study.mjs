#!/usr/bin/env node
// The test-time tricks against the single model, over seeds (docs/tricks.md):
// trains a recipe that has SWA once per seed, then scores, per seed,
//   single model   the last epoch's weights, one view
//   TTA            the same weights with the config's TTA (flip by default)
//   SWA            the averaged weights (BatchNorm recomputed), one view
//   SWA + TTA
// and, per group of `--group` seeds (disjoint: seeds 1-3, 4-6, ...),
//   ensemble       the group's last-epoch weights, probabilities averaged
//   ensemble of SWA + TTA
// Each row is the mean ± sample std over seeds (or groups), with the paired
// difference to the single model of the same seeds. Runs already finished
// (metrics.json present) are reused, so the study can be resumed.
//
//   node scripts/seed-study.mjs configs/fashion-mnist/tricks-small.ts --name test-time [--seeds 1,...,9] [--group 3] [--set ...]
//
// Work dirs: work_dirs/study/<name>/seed<N>; the table: work_dirs/study/<name>/summary.md.
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const config = argv[0];
const usage = 'usage: node scripts/seed-study.mjs <config.ts> --name NAME [--seeds 1,2,...] [--group 3] [--set a.b=value ...]';
if (!config || config.startsWith('--')) { console.error(usage); process.exit(2); }
let name = 'study', seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9], group = 3;
const common = [];
for (let i = 1; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--name') name = argv[++i];
  else if (a === '--seeds') seeds = argv[++i].split(',').map(Number);
  else if (a === '--group') group = Number(argv[++i]);
  else common.push(a);
}
if (!(Number.isInteger(group) && group >= 2) || seeds.length < group || seeds.some((s) => !Number.isInteger(s))) { console.error(`seed-study: need integer seeds and at least --group (${group}) of them\n${usage}`); process.exit(2); }
const base = join(root, 'work_dirs/study', name);
const cli = join(root, 'dist/src/commands/main.js');

function arsenal(args, label) {
  console.log(`# ${label}: node dist/src/commands/main.js ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) { console.error(`seed-study: ${label} failed`); process.exit(1); }
}
const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));

const perSeed = [];
let P = 'accuracy'; // the task's primary metric (metrics.json primaryMetric): accuracy, mIoU, ...
const cap = (k) => k[0].toUpperCase() + k.slice(1);
for (const seed of seeds) {
  const wd = join(base, `seed${seed}`);
  if (!existsSync(join(wd, 'metrics.json'))) arsenal(['train', config, '--seed', String(seed), '--work-dir', wd, '--quiet', ...common], `train seed ${seed}`);
  const m = readJson(join(wd, 'metrics.json'));
  P = m.primaryMetric ?? 'accuracy';
  if (m.metrics[`model${cap(P)}`] === undefined) { console.error(`seed-study: ${config} has no SWA (metrics.json has no model${cap(P)}); the study needs a recipe with swa`); process.exit(1); }
  const last = join(wd, `epoch_${m.epochs}.safetensors`);
  const ttaDir = join(wd, 'tta-last');
  if (!existsSync(join(ttaDir, 'test_metrics.json'))) arsenal(['test', config, '--checkpoint', last, '--tta', '--no-predictions', '--work-dir', ttaDir, ...common], `TTA seed ${seed}`);
  const t = readJson(join(ttaDir, 'test_metrics.json'));
  const M = m.metrics;
  perSeed.push({ seed, wd, last, single: M[`model${cap(P)}`], tta: t.metrics[P], swa: M[P], swaTta: M[`tta${cap(P)}`] ?? NaN, seconds: m.wallSeconds });
  console.log(`  seed ${seed}: single ${pct(M[`model${cap(P)}`])}, TTA ${pct(t.metrics[P])}, SWA ${pct(M[P])}, SWA + TTA ${pct(M[`tta${cap(P)}`] ?? NaN)}`);
}

const groups = [];
for (let g = 0; g + group <= perSeed.length; g += group) {
  const members = perSeed.slice(g, g + group);
  const gname = `ensemble-seeds${members.map((s) => s.seed).join('-')}`;
  const score = (label, files, extra) => {
    const dir = join(base, `${gname}-${label}`);
    if (!existsSync(join(dir, 'ensemble.json'))) arsenal(['ensemble', config, ...files.flatMap((f) => ['--checkpoint', f]), '--work-dir', dir, ...extra, ...common], `${label} ${gname}`);
    return readJson(join(dir, 'ensemble.json')).at(-1)[P];
  };
  groups.push({
    members,
    single: mean(members.map((s) => s.single)),
    ensemble: score('last', members.map((s) => s.last), []),
    ensembleSwaTta: score('swa-tta', members.map((s) => join(s.wd, 'swa.safetensors')), ['--tta']),
  });
}

function mean(xs) { return xs.reduce((a, b) => a + b, 0) / xs.length; }
function std(xs) { const m = mean(xs); return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1)); }
function pct(v) { return `${(100 * v).toFixed(2)}%`; }
const fmt = (xs) => `${(100 * mean(xs)).toFixed(2)} ± ${(100 * std(xs)).toFixed(2)}`;
const diff = (xs, ys) => { const d = xs.map((x, i) => x - ys[i]); return `${mean(d) >= 0 ? '+' : ''}${(100 * mean(d)).toFixed(2)} ± ${(100 * std(d)).toFixed(2)}`; };
const single = perSeed.map((s) => s.single);
const rows = [
  ['single model (last epoch, one view)', single, single, `${perSeed.length} seeds`],
  ['TTA (config\'s views)', perSeed.map((s) => s.tta), single, `${perSeed.length} seeds`],
  ['SWA (BatchNorm recomputed)', perSeed.map((s) => s.swa), single, `${perSeed.length} seeds`],
  ['SWA + TTA', perSeed.map((s) => s.swaTta), single, `${perSeed.length} seeds`],
  [`ensemble of ${group} single models (mean of probabilities)`, groups.map((g) => g.ensemble), groups.map((g) => g.single), `${groups.length} disjoint groups`],
  [`ensemble of ${group} SWA models, each with TTA`, groups.map((g) => g.ensembleSwaTta), groups.map((g) => g.single), `${groups.length} disjoint groups`],
];
const table = [
  `${name}: ${config} ${common.join(' ')}; seeds ${seeds.join(', ')}; mean ± sample std; Δ is paired (against the single models of the same seeds; for ensembles, the mean of their members)`,
  '',
  `| model | test ${P} % | Δ vs single model, points | over | per seed or group |`,
  '|---|---:|---:|---|---|',
  ...rows.map(([label, xs, ref, over]) => `| ${label} | ${fmt(xs)} | ${xs === ref ? '—' : diff(xs, ref)} | ${over} | ${xs.map((x) => (100 * x).toFixed(2)).join(', ')} |`),
  '',
  `training: ${mean(perSeed.map((s) => s.seconds)).toFixed(0)} s a run (mean)`,
].join('\n');
console.log('\n' + table);
mkdirSync(base, { recursive: true });
writeFileSync(join(base, 'summary.md'), table + '\n');
console.log(`wrote ${join(base, 'summary.md')}`);
