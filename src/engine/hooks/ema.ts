// A model EMA (timm ModelEmaV2; Polyak averaging) updated after every step,
// scored at the end (`ema<Metric>`) and saved as ema.safetensors, a plain state
// dict usable with `arsenal test` and as an ensemble member.
import { join } from 'node:path';
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { ModelEma } from '../../optim/ema.js';
import type { EmaConfig } from '../../config/sections.js';
import { cap, type Hook } from './hook.js';
import { formatMetric } from '../../util/table.js';
import type { Trainer } from '../trainer.js';

export class EmaHook implements Hook {
  readonly name = 'ema';
  ema!: ModelEma;
  constructor(readonly cfg: EmaConfig) {}
  setup(t: Trainer): void {
    this.ema = new ModelEma(t.model, { decay: this.cfg.decay ?? 0.9998, warmup: this.cfg.warmup ?? false });
  }
  afterStep(t: Trainer): void { this.ema.update(t.model); }
  async afterRun(t: Trainer, metrics: Record<string, number>): Promise<void> {
    const p = t.task.primaryMetric;
    const e = await t.evaluate(this.ema.module);
    metrics[`ema${cap(p)}`] = e[p];
    t.log(`EMA model: test ${p} ${formatMetric(p, e[p])}`);
    if (t.isMain) torch.safetensors.saveFile(this.ema.module.stateDict(), join(t.opts.workDir, 'ema.safetensors'));
  }
  stateDict() { return { tensors: this.ema.module.stateDict(), meta: { updates: this.ema.updates } }; }
  loadStateDict(s: { tensors: Record<string, Tensor>; meta: { updates: number } }): void {
    this.ema.module.loadStateDict(s.tensors, { source: 'checkpoint (ema.*)' });
    this.ema.updates = s.meta.updates;
  }
}
