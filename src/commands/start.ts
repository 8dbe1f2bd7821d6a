// `npm start`: the main job. Trains the Fashion-MNIST tricks recipe — warm-up,
// cosine, SWA over the last quarter, flips, crops, random erasing, label
// smoothing, flip TTA — in a 10-minute time budget: the first steps are timed
// and each epoch is cut to the steps that fit (src/engine/budget.ts), so the
// run ends in about ten minutes on any machine. At this budget it trains 3
// epochs, not the recipe's 12: on the AMD EPYC of README's figures (seed 42,
// one run each) 12 epochs cut to 49 steps reached 86.92% and 3 epochs of 185
// steps 89.08%, with about the same number of images (75,264 and 71,040).
// It evaluates once at the end
// (each pass over the 10,000 test images costs budget), then prints the plan
// and a result table naming the CPU, the threads and the precision.
// `--full` trains the recipe at its full length without a budget; `--budget
// 30m` gives it another; `--epochs N` another number of epochs.
import { join } from 'node:path';
import { cpus } from 'node:os';
import { parseArgs, intFlag } from './args.js';
import { loadConfig } from '../engine/load_config.js';
import { fmt } from '../engine/progress.js';
import { markdownTable } from '../util/table.js';
import * as torch from '../torch/index.js';

const START_BUDGET = '10m';
const START_EPOCHS = 3;

export async function start(argv: string[]): Promise<void> {
  const p = parseArgs(argv, { boolean: ['full'], value: ['epochs', 'work-dir', 'budget'] });
  const recipe = join(process.cwd(), 'configs/fashion-mnist/tricks.ts');
  const full = p.flags.has('full');
  const budgetFlag = p.flags.get('budget');
  if (budgetFlag === true) throw new TypeError("start: --budget needs a duration such as '10m'");
  if (full && budgetFlag !== undefined) throw new TypeError('start: --full trains without a budget; give --full or --budget, not both');
  const epochs = intFlag(p, 'epochs');
  const budget = full ? [] : [`train.budget=${budgetFlag ?? START_BUDGET}`, `train.epochs=${START_EPOCHS}`];
  const sets = [...budget, ...p.sets, ...(epochs !== undefined ? [`train.epochs=${epochs}`] : [])];
  const loaded = await loadConfig(recipe, sets);
  if (loaded.task !== 'classification') throw new TypeError(`start: ${recipe} must be a classification recipe`);
  let cfg = loaded;
  // One evaluation at the end under a budget (unless --set train.evalInterval=… asks for more).
  if (!full && !p.sets.some((s) => s.startsWith('train.evalInterval='))) cfg = { ...cfg, train: { ...cfg.train, evalInterval: cfg.train.epochs } };
  const workDir = typeof p.flags.get('work-dir') === 'string' ? (p.flags.get('work-dir') as string) : 'work_dirs/start';
  const length = full ? `its full length (${cfg.train.epochs} epochs)` : `a ${cfg.train.budget} budget (${cfg.train.epochs} epochs, each cut to the steps that fit; npm start -- --full for the full length)`;
  console.log(`Arsenal main job: ${recipe} in ${length}, work dir ${workDir}`);
  const { Trainer } = await import('../engine/trainer.js');
  const trainer = new Trainer(cfg, { workDir });
  const r = await trainer.fit();
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const rows: [string, string][] = [
    ['dataset', `${r.dataset} (${trainer.trainSize} train / ${trainer.testSize} test images)`],
    ['model', `${cfg.model.name} (${cfg.model.stem ?? 'imagenet'} stem)`],
    ['machine', `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${torch.getNumThreads()} threads, ${r.amp === 'bf16' ? 'bf16 autocast' : 'fp32'}`],
  ];
  if (r.plan) {
    const pl = r.plan;
    rows.push(['budget', `${fmt(pl.budgetSeconds)}: planned ${fmt(pl.estimatedSeconds)}, ${pl.trainImages.toLocaleString('en-US')} training images in ${pl.stepsPerEpoch * pl.epochs} steps (${pl.stepsPerEpoch} of ${pl.fullStepsPerEpoch} an epoch) at ${pl.trainImagesPerSecond.toFixed(0)} images/s measured`]);
  }
  rows.push(['epochs', String(r.epochs)]);
  rows.push(['test accuracy (final model)', pct(r.metrics.accuracy)]);
  if (r.metrics.modelAccuracy !== undefined) rows.push(['  last model before SWA', pct(r.metrics.modelAccuracy)]);
  if (r.metrics.emaAccuracy !== undefined) rows.push(['  EMA model', pct(r.metrics.emaAccuracy)]);
  if (r.metrics.ttaAccuracy !== undefined) rows.push(['  final model with TTA', pct(r.metrics.ttaAccuracy)]);
  rows.push(['balanced accuracy', pct(r.metrics.balancedAccuracy)]);
  rows.push(['training throughput', `${r.imagesPerSecond.toFixed(0)} images/s (data wait ${(100 * r.dataWaitShare).toFixed(1)}% of step time)`]);
  rows.push(['wall time', `${fmt(r.wallSeconds)}${r.plan ? ` (${(100 * r.wallSeconds / r.plan.budgetSeconds).toFixed(0)}% of the budget)` : ''}`]);
  console.log('\n' + markdownTable(['result', 'value'], rows));
  console.log(`\nmetrics: ${join(workDir, 'metrics.json')}; plan: ${join(workDir, 'plan.json')}; log: ${join(workDir, 'log.jsonl')}`);
}
