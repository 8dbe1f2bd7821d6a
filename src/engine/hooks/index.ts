// The hooks a config asks for, in the order the trainer calls them
// (docs/architecture.md): schedule, EMA, progress, loss weights, evaluation,
// SWA, TTA, log, checkpoint. Each event goes to every hook in this order, so
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

export function defaultHooks(cfg: BaseConfig, o: { schedule: Schedule | null; swaStart: number; quiet: boolean }): Hook[] {
  const t = cfg.train;
  const hooks: (Hook | null)[] = [
    o.schedule ? new LrScheduleHook(o.schedule, Math.min(t.epochs, o.swaStart - 1), cfg.schedule?.byEpoch ?? false) : null,
    cfg.ema ? new EmaHook(cfg.ema) : null,
    o.quiet ? null : new ProgressHook(t.logInterval ?? 50),
    new LossWeightsHook(),
    new EvalHook(t.evalInterval ?? 1),
    cfg.swa ? new SwaHook(cfg.swa, o.swaStart) : null,
    cfg.tta ? new TtaHook(cfg.tta) : null,
    new LogHook(t.logInterval ?? 50),
    new CheckpointHook(t.checkpointInterval ?? 1),
  ];
  return hooks.filter((h): h is Hook => h !== null);
}

export type { Hook, StepInfo, EpochRecord, HookState } from './hook.js';
export { LrScheduleHook, EmaHook, ProgressHook, LossWeightsHook, EvalHook, SwaHook, TtaHook, LogHook, CheckpointHook };
