// Several losses as one: a weighted sum that reports each term, with the
// weights fixed or tuned automatically.
//   'fixed'        Σ w_i L_i
//   'uncertainty'  Σ ½·exp(−s_i)·w_i L_i + ½·s_i with learnable s_i = log σ_i²
//                  (Kendall, Gal & Cipolla, CVPR 2018, the regression form, used
//                  for every term as common implementations do); s_i start at 0.
//   'dwa'          Dynamic Weight Average (Liu, Johns & Davison, CVPR 2019):
//                  λ_i(t) = K·exp(r_i/T) / Σ_j exp(r_j/T), r_i = L_i(t−1) / L_i(t−2)
//                  from epoch-average losses, T = 2; λ = 1 for the first two epochs;
//                  the sum is Σ λ_i w_i L_i.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import { Parameter, parameter } from '../nn/parameter.js';

export type Weighting = 'fixed' | 'uncertainty' | 'dwa';

export interface LossTerm<A extends unknown[]> {
  name: string;
  weight?: number;
  fn: (...args: A) => Tensor;
}

export class MultiLoss<A extends unknown[]> {
  readonly weighting: Weighting;
  /** uncertainty: one log-variance per term (train them with the model's optimizer). */
  readonly logVars: Parameter | null;
  private readonly temperature: number;
  private dwaWeights: number[];
  private history: number[][] = [];
  private sums: number[];
  private count = 0;

  constructor(readonly terms: LossTerm<A>[], opts: { weighting?: Weighting; temperature?: number } = {}) {
    if (!Array.isArray(terms) || terms.length === 0) throw new TypeError('MultiLoss: expected at least one loss term');
    const names = new Set<string>();
    terms.forEach((t, i) => {
      if (typeof t?.fn !== 'function') throw new TypeError(`MultiLoss: terms[${i}].fn must be a function`);
      if (!t.name || names.has(t.name)) throw new TypeError(`MultiLoss: terms[${i}].name must be a unique non-empty string, got ${JSON.stringify(t.name)}`);
      if (t.weight !== undefined && !(t.weight >= 0)) throw new RangeError(`MultiLoss: terms[${i}].weight must be >= 0, got ${t.weight}`);
      names.add(t.name);
    });
    this.weighting = opts.weighting ?? 'fixed';
    if (!['fixed', 'uncertainty', 'dwa'].includes(this.weighting)) throw new RangeError(`MultiLoss: weighting must be 'fixed', 'uncertainty' or 'dwa', got ${String(this.weighting)}`);
    this.temperature = opts.temperature ?? 2;
    if (!(this.temperature > 0)) throw new RangeError(`MultiLoss: temperature must be > 0, got ${this.temperature}`);
    this.logVars = this.weighting === 'uncertainty' ? torch.scope(() => parameter(torch.zeros([terms.length]))) : null;
    this.dwaWeights = terms.map(() => 1);
    this.sums = terms.map(() => 0);
  }

  /** The total (a scalar tensor with gradient) and each term's unweighted value. */
  forward(...args: A): { total: Tensor; values: Record<string, number> } {
    const values: Record<string, number> = {};
    let total: Tensor | null = null;
    this.terms.forEach((t, i) => {
      const l = t.fn(...args);
      if (l.numel() !== 1) throw new TypeError(`MultiLoss: term '${t.name}' must return a scalar, got [${l.shape}]`);
      const v = l.item();
      values[t.name] = v;
      this.sums[i] += v;
      let term = l.mul((t.weight ?? 1) * (this.weighting === 'dwa' ? this.dwaWeights[i] : 1));
      if (this.logVars) {
        const s = this.logVars.select(0, i);
        term = term.mul(s.neg().exp()).mul(0.5).add(s.mul(0.5));
      }
      total = total ? total.add(term) : term;
    });
    this.count++;
    return { total: total!, values };
  }

  /** The current weight of each term (uncertainty: ½·exp(−s_i)·w_i; dwa: λ_i·w_i). */
  weights(): Record<string, number> {
    const out: Record<string, number> = {};
    const s = this.logVars ? (this.logVars.detach().toArray() as number[]) : null;
    this.terms.forEach((t, i) => {
      const w = t.weight ?? 1;
      out[t.name] = s ? 0.5 * Math.exp(-s[i]) * w : this.weighting === 'dwa' ? this.dwaWeights[i] * w : w;
    });
    return out;
  }

  /** Ends an epoch: records each term's average (DWA's L_i(t)) and updates the DWA weights. Returns the averages. */
  endEpoch(): Record<string, number> {
    const avg = this.sums.map((s) => (this.count ? s / this.count : NaN));
    this.history.push(avg);
    this.sums = this.terms.map(() => 0);
    this.count = 0;
    if (this.weighting === 'dwa' && this.history.length >= 2) {
      const [prev, last] = this.history.slice(-2);
      const r = last.map((l, i) => l / prev[i]);
      const e = r.map((x) => Math.exp(x / this.temperature));
      const z = e.reduce((a, b) => a + b, 0);
      this.dwaWeights = e.map((x) => (this.terms.length * x) / z);
    }
    return Object.fromEntries(this.terms.map((t, i) => [t.name, avg[i]]));
  }

  /** DWA's loss history and weights, for checkpoints. */
  stateDict(): { history: number[][]; dwaWeights: number[] } {
    return { history: this.history.map((h) => [...h]), dwaWeights: [...this.dwaWeights] };
  }

  loadStateDict(s: { history: number[][]; dwaWeights: number[] }): void {
    if (!s || !Array.isArray(s.history) || !Array.isArray(s.dwaWeights) || s.dwaWeights.length !== this.terms.length) {
      throw new TypeError(`MultiLoss.loadStateDict: expected { history, dwaWeights } for ${this.terms.length} terms`);
    }
    this.history = s.history.map((h) => [...h]);
    this.dwaWeights = [...s.dwaWeights];
  }
}
