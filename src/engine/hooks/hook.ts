// A Hook: a trick that acts around the training loop (detectron2's HookBase,
// mmengine's Hook). The trainer calls each event on every hook in list order;
// a hook keeps its own state and saves and restores it with each checkpoint
// (tensors under `<name>.` in the checkpoint's state file, the rest as JSON),
// so a resumed run equals an uninterrupted one. docs/architecture.md lists
// the hooks and their order.
import type { Tensor } from '../../torch/tensor.js';
import type { Module } from '../../nn/module.js';
import type { Trainer } from '../trainer.js';

export interface StepInfo {
  epoch: number;
  /** The iteration within the epoch (1-based) and the epoch's iterations. */
  iter: number;
  iters: number;
  loss: number;
  /** Seconds since the epoch started. */
  elapsed: number;
}

/** What an epoch reports: filled by the trainer (train loss, timing) and by hooks (metrics, loss terms); one line of log.jsonl. */
export type EpochRecord = Record<string, unknown>;

export interface HookState { tensors?: Record<string, Tensor>; meta?: unknown }

export interface Hook {
  /** Unique among the trainer's hooks; prefixes the hook's tensors in checkpoints. */
  readonly name: string;
  /** At the end of the trainer's set-up (model, optimizer and loaders built; before a resume restores the state): build what the hook owns. */
  setup?(t: Trainer): void;
  /** After set-up (and after a resume has restored the state), before the first epoch. */
  beforeRun?(t: Trainer): void | Promise<void>;
  beforeEpoch?(t: Trainer, epoch: number): void | Promise<void>;
  /** After each optimizer step. */
  afterStep?(t: Trainer, s: StepInfo): void;
  afterEpoch?(t: Trainer, epoch: number, record: EpochRecord): void | Promise<void>;
  /** After the last epoch; `metrics` holds the trained model's test metrics, and each hook adds its own (EMA, SWA, TTA). */
  afterRun?(t: Trainer, metrics: Record<string, number>): void | Promise<void>;
  /** The model the run reports instead of the trained one (SWA's average), or null. */
  finalModel?(): Module | null;
  stateDict?(): HookState;
  loadStateDict?(s: { tensors: Record<string, Tensor>; meta: any }, t: Trainer): void;
}

/** 'accuracy' → 'Accuracy', for metric names such as emaAccuracy and ttaAccuracy. */
export const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
