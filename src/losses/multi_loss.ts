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
//   'gradnorm'     GradNorm (Chen et al., ICML 2018): learnable weights λ_i
//                  (start 1) that bring each term's gradient norm at a shared
//                  parameter W (the last shared layer), G_i = ‖∇_W λ_i w_i L_i‖,
//                  to Ḡ·r_i^α, r_i = (L_i/L_i(0)) / mean_j(L_j/L_j(0)), α 1.5:
//                  each step takes the gradient of Σ_i |G_i − Ḡ r_i^α| in λ
//                  (the target held constant, as in the paper), one Adam step
//                  on λ (lr 0.025, the paper's), then renormalises Σ λ_i = K.
//                  The model's loss is Σ λ_i w_i L_i with λ of this step. Call
//                  setSharedParameters first; only training steps (losses with
//                  gradient) update λ.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import { Parameter, parameter } from '../nn/parameter.js';

export type Weighting = 'fixed' | 'uncertainty' | 'dwa' | 'gradnorm';
export const WEIGHTINGS: readonly Weighting[] = ['fixed', 'uncertainty', 'dwa', 'gradnorm'];

export interface GradNormOptions {
  /** The restoring force α (1.5, the paper's NYUv2 setting; 0 equalises the gradient norms). */
  alpha?: number;
  /** Adam's lr for the weights (0.025). */
  lr?: number;
}

interface GradNormState { weights: number[]; l0: number[] | null; m: number[]; v: number[]; steps: number }

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
  private shared: Tensor[] = [];
  private readonly gnAlpha: number;
  private readonly gnLr: number;
  private gn: GradNormState;

  constructor(readonly terms: LossTerm<A>[], opts: { weighting?: Weighting; temperature?: number; gradNorm?: GradNormOptions } = {}) {
    if (!Array.isArray(terms) || terms.length === 0) throw new TypeError('MultiLoss: expected at least one loss term');
    const names = new Set<string>();
    terms.forEach((t, i) => {
      if (typeof t?.fn !== 'function') throw new TypeError(`MultiLoss: terms[${i}].fn must be a function`);
      if (!t.name || names.has(t.name)) throw new TypeError(`MultiLoss: terms[${i}].name must be a unique non-empty string, got ${JSON.stringify(t.name)}`);
      if (t.weight !== undefined && !(t.weight >= 0)) throw new RangeError(`MultiLoss: terms[${i}].weight must be >= 0, got ${t.weight}`);
      names.add(t.name);
    });
    this.weighting = opts.weighting ?? 'fixed';
    if (!WEIGHTINGS.includes(this.weighting)) throw new RangeError(`MultiLoss: weighting must be one of ${WEIGHTINGS.map((w) => `'${w}'`).join(', ')}, got ${String(this.weighting)}`);
    this.gnAlpha = opts.gradNorm?.alpha ?? 1.5;
    this.gnLr = opts.gradNorm?.lr ?? 0.025;
    if (!(this.gnAlpha >= 0)) throw new RangeError(`MultiLoss: gradNorm.alpha must be >= 0, got ${this.gnAlpha}`);
    if (!(this.gnLr > 0)) throw new RangeError(`MultiLoss: gradNorm.lr must be > 0, got ${this.gnLr}`);
    this.gn = { weights: terms.map(() => 1), l0: null, m: terms.map(() => 0), v: terms.map(() => 0), steps: 0 };
    this.temperature = opts.temperature ?? 2;
    if (!(this.temperature > 0)) throw new RangeError(`MultiLoss: temperature must be > 0, got ${this.temperature}`);
    this.logVars = this.weighting === 'uncertainty' ? torch.scope(() => parameter(torch.zeros([terms.length]))) : null;
    this.dwaWeights = terms.map(() => 1);
    this.sums = terms.map(() => 0);
  }

  /** GradNorm: the parameters whose gradient norms are balanced (the last layer all terms share). */
  setSharedParameters(params: Tensor[]): void {
    if (!Array.isArray(params) || params.length === 0) throw new TypeError('MultiLoss.setSharedParameters: expected at least one parameter');
    if (params.some((p) => !p.requiresGrad)) throw new TypeError('MultiLoss.setSharedParameters: every shared parameter must require grad');
    this.shared = params;
  }

  /** The total (a scalar tensor with gradient) and each term's unweighted value. */
  forward(...args: A): { total: Tensor; values: Record<string, number> } {
    const values: Record<string, number> = {};
    const losses = this.terms.map((t) => {
      const l = t.fn(...args);
      if (l.numel() !== 1) throw new TypeError(`MultiLoss: term '${t.name}' must return a scalar, got [${l.shape}]`);
      return l;
    });
    // λ of this step weighs the model's loss; the GradNorm update then moves λ for the next one.
    const lambda = this.weighting === 'dwa' ? this.dwaWeights : this.weighting === 'gradnorm' ? [...this.gn.weights] : null;
    const lossValues = losses.map((l) => l.item());
    if (this.weighting === 'gradnorm' && losses.some((l) => l.requiresGrad)) this.gradNormStep(losses, lossValues);
    let total: Tensor | null = null;
    this.terms.forEach((t, i) => {
      const l = losses[i];
      const v = lossValues[i];
      values[t.name] = v;
      this.sums[i] += v;
      let term = l.mul((t.weight ?? 1) * (lambda ? lambda[i] : 1));
      if (this.logVars) {
        const s = this.logVars.select(0, i);
        term = term.mul(s.neg().exp()).mul(0.5).add(s.mul(0.5));
      }
      total = total ? total.add(term) : term;
    });
    this.count++;
    return { total: total!, values };
  }

  /** One GradNorm update of the weights from this step's losses (Chen et al. 2018, Algorithm 1). */
  private gradNormStep(losses: Tensor[], l: number[]): void {
    if (this.shared.length === 0) throw new TypeError("MultiLoss: weighting 'gradnorm' needs setSharedParameters([...]) (the last shared layer's weight) before training");
    const c = this.terms.map((t) => t.weight ?? 1);
    // ‖∇_W L_i‖ for each term; G_i = λ_i w_i ‖∇_W L_i‖.
    const g = losses.map((l) => torch.scope(() => {
      if (!l.requiresGrad) return 0;
      const grads = torch.autograd.grad(l, this.shared, { retainGraph: true, allowUnused: true });
      return Math.sqrt(grads.reduce((s, gr) => s + (gr ? gr.float().pow(2).sum().item() : 0), 0));
    }));
    const st = this.gn;
    st.l0 ??= [...l];
    const ratio = l.map((x, i) => (st.l0![i] > 0 ? x / st.l0![i] : 1));
    const meanRatio = ratio.reduce((a, b) => a + b, 0) / ratio.length;
    const G = g.map((x, i) => st.weights[i] * c[i] * x);
    const gBar = G.reduce((a, b) => a + b, 0) / G.length;
    // ∂/∂λ_i Σ_j |G_j − Ḡ r_j^α| with the target constant: sign(G_i − target_i) · w_i ‖∇_W L_i‖.
    const grad = G.map((x, i) => Math.sign(x - gBar * (meanRatio > 0 ? ratio[i] / meanRatio : 1) ** this.gnAlpha) * c[i] * g[i]);
    st.steps++;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const k = st.weights.length;
    st.weights = st.weights.map((w, i) => {
      st.m[i] = b1 * st.m[i] + (1 - b1) * grad[i];
      st.v[i] = b2 * st.v[i] + (1 - b2) * grad[i] * grad[i];
      const mHat = st.m[i] / (1 - b1 ** st.steps), vHat = st.v[i] / (1 - b2 ** st.steps);
      return Math.max(1e-6, w - this.gnLr * mHat / (Math.sqrt(vHat) + eps));
    });
    const z = st.weights.reduce((a, b) => a + b, 0);
    st.weights = st.weights.map((w) => (k * w) / z);
  }

  /** The current weight of each term (uncertainty: ½·exp(−s_i)·w_i; dwa, gradnorm: λ_i·w_i). */
  weights(): Record<string, number> {
    const out: Record<string, number> = {};
    const s = this.logVars ? (this.logVars.detach().toArray() as number[]) : null;
    this.terms.forEach((t, i) => {
      const w = t.weight ?? 1;
      out[t.name] = s ? 0.5 * Math.exp(-s[i]) * w : this.weighting === 'dwa' ? this.dwaWeights[i] * w : this.weighting === 'gradnorm' ? this.gn.weights[i] * w : w;
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

  /** DWA's loss history and weights, GradNorm's weights, initial losses and Adam moments, for checkpoints. */
  stateDict(): { history: number[][]; dwaWeights: number[]; gradNorm: GradNormState } {
    const g = this.gn;
    return { history: this.history.map((h) => [...h]), dwaWeights: [...this.dwaWeights], gradNorm: { weights: [...g.weights], l0: g.l0 ? [...g.l0] : null, m: [...g.m], v: [...g.v], steps: g.steps } };
  }

  loadStateDict(s: { history: number[][]; dwaWeights: number[]; gradNorm?: GradNormState }): void {
    const k = this.terms.length;
    const ok = (a: unknown) => Array.isArray(a) && a.length === k;
    if (!s || !Array.isArray(s.history) || !ok(s.dwaWeights)) {
      throw new TypeError(`MultiLoss.loadStateDict: expected { history, dwaWeights } for ${k} terms`);
    }
    const g = s.gradNorm;
    if (g !== undefined && !(ok(g.weights) && ok(g.m) && ok(g.v) && (g.l0 === null || ok(g.l0)) && Number.isInteger(g.steps))) {
      throw new TypeError(`MultiLoss.loadStateDict: gradNorm must be { weights, l0, m, v, steps } for ${k} terms`);
    }
    this.history = s.history.map((h) => [...h]);
    this.dwaWeights = [...s.dwaWeights];
    if (g) this.gn = { weights: [...g.weights], l0: g.l0 ? [...g.l0] : null, m: [...g.m], v: [...g.v], steps: g.steps };
  }
}
