// The console progress line after each step (epoch, iteration, ETA,
// images/s, loss, lr); ended before the epoch's other log lines.
import { Progress } from '../progress.js';
import type { Hook, StepInfo } from './hook.js';
import type { Trainer } from '../trainer.js';

export class ProgressHook implements Hook {
  readonly name = 'progress';
  private readonly bar: Progress;
  constructor(logInterval: number) { this.bar = new Progress(logInterval); }
  afterStep(t: Trainer, s: StepInfo): void {
    const rate = s.iter / s.elapsed;
    const remaining = (s.iters - s.iter) / rate + (t.epochs - s.epoch) * s.iters / rate;
    this.bar.update({ epoch: s.epoch, epochs: t.epochs, iter: s.iter, iters: s.iters, loss: s.loss, lr: t.optimizer.paramGroups[0].lr, imagesPerSecond: (s.iter * t.batchSize) / s.elapsed, etaSeconds: remaining });
  }
  afterEpoch(): void { this.bar.done(); }
}
