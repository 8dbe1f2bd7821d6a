// Learning-rate schedulers with torch.optim.lr_scheduler's names, arguments and
// values (closed forms). A scheduler counts step() calls: call it once per
// epoch, or once per iteration with periods given in iterations (mmengine's
// by_epoch=False). Each group starts from its initialLr; etaMin values are
// scaled by the group's lrMult, so a backbone at 0.1× anneals to 0.1× etaMin
// (mmengine issue #1612).
import type { Optimizer, ParamGroup } from './optimizer.js';

export abstract class LRScheduler {
  /** Steps taken (PyTorch's last_epoch after the constructor's initial step is 0). */
  lastEpoch = 0;
  readonly baseLrs: number[];
  protected lastLrs: number[] = [];

  /** Subclasses call this.apply() at the end of their constructor (their fields are set by then). */
  constructor(readonly optimizer: Optimizer, apply = true) {
    for (const g of optimizer.paramGroups) if (g.initialLr === undefined) g.initialLr = g.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    if (apply) this.apply();
  }

  /** The lr of group i after `step` steps. */
  abstract lrAt(step: number, base: number, group: ParamGroup): number;

  step(): void {
    this.lastEpoch += 1;
    this.apply();
  }

  protected apply(): void {
    this.lastLrs = this.optimizer.paramGroups.map((g, i) => {
      g.lr = this.lrAt(this.lastEpoch, this.baseLrs[i], g);
      return g.lr;
    });
  }

  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  stateDict(): { lastEpoch: number } {
    return { lastEpoch: this.lastEpoch };
  }
  loadStateDict(s: { lastEpoch: number }): void {
    if (!Number.isInteger(s?.lastEpoch)) throw new Error(`${this.constructor.name}.loadStateDict: expected { lastEpoch: integer }`);
    this.lastEpoch = s.lastEpoch;
    this.apply();
  }
}

const etaOf = (etaMin: number, g: ParamGroup) => etaMin * ((g.lrMult as number | undefined) ?? 1);
function positiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
}

export class StepLR extends LRScheduler {
  constructor(opt: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    positiveInt(stepSize, 'StepLR: stepSize');
    super(opt, false);
    this.apply();
  }
  lrAt(e: number, base: number): number { return base * this.gamma ** Math.floor(e / this.stepSize); }
}

export class MultiStepLR extends LRScheduler {
  readonly milestones: number[];
  constructor(opt: Optimizer, milestones: number[], readonly gamma = 0.1) {
    const ms = [...milestones].sort((a, b) => a - b);
    super(opt, false);
    this.milestones = ms;
    this.apply();
  }
  lrAt(e: number, base: number): number { return base * this.gamma ** this.milestones.filter((m) => m <= e).length; }
}

export class ConstantLR extends LRScheduler {
  constructor(opt: Optimizer, readonly factor = 1 / 3, readonly totalIters = 5) { super(opt, false); this.apply(); }
  lrAt(e: number, base: number): number { return e < this.totalIters ? base * this.factor : base; }
}

/** Linear warm-up (mmengine's LinearLR: startFactor 1/3 by default, as PyTorch). */
export class LinearLR extends LRScheduler {
  constructor(opt: Optimizer, readonly startFactor = 1 / 3, readonly endFactor = 1, readonly totalIters = 5) {
    if (!(startFactor > 0 && startFactor <= 1)) throw new RangeError(`LinearLR: startFactor must be in (0, 1], got ${startFactor}`);
    super(opt, false);
    this.apply();
  }
  lrAt(e: number, base: number): number {
    const t = Math.min(e, this.totalIters);
    return base * (this.startFactor + ((this.endFactor - this.startFactor) * t) / this.totalIters);
  }
}

export class ExponentialLR extends LRScheduler {
  constructor(opt: Optimizer, readonly gamma: number) { super(opt, false); this.apply(); }
  lrAt(e: number, base: number): number { return base * this.gamma ** e; }
}

export class PolynomialLR extends LRScheduler {
  constructor(opt: Optimizer, readonly totalIters = 5, readonly power = 1) { super(opt, false); this.apply(); }
  lrAt(e: number, base: number): number { return base * (1 - Math.min(e, this.totalIters) / this.totalIters) ** this.power; }
}

/**
 * mmengine's PolyLR, the schedule of mmseg's configs (power 0.9, eta_min 1e-4
 * at lr 0.01): lr = (base − etaMin)·(1 − min(t, T)/T)^power + etaMin, etaMin
 * scaled per group by lrMult as cosine's. With etaMin 0 it is PyTorch's
 * PolynomialLR.
 */
export class PolyLR extends LRScheduler {
  constructor(opt: Optimizer, readonly totalIters: number, readonly power = 1, readonly etaMin = 0) {
    positiveInt(totalIters, 'PolyLR: totalIters');
    if (!(power > 0)) throw new RangeError(`PolyLR: power must be > 0, got ${power}`);
    super(opt, false);
    this.apply();
  }
  lrAt(e: number, base: number, g: ParamGroup): number {
    const eta = etaOf(this.etaMin, g);
    return (base - eta) * (1 - Math.min(e, this.totalIters) / this.totalIters) ** this.power + eta;
  }
}

/** Cosine annealing from the base lr to etaMin over tMax steps (SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(opt: Optimizer, readonly tMax: number, readonly etaMin = 0) {
    positiveInt(tMax, 'CosineAnnealingLR: tMax');
    super(opt, false);
    this.apply();
  }
  lrAt(e: number, base: number, g: ParamGroup): number {
    const eta = etaOf(this.etaMin, g);
    return eta + ((base - eta) * (1 + Math.cos((Math.PI * e) / this.tMax))) / 2;
  }
}

/** SGDR (Loshchilov & Hutter 2017): restarts every t0, t0·tMult, t0·tMult², … steps. */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  constructor(opt: Optimizer, readonly t0: number, readonly tMult = 1, readonly etaMin = 0) {
    positiveInt(t0, 'CosineAnnealingWarmRestarts: t0');
    positiveInt(tMult, 'CosineAnnealingWarmRestarts: tMult');
    super(opt, false);
    this.apply();
  }
  lrAt(e: number, base: number, g: ParamGroup): number {
    let tCur: number, tI: number;
    if (this.tMult === 1) {
      tI = this.t0;
      tCur = e % this.t0;
    } else {
      const n = Math.floor(Math.log((e / this.t0) * (this.tMult - 1) + 1) / Math.log(this.tMult));
      tCur = e - (this.t0 * (this.tMult ** n - 1)) / (this.tMult - 1);
      tI = this.t0 * this.tMult ** n;
    }
    const eta = etaOf(this.etaMin, g);
    return eta + ((base - eta) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
  }
}

export interface OneCycleOptions {
  maxLr: number | number[];
  totalSteps: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
}

/** One-cycle policy (Smith 2018) with torch.optim.lr_scheduler.OneCycleLR's defaults, cycling momentum / beta1 inversely. */
export class OneCycleLR extends LRScheduler {
  private readonly phases: { end: number; startLr: string; endLr: string; startM: string; endM: string }[];
  private readonly o: Required<OneCycleOptions>;
  constructor(opt: Optimizer, opts: OneCycleOptions) {
    const o = { pctStart: 0.3, annealStrategy: 'cos', divFactor: 25, finalDivFactor: 1e4, threePhase: false, cycleMomentum: true, baseMomentum: 0.85, maxMomentum: 0.95, ...opts } as Required<OneCycleOptions>;
    positiveInt(o.totalSteps, 'OneCycleLR: totalSteps');
    const maxLrs = Array.isArray(o.maxLr) ? o.maxLr : opt.paramGroups.map(() => o.maxLr as number);
    if (maxLrs.length !== opt.paramGroups.length) throw new RangeError(`OneCycleLR: ${maxLrs.length} maxLr values for ${opt.paramGroups.length} parameter groups`);
    opt.paramGroups.forEach((g, i) => {
      g.initialLr = maxLrs[i] / o.divFactor;
      g.maxLr = maxLrs[i];
      g.minLr = g.initialLr / o.finalDivFactor;
      if (o.cycleMomentum) {
        if (g.momentum === undefined && g.betas === undefined) throw new Error('OneCycleLR: cycleMomentum needs an optimizer with momentum or betas');
        g.maxMomentum = o.maxMomentum;
        g.baseMomentum = o.baseMomentum;
      }
    });
    super(opt, false);
    this.o = o;
    const T = o.totalSteps;
    this.phases = o.threePhase
      ? [
          { end: o.pctStart * T - 1, startLr: 'initialLr', endLr: 'maxLr', startM: 'maxMomentum', endM: 'baseMomentum' },
          { end: 2 * o.pctStart * T - 2, startLr: 'maxLr', endLr: 'initialLr', startM: 'baseMomentum', endM: 'maxMomentum' },
          { end: T - 1, startLr: 'initialLr', endLr: 'minLr', startM: 'maxMomentum', endM: 'maxMomentum' },
        ]
      : [
          { end: o.pctStart * T - 1, startLr: 'initialLr', endLr: 'maxLr', startM: 'maxMomentum', endM: 'baseMomentum' },
          { end: T - 1, startLr: 'maxLr', endLr: 'minLr', startM: 'baseMomentum', endM: 'maxMomentum' },
        ];
    this.apply();
  }
  private anneal(start: number, end: number, pct: number): number {
    if (this.o.annealStrategy === 'linear') return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }
  private at(e: number, g: ParamGroup): [number, number] {
    if (e > this.o.totalSteps) throw new RangeError(`OneCycleLR: stepped ${e} times, past totalSteps ${this.o.totalSteps}`);
    let start = 0;
    for (let i = 0; i < this.phases.length; i++) {
      const p = this.phases[i];
      if (e <= p.end || i === this.phases.length - 1) {
        const pct = (e - start) / (p.end - start);
        return [this.anneal(g[p.startLr] as number, g[p.endLr] as number, pct), this.anneal(g[p.startM] as number, g[p.endM] as number, pct)];
      }
      start = p.end;
    }
    throw new Error('unreachable');
  }
  lrAt(e: number, _base: number, g: ParamGroup): number {
    return this.at(e, g)[0];
  }
  protected override apply(): void {
    super.apply();
    if (!this.o?.cycleMomentum) return;
    for (const g of this.optimizer.paramGroups) {
      const m = this.at(this.lastEpoch, g)[1];
      if (g.betas !== undefined) g.betas = [m, (g.betas as number[])[1]];
      else g.momentum = m;
    }
  }
}

/** Runs schedulers one after another, switching at milestones; each restarts its count (PyTorch's SequentialLR). */
export class SequentialLR extends LRScheduler {
  constructor(opt: Optimizer, readonly schedulers: LRScheduler[], readonly milestones: number[]) {
    if (schedulers.length !== milestones.length + 1) throw new RangeError(`SequentialLR: expected ${milestones.length + 1} schedulers for ${milestones.length} milestones, got ${schedulers.length}`);
    for (const s of schedulers) if (s.optimizer !== opt) throw new Error('SequentialLR: every scheduler must belong to the same optimizer');
    super(opt, false);
    this.apply();
  }
  lrAt(e: number, base: number, g: ParamGroup): number {
    let i = 0;
    while (i < this.milestones.length && e >= this.milestones[i]) i++;
    const local = i === 0 ? e : e - this.milestones[i - 1];
    return this.schedulers[i].lrAt(local, base, g);
  }
}

/** Multiplies the factors of several schedulers (PyTorch's ChainedScheduler of multiplicative schedules). */
export class ChainedScheduler extends LRScheduler {
  constructor(readonly schedulers: LRScheduler[]) {
    if (schedulers.length === 0) throw new RangeError('ChainedScheduler: no schedulers');
    super(schedulers[0].optimizer, false);
    this.apply();
  }
  lrAt(e: number, base: number, g: ParamGroup): number {
    return this.schedulers.reduce((lr, s) => lr * (s.lrAt(e, base, g) / base), base);
  }
}
