// A wall-time budget for a run (`--budget 10m`, `train.budget`): before the
// schedule is laid out, the first steps are timed on a throw-away copy of the
// model (its own optimizer, loss, augmentation generator and loader; libtorch's
// generator restored after, so the run itself is a function of the plan
// alone), and so is evaluation. Each epoch is then cut to the steps that fit
// (the first steps of the epoch's shuffled order), so the cosine schedule,
// warm-up, SWA and the augmentation tail — all laid out in epochs — keep
// their shape over what fits. The plan is written to plan.json and
// metrics.json; --resume reuses plan.json instead of measuring again, so a
// resumed run equals an uninterrupted one. Without a budget nothing is timed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import * as torch from '../torch/index.js';
import { DataLoader, Rng, type Batch } from '../data/index.js';
import { BatchPipeline } from '../augment/batch/pipeline.js';
import { buildViews } from '../infer/tta.js';
import type { BaseConfig } from '../config/sections.js';
import { buildOptimizer, swaStartEpoch } from './build.js';
import { batchTensors, Predictor } from './predictor.js';
import type { Trainer } from './trainer.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';

export interface BudgetPlan {
  budgetSeconds: number;
  /** Steps per epoch: the cut, and a full epoch's. */
  stepsPerEpoch: number;
  fullStepsPerEpoch: number;
  epochs: number;
  /** Training images over the run (steps × batch). */
  trainImages: number;
  trainImagesPerSecond: number;
  evalImagesPerSecond: number;
  /** Seconds before training starts (set-up and measuring) and the whole run's estimate. */
  setupSeconds: number;
  estimatedSeconds: number;
  amp: string;
  threads: number;
  cpu: string;
}

/** '90s', '10m', '1.5h' or seconds → seconds. */
export function parseDuration(v: number | string, what = 'train.budget'): number {
  if (typeof v === 'number' && v > 0) return v;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(s|m|min|h)$/.exec(v.trim()) : null;
  if (!m) throw new TypeError(`${what}: expected a duration such as '90s', '10m' or '1.5h', got ${JSON.stringify(v)}`);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 's' ? 1 : 60);
}

// Share of the budget the plan fills: steady-state steps run slower than the first ones timed (on the AMD EPYC
// of npm start's figures, four runs: 164, 160, 154 and 158 img/s over the run against 174, 175, 173 and 167
// timed, i.e. 5–11% slower; at 0.92 the third took 9 min 59 s of its 10, at 0.88 the fourth 9 min 22 s).
const FILL = 0.88;
// Per-epoch costs besides the steps (a checkpoint, trimming memory), in seconds.
const EPOCH_OVERHEAD = 1;

/** Evaluations over the test set in a run: every evalInterval epochs and the last, then EMA, SWA and each TTA view. */
export function evalPasses(cfg: BaseConfig): number {
  const e = cfg.train.epochs, k = cfg.train.evalInterval ?? 1;
  return Math.floor(e / k) + (e % k ? 1 : 0) + (cfg.ema ? 1 : 0) + (cfg.swa ? 1 : 0) + (cfg.tta ? buildViews(cfg.tta).length : 0);
}

/** The steps per epoch that fit: pure arithmetic on what was measured (tests check it by hand). */
export function stepsThatFit(o: { budgetSeconds: number; setupSeconds: number; epochs: number; batchSize: number; fullStepsPerEpoch: number; trainIps: number; evalIps: number; testImages: number; evalPasses: number; swa: boolean }): { steps: number; estimatedSeconds: number } {
  const fixed = o.setupSeconds + o.evalPasses * o.testImages / o.evalIps + o.epochs * EPOCH_OVERHEAD;
  // Per step of every epoch: the step itself, and (with SWA) one forward of its batch to recompute BatchNorm statistics.
  const perStep = o.epochs * o.batchSize / o.trainIps + (o.swa ? o.batchSize / o.evalIps : 0);
  const steps = Math.min(o.fullStepsPerEpoch, Math.floor((o.budgetSeconds * FILL - fixed) / perStep));
  if (steps < 1) {
    throw new RangeError(`train.budget: ${o.budgetSeconds.toFixed(0)} s is too short: set-up, evaluation and one step per epoch take about ${(fixed + perStep).toFixed(0)} s here (fewer epochs, a smaller test set or a larger budget)`);
  }
  return { steps, estimatedSeconds: fixed + steps * perStep };
}

/** Times `n` steps after `warm` untimed ones (fewer of each on a loader that has fewer batches); returns images per second. */
async function timeSteps(warmWanted: number, nWanted: number, loader: DataLoader, step: (b: Batch) => void, what: string): Promise<number> {
  const warm = Math.min(warmWanted, Math.max(0, loader.length - 1));
  const n = Math.max(1, Math.min(nWanted, loader.length - warm));
  let i = 0, images = 0, t0 = performance.now();
  for await (const b of loader) {
    if (i === warm) t0 = performance.now();
    if (i >= warm) images += b.images.shape[0];
    try { step(b); } finally { torch.dispose(batchTensors(b)); }
    if (++i === warm + n) break;
  }
  if (i - warm < 1) throw new RangeError(`train.budget: no ${what} batch to time`);
  return images / ((performance.now() - t0) / 1000);
}

export async function planBudget(t: Trainer, budget: number | string): Promise<BudgetPlan> {
  const budgetSeconds = parseDuration(budget);
  const file = join(t.opts.workDir, 'plan.json');
  if (t.opts.resume && existsSync(file)) {
    const plan = JSON.parse(readFileSync(file, 'utf8')) as BudgetPlan;
    const full = Math.floor(t.train.length / t.batchSize);
    const now = { budgetSeconds, epochs: t.epochs, fullStepsPerEpoch: full }, then = { budgetSeconds: plan.budgetSeconds, epochs: plan.epochs, fullStepsPerEpoch: plan.fullStepsPerEpoch };
    if (JSON.stringify(now) !== JSON.stringify(then)) {
      throw new TypeError(`--resume: ${file} was planned for ${JSON.stringify(then)}, the config now gives ${JSON.stringify(now)}; resume with the same budget, epochs and data, or start a new work dir`);
    }
    t.log(`budget: the plan of the run being resumed (${file}): ${plan.stepsPerEpoch} steps an epoch`);
    return plan;
  }
  const cfg = t.cfg as BaseConfig;
  const t0 = performance.now();
  const batch = t.batchSize;
  const full = Math.floor(t.train.length / batch);
  // A throw-away model, optimizer, loss and augmentation generator: the run's own are untouched, and libtorch's generator is restored.
  const rngState = torch.getRngState();
  let trainIps: number, evalIps: number;
  let model: Module | null = null, optimizer: Optimizer | null = null;
  try {
    model = t.task.buildModel({ ...cfg, model: { ...cfg.model, pretrained: undefined, backbonePretrained: undefined } } as BaseConfig, t.info);
    if (cfg.train.channelsLast) model.toMemoryFormat('channelsLast');
    const loss = t.task.buildLoss(cfg, t.info, model, () => {});
    const lv = loss.multi.logVars;
    ({ optimizer } = buildOptimizer(cfg.optimizer, model, lv ? { params: [lv], name: 'loss.logVars' } : null));
    const m = model, opt = optimizer;
    const pipeline = cfg.augment?.train?.length ? new BatchPipeline(cfg.augment.train) : null;
    const ctx = { rng: new Rng(Rng.derive(t.seed, 0xb0d)), mean: cfg.data.mean ?? [], std: cfg.data.std ?? [], numClasses: t.info.classes.length };
    const p = t.predictor;
    if (!ctx.mean.length) Object.assign(ctx, Predictor.normalisation(cfg, t.info.inChannels));
    const loader = new DataLoader(t.train, { batchSize: batch, shuffle: true, dropLast: true, seed: t.seed + 1, prefetch: cfg.data.prefetch });
    m.train();
    trainIps = await timeSteps(2, 8, loader, (b) => torch.scope(() => {
      let ib = { images: p.normalise(b.images), ...t.task.batchTargets(b) };
      if (pipeline) ib = pipeline.apply(ib, ctx, 1, cfg.train.epochs);
      const { total } = loss.multi.forward(p.forward(m, p.layout(ib.images)), t.task.targets(ib));
      total.backward();
      opt.step();
      opt.zeroGrad();
      total.item();
    }), 'training');
    const testBatch = cfg.data.testBatchSize ?? batch * 2;
    const testLoader = new DataLoader(t.test, { batchSize: testBatch, shuffle: false, prefetch: cfg.data.prefetch });
    m.eval();
    evalIps = await timeSteps(1, 3, testLoader, (b) => torch.noGrad(() => torch.scope(() => { p.predictBatch(m, b.images); })), 'test');
  } finally {
    optimizer?.zeroGrad();
    optimizer?.dispose();
    model?.dispose();
    torch.setRngState(rngState);
    rngState.dispose();
    torch.trimMemory();
  }
  // Everything before the first training step: the run's set-up so far and the timing above.
  const setupSeconds = (performance.now() - (t.startedAt ?? t0)) / 1000;
  const fit = stepsThatFit({ budgetSeconds, setupSeconds, epochs: cfg.train.epochs, batchSize: batch, fullStepsPerEpoch: full, trainIps, evalIps, testImages: t.test.length, evalPasses: evalPasses(cfg), swa: !!cfg.swa && swaStartEpoch(cfg) <= cfg.train.epochs });
  const plan: BudgetPlan = {
    budgetSeconds, stepsPerEpoch: fit.steps, fullStepsPerEpoch: full, epochs: cfg.train.epochs, trainImages: fit.steps * batch * cfg.train.epochs,
    trainImagesPerSecond: trainIps, evalImagesPerSecond: evalIps, setupSeconds, estimatedSeconds: fit.estimatedSeconds,
    amp: t.amp, threads: torch.getNumThreads(), cpu: cpus()[0]?.model.trim() ?? 'unknown',
  };
  torch.safetensors.writeAtomic(file, JSON.stringify(plan, null, 2) + '\n');
  const cut = fit.steps < full ? `${fit.steps} of ${full} steps an epoch` : `full epochs (${full} steps) fit`;
  t.log(`budget ${(budgetSeconds / 60).toFixed(1)} min: planned ${(fit.estimatedSeconds / 60).toFixed(1)} min: ${plan.trainImages.toLocaleString('en-US')} images in ${fit.steps * cfg.train.epochs} steps (${cut}, ${cfg.train.epochs} epochs) at ${trainIps.toFixed(0)} img/s training, ${evalIps.toFixed(0)} img/s evaluating, ${t.amp}, ${plan.threads} threads`);
  return plan;
}
