// What a Trainer is given (TrainerOptions) and what a run returns and writes
// to metrics.json (TrainResult).
import type { Dataset } from '../data/index.js';
import type { Hook } from './hooks/index.js';
import type { Amp } from './precision.js';
import type { BudgetPlan } from './budget.js';

export interface TrainResult {
  task: string;
  dataset: string;
  metrics: Record<string, number>;
  /** The task's primary metric (the best checkpoint's) and the metrics a results table shows, the primary first. */
  primaryMetric: string;
  headline: string[];
  epochs: number;
  seed: number;
  /** The precision the run trained in (`amp: 'auto'` resolved). */
  amp: Amp;
  wallSeconds: number;
  imagesPerSecond: number;
  dataWaitShare: number;
  /** The time budget's plan, when the config has train.budget. */
  plan?: BudgetPlan;
}

export interface TrainerOptions {
  workDir: string;
  resume?: boolean;
  quiet?: boolean;
  /** Stop after this epoch, as if interrupted (checkpoints as usual; for testing resume). */
  stopAfterEpoch?: number;
  /** Train and test on these instead of the config's data section (pseudo-labelling; the data options still apply to loading). */
  datasets?: { train: Dataset; test: Dataset };
  /** Hooks of your own: called after the tricks' hooks and before logging and checkpointing (docs/architecture.md §6). */
  hooks?: Hook[];
}
