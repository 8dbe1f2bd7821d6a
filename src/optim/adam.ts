// Adam (Kingma & Ba 2015; L2 weight decay added to the gradient) and AdamW
// (Loshchilov & Hutter 2019; decoupled decay), the updates of torch.optim's
// multi-tensor implementations, with amsgrad.
import { Tensor } from '../torch/tensor.js';
import * as torch from '../torch/index.js';
import { Optimizer, defined, type ParamGroup, type ParamsArg } from './optimizer.js';
import type { Parameter } from '../nn/parameter.js';

export interface AdamOptions { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; maximize?: boolean }

class AdamBase extends Optimizer {
  constructor(params: ParamsArg, opts: AdamOptions, private readonly decoupled: boolean, defaultWd: number) {
    const o = { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: defaultWd, amsgrad: false, maximize: false, ...defined(opts) };
    const [b1, b2] = o.betas;
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new RangeError(`${new.target.name}: betas must be in [0, 1), got [${o.betas}]`);
    if (!(o.eps >= 0)) throw new RangeError(`${new.target.name}: eps must be >= 0, got ${o.eps}`);
    super(params, o);
  }

  protected updateGroup(g: ParamGroup, params: Parameter[], grads: Tensor[]): void {
    const [beta1, beta2] = g.betas as [number, number];
    const lr = g.lr, wd = g.weightDecay, eps = g.eps as number;
    if (g.maximize) grads = grads.map((x) => x.neg());
    const expAvg: Tensor[] = [], expAvgSq: Tensor[] = [], maxSq: Tensor[] = [], steps: number[] = [];
    for (const p of params) {
      const s = this.stateOf(p);
      if (s.exp_avg === undefined) {
        s.step = 0;
        s.exp_avg = this.keepState(torch.zerosLike(p));
        s.exp_avg_sq = this.keepState(torch.zerosLike(p));
        if (g.amsgrad) s.max_exp_avg_sq = this.keepState(torch.zerosLike(p));
      }
      s.step = (s.step as number) + 1;
      steps.push(s.step);
      expAvg.push(s.exp_avg as Tensor);
      expAvgSq.push(s.exp_avg_sq as Tensor);
      if (g.amsgrad) maxSq.push(s.max_exp_avg_sq as Tensor);
    }
    if (wd !== 0) {
      if (this.decoupled) torch._foreach_mul_(params, 1 - lr * wd);
      else grads = torch._foreach_add(grads, params, wd);
    }
    // m = β1·m + (1−β1)·g ;  v = β2·v + (1−β2)·g²
    torch._foreach_mul_(expAvg, beta1);
    torch._foreach_add_(expAvg, grads, 1 - beta1);
    torch._foreach_mul_(expAvgSq, beta2);
    torch._foreach_addcmul_(expAvgSq, grads, grads, 1 - beta2);
    let second = expAvgSq;
    if (g.amsgrad) {
      maxSq.forEach((m, i) => torch.scope(() => m.copy_(m.maximum(expAvgSq[i]))));
      second = maxSq;
    }
    // p -= lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε)
    const denom = torch._foreach_sqrt(second);
    torch._foreach_div_(denom, steps.map((t) => Math.sqrt(1 - beta2 ** t)));
    torch._foreach_add_(denom, eps);
    torch._foreach_addcdiv_(params, expAvg, denom, steps.map((t) => -lr / (1 - beta1 ** t)));
  }
}

export class Adam extends AdamBase {
  constructor(params: ParamsArg, opts: AdamOptions = {}) {
    super(params, opts, false, 0);
  }
}

/** AdamW: weight decay 1e-2 by default, as torch.optim.AdamW. */
export class AdamW extends AdamBase {
  constructor(params: ParamsArg, opts: AdamOptions = {}) {
    super(params, opts, true, 1e-2);
  }
}
