// The hooks a config asks for, in the order the trainer calls them
// (docs/architecture.md): schedule, EMA, progress, loss weights, evaluation,
// SWA, TTA, a user's hooks, log, checkpoint. Each event goes to every hook in this order, so
// e.g. after the last epoch the EMA is scored before SWA replaces the metrics.
import type { BaseConfig } from '../../config/sections.js';
import type { Schedule } from '../build.js';
import type { Hook } from './hook.js';
import { LrScheduleHook } from './schedule.js';
import { EmaHook } from './ema.js';
import { ProgressHook } from './progress.js';
import { LossWeightsHook } from './loss_weights.js';
import { EvalHook } from './evaluation.js';
import { SwaHook } from './swa.js';
import { TtaHook } from './tta.js';
import { LogHook } from './log.js';
import { CheckpointHook } from './checkpoint.js';

/** Checkpoint prefixes of the trainer's own state: no hook may take them. */
const RESERVED = ['optimizer', 'loss', 'rng', 'model'];

/** The config's hooks with a user's `extra` ones after the tricks and before logging and checkpointing (so their epoch records are logged and their state is saved with the epoch). */
export function defaultHooks(cfg: BaseConfig, o: { schedule: Schedule | null; swaStart: number; quiet: boolean; extra?: Hook[] }): Hook[] {
  const t = cfg.train;
  const hooks: (Hook | null)[] = [
    o.schedule ? new LrScheduleHook(o.schedule, Math.min(t.epochs, o.swaStart - 1), cfg.schedule?.byEpoch ?? false) : null,
    cfg.ema ? new EmaHook(cfg.ema) : null,
    o.quiet ? null : new ProgressHook(t.logInterval ?? 50),
    new LossWeightsHook(),
    new EvalHook(t.evalInterval ?? 1),
    cfg.swa ? new SwaHook(cfg.swa, o.swaStart) : null,
    cfg.tta ? new TtaHook(cfg.tta) : null,
    ...(o.extra ?? []),
    new LogHook(t.logInterval ?? 50),
    new CheckpointHook(t.checkpointInterval ?? 1),
  ];
  const out = hooks.filter((h): h is Hook => h !== null);
  // A hook's name prefixes its tensors in checkpoints: unique, and none of the trainer's own prefixes.
  const seen = new Set<string>();
  for (const h of out) {
    if (typeof h.name !== 'string' || h.name === '' || seen.has(h.name) || RESERVED.includes(h.name)) {
      throw new TypeError(`Trainer: hook name ${JSON.stringify(h.name)} must be unique among the hooks (${[...seen].join(', ')}) and not one of ${RESERVED.join(', ')}`);
    }
    seen.add(h.name);
  }
  return out;
}

export type { Hook, StepInfo, EpochRecord, HookState } from './hook.js';
export { LrScheduleHook, EmaHook, ProgressHook, LossWeightsHook, EvalHook, SwaHook, TtaHook, LogHook, CheckpointHook };
