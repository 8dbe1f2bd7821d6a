// SGD with momentum, dampening, Nesterov and L2 weight decay, the update of
// torch.optim.SGD (foreach implementation: one multi-tensor call per step).
import { Tensor } from '../torch/tensor.js';
import * as torch from '../torch/index.js';
import { Optimizer, defined, type ParamGroup, type ParamsArg } from './optimizer.js';
import type { Parameter } from '../nn/parameter.js';

export interface SGDOptions { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; maximize?: boolean }

export class SGD extends Optimizer {
  constructor(params: ParamsArg, opts: SGDOptions) {
    const o = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...defined(opts), lr: opts.lr };
    if (!(o.momentum >= 0)) throw new RangeError(`SGD: momentum must be >= 0, got ${o.momentum}`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) throw new RangeError('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
    super(params, o);
  }

  protected updateGroup(g: ParamGroup, params: Parameter[], grads: Tensor[]): void {
    const momentum = g.momentum as number, dampening = g.dampening as number, wd = g.weightDecay;
    if (g.maximize) grads = grads.map((x) => x.neg());
    if (wd !== 0) grads = torch._foreach_add(grads, params, wd);
    if (momentum !== 0) {
      const bufs: Tensor[] = [];
      const fresh: number[] = [];
      params.forEach((p, i) => {
        const s = this.stateOf(p);
        if (s.momentum_buffer instanceof Tensor) bufs.push(s.momentum_buffer);
        else {
          s.momentum_buffer = this.keepState(grads[i].clone().detach());
          bufs.push(s.momentum_buffer);
          fresh.push(i);
        }
      });
      const old = bufs.filter((_, i) => !fresh.includes(i));
      if (old.length > 0) {
        torch._foreach_mul_(old, momentum);
        torch._foreach_add_(old, grads.filter((_, i) => !fresh.includes(i)), 1 - dampening);
      }
      grads = g.nesterov ? torch._foreach_add(grads, bufs, momentum) : bufs;
    }
    torch._foreach_add_(params, grads, -g.lr);
  }
}
