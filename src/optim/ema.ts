// Model EMA (timm utils/model_ema.py ModelEmaV2; mmengine EMAHook):
// ema ← decay·ema + (1 − decay)·model, for parameters and floating buffers,
// with an optional warm-up decay = min(decay, (1 + t) / (10 + t)).
import { Module } from '../nn/module.js';
import { deepCopy } from '../nn/copy.js';
import * as torch from '../torch/index.js';

export interface ModelEmaOptions { decay?: number; warmup?: boolean }

export class ModelEma {
  readonly module: Module;
  readonly decay: number;
  readonly warmup: boolean;
  updates = 0;
  constructor(model: Module, opts: ModelEmaOptions = {}) {
    this.decay = opts.decay ?? 0.9998;
    this.warmup = opts.warmup ?? false;
    if (!(this.decay >= 0 && this.decay <= 1)) throw new RangeError(`ModelEma: decay must be in [0, 1], got ${this.decay}`);
    this.module = deepCopy(model).eval();
  }
  /** The decay used at the current update count. */
  currentDecay(): number {
    return this.warmup ? Math.min(this.decay, (1 + this.updates) / (10 + this.updates)) : this.decay;
  }
  update(model: Module): void {
    const d = this.currentDecay();
    const mine = [...this.module.parameters(), ...this.module.buffers()];
    const theirs = [...model.parameters(), ...model.buffers()];
    if (mine.length !== theirs.length) throw new Error('ModelEma.update: the model has a different structure from the EMA copy');
    torch.noGrad(() => {
      const fa = [], fb = [];
      for (let i = 0; i < mine.length; i++) {
        if (mine[i].isFloatingPoint()) { fa.push(mine[i]); fb.push(theirs[i]); }
        else mine[i].copy_(theirs[i]);
      }
      if (fa.length) torch._foreach_lerp_(fa, fb, 1 - d);
    });
    this.updates += 1;
  }
}
