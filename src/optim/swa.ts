// Stochastic Weight Averaging (Izmailov et al., UAI 2018) with the shapes of
// torch.optim.swa_utils: AveragedModel, SWALR and updateBn.
import { Module } from '../nn/module.js';
import { deepCopy } from '../nn/copy.js';
import { BatchNorm2d } from '../nn/layers/norm.js';
import { Tensor } from '../torch/tensor.js';
import * as torch from '../torch/index.js';
import type { Optimizer } from './optimizer.js';

export interface AveragedModelOptions {
  /** 'equal' (SWA's running mean, the default) or 'ema' with `decay`. */
  mode?: 'equal' | 'ema';
  decay?: number;
  /** Average buffers too (PyTorch's use_buffers, default false: buffers come from updateBn). */
  useBuffers?: boolean;
}

/** A copy of a model whose weights are the average of the weights it was updated with. State keys: `module.*`, `n_averaged`. */
export class AveragedModel extends Module {
  module: Module;
  readonly mode: 'equal' | 'ema';
  readonly decay: number;
  readonly useBuffers: boolean;
  constructor(model: Module, opts: AveragedModelOptions = {}) {
    super();
    this.mode = opts.mode ?? 'equal';
    this.decay = opts.decay ?? 0.999;
    this.useBuffers = opts.useBuffers ?? false;
    if (this.mode !== 'equal' && this.mode !== 'ema') throw new TypeError(`AveragedModel: mode must be 'equal' or 'ema', got '${this.mode}'`);
    if (!(this.decay >= 0 && this.decay <= 1)) throw new RangeError(`AveragedModel: decay must be in [0, 1], got ${this.decay}`);
    this.module = deepCopy(model);
    this.registerBuffer('n_averaged', torch.scalarTensor(0, { dtype: 'int64' }));
  }
  get nAveraged(): number {
    return this.getBuffer('n_averaged').item();
  }
  forward(...args: any[]): any {
    return this.module.forward(...args);
  }
  private pairs(model: Module): [Tensor[], Tensor[]] {
    const mine = this.useBuffers ? [...this.module.parameters(), ...this.module.buffers()] : this.module.parameters();
    const theirs = this.useBuffers ? [...model.parameters(), ...model.buffers()] : model.parameters();
    if (mine.length !== theirs.length) throw new Error('AveragedModel.updateParameters: the model has a different structure from the averaged one');
    return [mine, theirs];
  }
  /** Folds the model's current weights into the average. */
  updateParameters(model: Module): void {
    const [mine, theirs] = this.pairs(model);
    const n = this.nAveraged;
    torch.noGrad(() => torch.scope(() => {
      mine.forEach((a, i) => {
        const b = theirs[i];
        if (n === 0 || !a.isFloatingPoint()) a.copy_(b);
        else if (this.mode === 'equal') a.add_(b.sub(a).div(n + 1));
        else a.lerp_(b, 1 - this.decay);
      });
      this.getBuffer('n_averaged').add_(1);
    }));
  }
}

/** SWALR: anneals each group's lr to swaLr over annealEpochs steps ('cos' or 'linear'), then holds it (torch.optim.swa_utils.SWALR). */
export class SWALR {
  private stepCount = 0;
  constructor(readonly optimizer: Optimizer, swaLr: number | number[], readonly annealEpochs = 10, readonly annealStrategy: 'cos' | 'linear' = 'cos') {
    if (!Number.isInteger(annealEpochs) || annealEpochs < 0) throw new RangeError(`SWALR: annealEpochs must be a non-negative integer, got ${annealEpochs}`);
    if (annealStrategy !== 'cos' && annealStrategy !== 'linear') throw new TypeError(`SWALR: annealStrategy must be 'cos' or 'linear', got '${annealStrategy}'`);
    const lrs = Array.isArray(swaLr) ? swaLr : optimizer.paramGroups.map(() => swaLr);
    if (lrs.length !== optimizer.paramGroups.length) throw new RangeError('SWALR: one swaLr per parameter group');
    optimizer.paramGroups.forEach((g, i) => { g.swaLr = lrs[i]; });
    this.step();
  }
  private anneal(t: number): number {
    return this.annealStrategy === 'cos' ? (1 - Math.cos(Math.PI * t)) / 2 : t;
  }
  step(): void {
    let step = this.stepCount;
    this.stepCount += 1;
    if (this.annealEpochs === 0) step = Math.max(1, step);
    const prevT = Math.max(0, Math.min(1, (step - 1) / Math.max(1, this.annealEpochs)));
    const prevAlpha = this.anneal(prevT);
    const t = Math.max(0, Math.min(1, step / Math.max(1, this.annealEpochs)));
    const alpha = this.anneal(t);
    for (const g of this.optimizer.paramGroups) {
      const swa = g.swaLr as number;
      const prevLr = prevAlpha === 1 ? swa : (g.lr - prevAlpha * swa) / (1 - prevAlpha);
      g.lr = swa * alpha + prevLr * (1 - alpha);
    }
  }
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  stateDict(): { stepCount: number } {
    return { stepCount: this.stepCount };
  }
  loadStateDict(s: { stepCount: number }): void {
    this.stepCount = s.stepCount;
  }
}

/**
 * Prepares a model for recomputing BatchNorm statistics: running stats reset,
 * momentum null (cumulative average), training mode. Returns a function that
 * restores the momenta and the previous mode. Shared by updateBn and the
 * trainer, which streams its batches asynchronously.
 */
export function beginBnRecompute(model: Module): () => void {
  const bns = model.modules().filter((m): m is BatchNorm2d => m instanceof BatchNorm2d && m.trackRunningStats);
  const momenta = bns.map((b) => b.momentum);
  const wasTraining = model.training;
  for (const b of bns) { b.resetRunningStats(); b.momentum = null; }
  model.train();
  return () => {
    bns.forEach((b, i) => { b.momentum = momenta[i]; });
    model.train(wasTraining);
  };
}

/**
 * Recomputes BatchNorm running statistics with one pass over the data
 * (torch.optim.swa_utils.update_bn): SWA's averaged weights need their own
 * statistics (composer #624: without this SWA performs badly).
 */
export function updateBn(batches: Iterable<Tensor | { input: Tensor } | [Tensor, ...unknown[]]>, model: Module): void {
  if (!model.modules().some((m) => m instanceof BatchNorm2d && m.trackRunningStats)) return;
  const restore = beginBnRecompute(model);
  try {
    for (const batch of batches) {
      const x = batch instanceof Tensor ? batch : Array.isArray(batch) ? batch[0] : batch.input;
      torch.noGrad(() => torch.scope(() => { model.forward(x); }));
    }
  } finally {
    restore();
  }
}
