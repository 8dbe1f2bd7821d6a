// The optimizer and the lr schedule of a config (mmengine's optim_wrapper and
// param_scheduler, in one place for every task).
import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import { Optimizer, type ParamsArg } from '../optim/optimizer.js';
import { SGD } from '../optim/sgd.js';
import { Adam, AdamW } from '../optim/adam.js';
import { paramGroups, type GroupSummary } from '../optim/paramwise.js';
import * as S from '../optim/lr_scheduler.js';
import type { BaseConfig, OptimizerConfig, ScheduleConfig } from '../config/sections.js';

export interface Schedule { step(): void; stateDict(): unknown; loadStateDict(s: any): void }

/** The optimizer over the model's parameters (paramwise groups when configured) and any extra trainable tensors (uncertainty weighting's log-variances, without weight decay). */
export function buildOptimizer(o: OptimizerConfig, model: Module, extra: { params: Tensor[]; name: string } | null): { optimizer: Optimizer; groups: GroupSummary[] } {
  // AdamW decays by 0.01 unless told otherwise (torch.optim.AdamW); the others by 0.
  const base = { lr: o.lr, weightDecay: o.weightDecay ?? (o.type === 'AdamW' ? 0.01 : 0) };
  const pw = paramGroups(model, base, o.paramwise ?? {});
  let params: ParamsArg = o.paramwise ? pw.groups : model.parameters();
  if (extra) params = [...(o.paramwise ? pw.groups : [{ params: model.parameters() }]), { params: extra.params, weightDecay: 0, name: extra.name }];
  const optimizer = o.type === 'SGD'
    ? new SGD(params, { lr: o.lr, momentum: o.momentum ?? 0.9, nesterov: o.nesterov ?? false, weightDecay: base.weightDecay })
    : o.type === 'Adam'
      ? new Adam(params, { lr: o.lr, betas: o.betas, weightDecay: base.weightDecay })
      : new AdamW(params, { lr: o.lr, betas: o.betas, weightDecay: base.weightDecay });
  return { optimizer, groups: pw.summary };
}

/** The first epoch SWA averages (Infinity without SWA); a start past the last epoch is an error. */
export function swaStartEpoch(cfg: BaseConfig): number {
  if (!cfg.swa) return Infinity;
  const epochs = cfg.train.epochs;
  const start = cfg.swa.start < 1 ? Math.max(1, Math.floor(cfg.swa.start * epochs) + 1) : Math.floor(cfg.swa.start);
  if (start > epochs) throw new RangeError(`config: swa.start (${cfg.swa.start}) is past the last epoch (${epochs})`);
  return start;
}

/** The lr schedule over `epochs` epochs of `perEpoch` iterations: warm-up (LinearLR) then the main schedule, per iteration unless byEpoch. */
export function buildSchedule(s: ScheduleConfig | undefined, opt: Optimizer, baseLr: number, epochs: number, perEpoch: number): Schedule | null {
  if (!s || epochs < 1) return null;
  const per = s.byEpoch ? 1 : perEpoch;
  const total = epochs * per;
  const warm = Math.min(total - 1, Math.round((s.warmupEpochs ?? 0) * per));
  let main: S.LRScheduler;
  switch (s.type) {
    case 'cosine': main = new S.CosineAnnealingLR(opt, Math.max(1, total - warm), (s.etaMinRatio ?? 0) * baseLr); break;
    // mmseg's schedules: PolyLR(power 0.9, eta_min 1e-4 at lr 0.01), per iteration.
    case 'poly': main = new S.PolyLR(opt, Math.max(1, total - warm), s.power ?? 0.9, (s.etaMinRatio ?? 0.01) * baseLr); break;
    case 'step': {
      // Decays every stepEpochs counted from the start of training (warm-up included), like multistep.
      const period = (s.stepEpochs ?? 30) * per;
      const ms: number[] = [];
      for (let m = period; m < total; m += period) ms.push(m - warm);
      main = new S.MultiStepLR(opt, ms, s.gamma ?? 0.1);
      break;
    }
    case 'multistep': main = new S.MultiStepLR(opt, (s.milestones ?? []).map((m) => m * per - warm), s.gamma ?? 0.1); break;
    case 'onecycle': return new S.OneCycleLR(opt, { maxLr: opt.paramGroups.map((g) => g.lr), totalSteps: total, pctStart: s.pctStart ?? 0.3 });
    case 'constant': main = new S.ConstantLR(opt, 1, 0); break;
  }
  if (warm <= 0) return main;
  return new S.SequentialLR(opt, [new S.LinearLR(opt, s.warmupStartFactor ?? 1 / 3, 1, warm), main], [warm]);
}
