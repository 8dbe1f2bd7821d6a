// `npm start`: the main job. Trains the Fashion-MNIST tricks recipe in a
// budget a 2-core machine finishes in about ten minutes (2 epochs over the
// first 45,000 training images instead of the recipe's 12 over 60,000; SWA
// averages the last one), tests on the full test set, then prints a table.
import { join } from 'node:path';
import { parseArgs, intFlag } from './args.js';
import { loadConfig } from '../engine/load_config.js';
import { fmt } from '../engine/progress.js';

const START_EPOCHS = 2;
const START_TRAIN_IMAGES = 45000;

export async function start(argv: string[]): Promise<void> {
  const p = parseArgs(argv, { boolean: ['full'], value: ['epochs', 'work-dir'] });
  const recipe = join(process.cwd(), 'configs/fashion-mnist/tricks.ts');
  const full = p.flags.has('full');
  const epochs = intFlag(p, 'epochs');
  const budget = full ? [] : [`train.epochs=${START_EPOCHS}`, `data.trainSubset=${START_TRAIN_IMAGES}`];
  const sets = [...budget, ...p.sets, ...(epochs !== undefined ? [`train.epochs=${epochs}`] : [])];
  const cfg = await loadConfig(recipe, sets);
  const workDir = typeof p.flags.get('work-dir') === 'string' ? (p.flags.get('work-dir') as string) : 'work_dirs/start';
  const subset = cfg.data.trainSubset ? ` on the first ${cfg.data.trainSubset} training images` : '';
  console.log(`Arsenal main job: ${recipe} for ${cfg.train.epochs} epochs${subset} (the recipe's full length: npm start -- --full), work dir ${workDir}`);
  const { Trainer } = await import('../engine/trainer.js');
  const trainer = new Trainer(cfg, { workDir });
  const r = await trainer.fit();
  const rows: [string, string][] = [
    ['dataset', `${r.dataset} (${trainer.trainSize} train / ${trainer.testSize} test images)`],
    ['model', `${cfg.model.name} (${cfg.model.stem ?? 'imagenet'} stem), amp ${trainer.amp}`],
    ['epochs', String(r.epochs)],
    ['test accuracy (final model)', `${(100 * r.metrics.accuracy).toFixed(2)}%`],
  ];
  if (r.metrics.modelAccuracy !== undefined) rows.push(['  last model before SWA', `${(100 * r.metrics.modelAccuracy).toFixed(2)}%`]);
  if (r.metrics.emaAccuracy !== undefined) rows.push(['  EMA model', `${(100 * r.metrics.emaAccuracy).toFixed(2)}%`]);
  if (r.metrics.ttaAccuracy !== undefined) rows.push(['  final model with TTA', `${(100 * r.metrics.ttaAccuracy).toFixed(2)}%`]);
  rows.push(['balanced accuracy', `${(100 * r.metrics.balancedAccuracy).toFixed(2)}%`]);
  rows.push(['training throughput', `${r.imagesPerSecond.toFixed(0)} images/s (data wait ${(100 * r.dataWaitShare).toFixed(1)}% of step time)`]);
  rows.push(['wall time', fmt(r.wallSeconds)]);
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log('\n| ' + 'result'.padEnd(w) + ' | value |\n|' + '-'.repeat(w + 2) + '|-------|');
  for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`);
  console.log(`\nmetrics: ${join(workDir, 'metrics.json')}; log: ${join(workDir, 'log.jsonl')}`);
}
