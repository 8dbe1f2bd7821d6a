#!/usr/bin/env node
// Runs a recipe with and without one change, over several seeds, and prints
// the mean ± std of the task's headline metrics of each variant (metrics.json's
// `headline`: accuracy and balanced accuracy, or mIoU, mAcc and aAcc; the
// numbers docs/tricks.md reports). Each run is `arsenal train`, its work dir
// work_dirs/ablate/<name>/<variant>-seed<N>.
//
//   node scripts/ablate.mjs <config.ts> --name NAME --variant 'label=--set a=b ...' [--variant ...] [--seeds 1,2,3] [--set ...]
//
// e.g. class weighting on long-tailed Fashion-MNIST:
//   node scripts/ablate.mjs configs/fashion-mnist/long-tail.ts --name long-tail \
//     --variant 'effective-number=' --variant 'plain CE=--set loss.classWeight=null'
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { metricLabel as label } from '../dist/src/util/table.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const config = argv[0];
if (!config || config.startsWith('--')) { console.error('usage: node scripts/ablate.mjs <config.ts> --name NAME --variant "label=ARGS" [--variant ...] [--seeds 1,2,3] [--set ...]'); process.exit(2); }
let name = 'ablation', seeds = [1, 2, 3];
const variants = [], common = [];
for (let i = 1; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--name') name = argv[++i];
  else if (a === '--seeds') seeds = argv[++i].split(',').map(Number);
  else if (a === '--variant') { const v = argv[++i]; const eq = v.indexOf('='); variants.push({ label: v.slice(0, eq), args: v.slice(eq + 1).split(' ').filter(Boolean) }); }
  else common.push(a);
}
if (variants.length === 0) { console.error('ablate: give at least one --variant'); process.exit(2); }
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / Math.max(1, xs.length - 1));
const rows = [];
let headline = null;
for (const v of variants) {
  const vals = {}, secs = [];
  for (const seed of seeds) {
    const wd = join(root, 'work_dirs/ablate', name, `${v.label.replace(/[^\w.-]+/g, '_')}-seed${seed}`);
    const args = [join(root, 'dist/src/commands/main.js'), 'train', config, '--seed', String(seed), '--work-dir', wd, '--quiet', ...common, ...v.args];
    console.log(`# ${v.label}, seed ${seed}: node ${args.slice(1).join(' ')}`);
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) { console.error(`ablate: run failed (${v.label}, seed ${seed})`); process.exit(1); }
    const m = JSON.parse(readFileSync(join(wd, 'metrics.json'), 'utf8'));
    // The task's headline metrics (classification: accuracy, balanced accuracy; segmentation: mIoU, mAcc, aAcc), as percentages.
    headline ??= m.headline ?? ['accuracy', 'balancedAccuracy'];
    for (const k of headline) (vals[k] ??= []).push(100 * m.metrics[k]);
    secs.push(m.wallSeconds);
    console.log(`  ${headline.map((k) => `${label(k)} ${vals[k].at(-1).toFixed(2)}%`).join(', ')}, ${m.wallSeconds.toFixed(0)} s`);
  }
  const p = vals[headline[0]];
  rows.push(`| ${v.label} | ${headline.map((k) => `${mean(vals[k]).toFixed(2)} ± ${std(vals[k]).toFixed(2)}`).join(' | ')} | ${p.map((a) => a.toFixed(2)).join(', ')} | ${mean(secs).toFixed(0)} s |`);
}
const table = [
  `${name}: ${config} ${common.join(' ')}, seeds ${seeds.join(', ')} (mean ± sample std)`, '',
  `| variant | ${headline.map((k) => `test ${label(k)} %`).join(' | ')} | per seed (${label(headline[0])}) | wall time per run |`,
  `|---|${headline.map(() => '---:|').join('')}---|---:|`, ...rows,
].join('\n');
console.log('\n' + table);
mkdirSync(join(root, 'work_dirs/ablate', name), { recursive: true });
writeFileSync(join(root, 'work_dirs/ablate', name, 'summary.md'), table + '\n');
