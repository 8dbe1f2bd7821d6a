// Stochastic weight averaging (Izmailov et al. 2018; torch.optim.swa_utils):
// from the start epoch SWALR anneals the lr to swa.lr and the weights are
// averaged after each epoch; at the end the average's BatchNorm statistics are
// recomputed, it is scored (its metrics become the run's, the trained model's
// primary metric kept as `model<Metric>`) and saved as swa.safetensors.
import { join } from 'node:path';
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import type { Module } from '../../nn/module.js';
import { AveragedModel, SWALR, beginBnRecompute } from '../../optim/swa.js';
import type { SwaConfig } from '../../config/sections.js';
import { batchTensors } from '../predictor.js';
import { cap, type Hook } from './hook.js';
import { formatMetric } from '../../util/table.js';
import type { Trainer } from '../trainer.js';

export class SwaHook implements Hook {
  readonly name = 'swa';
  averaged!: AveragedModel;
  swaLr: SWALR | null = null;
  constructor(readonly cfg: SwaConfig, readonly startEpoch: number) {}
  setup(t: Trainer): void { this.averaged = new AveragedModel(t.model); }
  private startLr(t: Trainer): SWALR {
    return new SWALR(t.optimizer, this.cfg.lr, this.cfg.annealEpochs ?? 10, this.cfg.annealStrategy ?? 'cos');
  }
  beforeEpoch(t: Trainer, epoch: number): void {
    if (epoch === this.startEpoch && !this.swaLr) {
      this.swaLr = this.startLr(t);
      t.log(`SWA from epoch ${epoch}: lr anneals to ${this.cfg.lr} over ${this.cfg.annealEpochs ?? 10} epochs`);
    }
  }
  afterEpoch(t: Trainer, epoch: number): void {
    if (epoch < this.startEpoch) return;
    this.averaged.updateParameters(t.model);
    this.swaLr!.step();
  }
  finalModel(): Module | null { return this.averaged.nAveraged > 0 ? this.averaged.module : null; }
  async afterRun(t: Trainer, metrics: Record<string, number>): Promise<void> {
    if (this.averaged.nAveraged === 0) return;
    t.log(`SWA: recomputing BatchNorm statistics over the training set (${this.averaged.nAveraged} models averaged)`);
    await this.updateBn(t);
    const p = t.task.primaryMetric;
    const s = await t.evaluate(this.averaged.module);
    metrics[`model${cap(p)}`] = metrics[p];
    Object.assign(metrics, s);
    t.log(`SWA model: test ${p} ${formatMetric(p, s[p])} (last model ${formatMetric(p, metrics[`model${cap(p)}`])})`);
    if (t.isMain) torch.safetensors.saveFile(this.averaged.module.stateDict(), join(t.opts.workDir, 'swa.safetensors'));
  }

  /**
   * torch.optim.swa_utils.update_bn over the training set as training sees it
   * (the reference passes the training loader, transforms included: here the
   * augmentation pipeline of the last epoch, and the sample steps of the last
   * epoch when the config has augment.sample), streamed from the loader:
   * BatchNorm statistics recomputed as a cumulative average for the SWA
   * weights. Statistics of clean images instead cost 0.28 points on the
   * Fashion-MNIST tricks recipe with random erasing (94.18% against the last
   * model's 94.46%).
   */
  private async updateBn(t: Trainer): Promise<void> {
    const model = this.averaged.module;
    const restore = beginBnRecompute(model);
    t.trainLoader.setEpoch(0);
    // Sample steps (augment.sample): the last epoch's, as for the batch pipeline (the no-augmentation tail applies).
    if (t.cfg.augment?.sample?.length) t.trainLoader.dataset.setEpoch?.(t.epochs);
    try {
      for await (const b of t.trainLoader) {
        torch.noGrad(() => torch.scope(() => { t.predictor.forward(model, t.augment(b, t.epochs, { loaderOnly: true }).x); }));
        torch.dispose(batchTensors(b));
      }
    } finally {
      restore();
      model.eval();
    }
  }

  stateDict() { return { tensors: this.averaged.stateDict(), meta: { swaLr: this.swaLr?.stateDict() ?? null } }; }
  loadStateDict(s: { tensors: Record<string, Tensor>; meta: { swaLr: unknown } }, t: Trainer): void {
    this.averaged.loadStateDict(s.tensors, { source: 'checkpoint (swa.*)' });
    if (s.meta?.swaLr && t.startEpoch - 1 >= this.startEpoch) {
      this.swaLr = this.startLr(t);
      this.swaLr.loadStateDict(s.meta.swaLr as { stepCount: number });
    }
  }
}
