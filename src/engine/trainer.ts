// The Trainer: a small loop — for each epoch, for each batch: augment,
// forward, the task's loss, backward, step — with the tricks as hooks around
// it (./hooks: schedule, EMA, SWA, evaluation and the best model, TTA, logs,
// checkpoints). Every task-specific decision goes through the Task
// (src/tasks). One seed drives libtorch, the JS-side generator and the data
// order, so the same config gives the same weights bit for bit on CPU, and a
// resumed run equals an uninterrupted one. docs/architecture.md.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { GroupSummary } from '../optim/paramwise.js';
import { clipGradNorm } from '../optim/clip.js';
import { DataLoader, Rng, type Dataset, type Batch } from '../data/index.js';
import { BatchPipeline } from '../augment/batch/pipeline.js';
import { wrapWithSampleSteps } from '../augment/sample/mix_dataset.js';
import type { AugmentContext, ImageBatch } from '../augment/batch/types.js';
import type { BaseConfig } from '../config/sections.js';
import type { TtaOptions } from '../infer/tta.js';
import { getTask, type Config } from '../tasks/index.js';
import { SINGLE_PROCESS, type DataInfo, type LossContext, type Task, type TaskLoss } from '../tasks/task.js';
import { buildOptimizer, buildSchedule, swaStartEpoch } from './build.js';
import { Predictor, batchTensors } from './predictor.js';
import { defaultHooks, type Hook, type EpochRecord } from './hooks/index.js';
import { latestTag } from './checkpoint.js';
import { saveTrainerState, restoreTrainerState } from './trainer_state.js';
import { resolveAmp, type Amp } from './precision.js';
import * as distributed from '../distributed/index.js';
import { planBudget, type BudgetPlan } from './budget.js';
import type { TrainResult, TrainerOptions } from './trainer_types.js';

export type { TrainResult, TrainerOptions } from './trainer_types.js';

export class Trainer {
  readonly task: Task;
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  model!: Module;
  optimizer!: Optimizer;
  groups: GroupSummary[] = [];
  loss!: TaskLoss<unknown, unknown>;
  predictor!: Predictor;
  info!: DataInfo;
  pipeline: BatchPipeline | null = null;
  hooks: Hook[] = [];
  train!: Dataset;
  test!: Dataset;
  trainLoader!: DataLoader;
  testLoader!: DataLoader;
  /** The last evaluation's metrics (EvalHook). */
  lastMetrics: Record<string, number> | null = null;
  startEpoch = 1;
  /** performance.now() when fit() started (the budget counts from it). */
  startedAt: number | null = null;
  plan: BudgetPlan | null = null;
  /** The precision actually used ('auto' resolved by torch.bf16Support(), or kept from the checkpoint being resumed). */
  amp: Amp;
  /** The notice when 'auto' precision fell back to fp32 (logged at the start). */
  ampNotice: string | null;
  /** The JS-side generator of the batch transforms (checkpointed). */
  rng!: Rng;
  private augmentContext!: AugmentContext;
  readonly log: (msg: string) => void;
  /**
   * This process's place in a data-parallel run (torch.distributed initialised
   * before the Trainer: `arsenal train --nproc N`), or { rank 0 of 1 }. Every
   * rank trains on its shard of each global batch through
   * DistributedDataParallel and evaluates its shard of the test set (the
   * meters merged); only rank 0 writes (isMain).
   */
  readonly world: { rank: number; worldSize: number };
  /** The model's DistributedDataParallel wrapper in a data-parallel run (the training forward goes through it). */
  ddp: distributed.DistributedDataParallel | null = null;
  /** Whether this process writes the run's files and logs (rank 0). */
  get isMain(): boolean { return this.world.rank === 0; }

  get trainSize(): number { return this.train?.length ?? 0; }
  get testSize(): number { return this.test?.length ?? 0; }
  /** The model the run reports on: a hook's (SWA's average once it has averaged anything), else the trained model. */
  get finalModel(): Module { return this.hooks.reduce<Module | null>((m, h) => h.finalModel?.() ?? m, null) ?? this.model; }

  constructor(readonly cfg: Config | BaseConfig, readonly opts: TrainerOptions) {
    this.task = getTask(cfg.task);
    this.seed = cfg.seed ?? 42;
    this.epochs = cfg.train.epochs;
    this.batchSize = cfg.data.batchSize;
    ({ amp: this.amp, notice: this.ampNotice } = resolveAmp(cfg.train.amp));
    this.world = distributed.isInitialized() ? { rank: distributed.getRank(), worldSize: distributed.getWorldSize() } : { rank: 0, worldSize: 1 };
    this.log = opts.quiet || !this.isMain ? () => {} : (m) => console.log(m);
    if (this.batchSize % this.world.worldSize !== 0) {
      throw new RangeError(`config: data.batchSize (${this.batchSize}) is the global batch: it must be divisible by the number of processes (${this.world.worldSize})`);
    }
  }

  /** Builds data, model, loss, optimizer, schedule and hooks; called by fit(). */
  async setup(): Promise<void> {
    const cfg = this.cfg as BaseConfig;
    mkdirSync(this.opts.workDir, { recursive: true });
    torch.manualSeed(this.seed);
    // Its own stream: the loader derives epoch e's order from (seed, e).
    this.rng = new Rng(Rng.derive(this.seed, 0xa06, 1));
    ({ train: this.train, test: this.test } = this.opts.datasets ?? await this.task.datasets(cfg));
    const batch = this.batchSize;
    if (this.train.length < batch) throw new RangeError(`config: data.batchSize (${batch}) is larger than the training set (${this.train.length} images); no full batch to train on`);
    const probe = await this.train.getBatch([0]);
    const channels = probe.images.shape[1];
    torch.dispose(batchTensors(probe));
    const { mean, std } = Predictor.normalisation(cfg, channels);
    this.info = { classes: this.train.classes, classCounts: this.train.classCounts(), inChannels: channels };
    this.predictor = new Predictor(this.task, cfg, this.amp, this.info, mean, std);
    // augment.sample: Mosaic / YOLOX MixUp per training sample (each from its own (seed, epoch, index) generator);
    // without it the training set is the dataset itself.
    this.train = wrapWithSampleSteps(this.train, cfg.augment?.sample, { seed: this.seed, epochs: this.epochs });
    if (cfg.augment?.train?.length) {
      this.pipeline = new BatchPipeline(cfg.augment.train);
      // A data-parallel run draws each transform's per-sample parameters for the global batch (AugmentContext.shard).
      this.augmentContext = { rng: this.rng, mean, std, numClasses: this.info.classes.length, ...(this.world.worldSize > 1 ? { shard: { ...this.world } } : {}) };
    }
    this.model = this.task.buildModel(cfg, this.info, this.log);
    if (cfg.train.syncBatchNorm && this.world.worldSize > 1) distributed.convertSyncBatchnorm(this.model);
    if (cfg.train.channelsLast) this.model.toMemoryFormat('channelsLast');
    this.loss = this.task.buildLoss(cfg, this.info, this.model, this.log, this.lossContext());
    const lv = this.loss.multi.logVars;
    ({ optimizer: this.optimizer, groups: this.groups } = buildOptimizer(cfg.optimizer, this.model, lv ? { params: [lv], name: 'loss.logVars' } : null));
    // A time budget fixes the steps per epoch before the schedule is laid out over them (./budget.ts).
    // With several processes rank 0 plans and every rank takes its plan (the ranks must step together).
    if (cfg.train.budget !== undefined) {
      const plan = this.isMain ? await planBudget(this, cfg.train.budget) : null;
      this.plan = this.world.worldSize > 1 ? distributed.allGatherObject(plan)[0] : plan;
    }
    const steps = this.plan?.stepsPerEpoch;
    // Each rank's shard of every global batch (data.batchSize over all processes; DataLoader rank/worldSize).
    const shard = { rank: this.world.rank, worldSize: this.world.worldSize };
    this.trainLoader = new DataLoader(this.train, { batchSize: batch / shard.worldSize, shuffle: true, dropLast: true, seed: this.seed, prefetch: cfg.data.prefetch, ...shard, ...(steps ? { maxBatches: steps } : {}) });
    this.testLoader = new DataLoader(this.test, { batchSize: cfg.data.testBatchSize ?? batch * 2, shuffle: false, prefetch: cfg.data.prefetch, ...shard });
    if (shard.worldSize > 1) this.ddp = new distributed.DistributedDataParallel(this.model, { findUnusedParameters: cfg.train.findUnusedParameters ?? false });
    const swaStart = swaStartEpoch(cfg);
    const schedule = buildSchedule(cfg.schedule, this.optimizer, cfg.optimizer.lr, Math.min(this.epochs, swaStart - 1), this.trainLoader.length);
    this.hooks = defaultHooks(cfg, { schedule, swaStart, quiet: !!this.opts.quiet || !this.isMain, extra: this.opts.hooks });
    for (const h of this.hooks) h.setup?.(this);
  }

  /**
   * The loss's normalisers (positives, non-ignored pixels, weight sums)
   * averaged over the processes in a data-parallel run (mmdet's reduce_mean),
   * so that each rank's loss is its share of the global batch's.
   */
  private lossContext(): LossContext {
    const w = this.world.worldSize;
    if (w === 1) return SINGLE_PROCESS;
    return {
      processes: w,
      averageOverProcesses: (v) => {
        const t = v.detach().to({ dtype: 'float32' }).contiguous().clone();
        distributed.allReduce(t);
        return t.div(w);
      },
    };
  }

  /** A training batch: normalised, then the batch augmentations of this epoch (labels may become soft targets); the model's input and the loss's targets. */
  augment(b: Batch, epoch: number, opts: { loaderOnly?: boolean } = {}): { x: Tensor; targets: unknown } {
    let batch: ImageBatch = { images: this.predictor.normalise(b.images), ...this.task.batchTargets(b) };
    if (this.pipeline) batch = this.pipeline.apply(batch, this.augmentContext, epoch, this.epochs, opts);
    return { x: this.predictor.layout(batch.images), targets: this.task.targets(batch) };
  }

  /** The task's metrics of a model (the trained one by default) on the test set, with TTA when given. */
  evaluate(model: Module = this.model, tta?: TtaOptions): Promise<Record<string, number>> {
    if (this.world.worldSize === 1) return this.predictor.evaluate(model, this.testLoader, tta);
    // Every rank its shard, with rank 0's buffers (per-process BatchNorm statistics differ: PyTorch's DDP
    // broadcasts them before an evaluation forward too), the meters' states merged in rank order.
    distributed.broadcastCoalesced(model.buffers(), 0);
    return this.predictor.evaluate(model, this.testLoader, tta, undefined, { gather: distributed.allGatherObject });
  }

  /** One optimizer step on a batch; returns the loss. */
  trainStep(b: Batch, epoch: number): number {
    return torch.scope(() => {
      const { x, targets } = this.augment(b, epoch);
      const { total } = this.loss.multi.forward(this.predictor.forward(this.ddp ?? this.model, x), targets);
      total.backward();
      if (this.cfg.train.clipGradNorm) clipGradNorm(this.model.parameters(), this.cfg.train.clipGradNorm);
      this.optimizer.step();
      this.optimizer.zeroGrad();
      return total.item();
    });
  }

  async fit(): Promise<TrainResult> {
    const t0 = performance.now();
    this.startedAt = t0;
    await this.setup();
    if (this.opts.resume) {
      const tag = latestTag(this.opts.workDir);
      if (tag) restoreTrainerState(this, tag);
      else this.log(`--resume: no checkpoint in ${this.opts.workDir}; starting from scratch`);
    }
    if (this.ampNotice) this.log(this.ampNotice);
    this.log(`model ${this.cfg.model.name}: ${(this.model.numParameters() / 1e6).toFixed(2)}M parameters; ${this.train.length} training images, ${this.test.length} test images; seed ${this.seed}; amp ${this.amp}; threads ${torch.getNumThreads()}`);
    if (this.cfg.optimizer.paramwise) for (const g of this.groups) this.log(`  param group ${g.name}: ${g.params} tensors, lr ${g.lr}, weight decay ${g.weightDecay} (e.g. ${g.examples.join(', ')})`);
    for (const h of this.hooks) await h.beforeRun?.(this);
    let images = 0, trainSeconds = 0, waitSeconds = 0;
    for (let epoch = this.startEpoch; epoch <= this.epochs; epoch++) {
      for (const h of this.hooks) await h.beforeEpoch?.(this, epoch);
      this.model.train();
      this.trainLoader.setEpoch(epoch);
      const te = performance.now();
      let iter = 0, lossSum = 0;
      for await (const b of this.trainLoader) {
        const loss = this.trainStep(b, epoch);
        torch.dispose(batchTensors(b));
        if (!Number.isFinite(loss)) throw new Error(`training diverged: loss ${loss} at epoch ${epoch}, iteration ${iter + 1}`);
        iter++;
        lossSum += loss;
        images += this.batchSize; // the global batch: every rank steps through one
        const s = { epoch, iter, iters: this.trainLoader.length, loss, elapsed: (performance.now() - te) / 1000 };
        for (const h of this.hooks) h.afterStep?.(this, s);
      }
      const epochSeconds = (performance.now() - te) / 1000;
      torch.trimMemory(); // the epoch's freed batches and activations go back to the OS (kept between steps for speed)
      trainSeconds += epochSeconds;
      waitSeconds += this.trainLoader.waitSeconds;
      const record: EpochRecord = { epoch, trainLoss: lossSum / Math.max(1, iter), epochSeconds, dataWaitSeconds: this.trainLoader.waitSeconds };
      for (const h of this.hooks) await h.afterEpoch?.(this, epoch, record);
      if (this.opts.stopAfterEpoch === epoch && epoch < this.epochs) {
        this.log(`stopping after epoch ${epoch} (stopAfterEpoch)`);
        return this.result({}, t0, epoch, 0, 0);
      }
    }
    const metrics = { ...(this.lastMetrics ?? await this.evaluate()) };
    for (const h of this.hooks) await h.afterRun?.(this, metrics);
    const result = this.result(metrics, t0, this.epochs, trainSeconds > 0 ? images / trainSeconds : 0, trainSeconds > 0 ? waitSeconds / trainSeconds : 0);
    if (this.isMain) torch.safetensors.writeAtomic(join(this.opts.workDir, 'metrics.json'), JSON.stringify(result, null, 2) + '\n');
    return result;
  }

  private result(metrics: Record<string, number>, t0: number, epochs: number, imagesPerSecond: number, dataWaitShare: number): TrainResult {
    const c = this.cfg as BaseConfig & { data: { dataset?: string } };
    return {
      task: c.task, dataset: c.data.dataset ?? 'custom', metrics, primaryMetric: this.task.primaryMetric,
      headline: [...(this.task.headlineMetrics ?? [this.task.primaryMetric])], epochs, seed: this.seed, amp: this.amp,
      wallSeconds: (performance.now() - t0) / 1000, imagesPerSecond, dataWaitShare, ...(this.plan ? { plan: this.plan } : {}),
    };
  }

  /** Writes epoch_N: the weights, and the optimizer's, the generators' and every hook's state (./trainer_state.ts). */
  saveCheckpoint(epoch: number): void { if (this.isMain) saveTrainerState(this, epoch); }
}
