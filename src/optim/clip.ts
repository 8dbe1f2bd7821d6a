// torch.nn.utils.clip_grad_norm_: scales all gradients so their joint norm is at most maxNorm.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import type { Parameter } from '../nn/parameter.js';

/** Returns the total norm before clipping (a number), as PyTorch returns it (a tensor there). */
export function clipGradNorm(params: Parameter[], maxNorm: number, normType = 2): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  return torch.noGrad(() => torch.scope(() => {
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
    if (grads.length === 0) return 0;
    let total: number;
    if (normType === Infinity) total = Math.max(...grads.map((g) => g.abs().max().item()));
    else total = torch.stack(torch._foreach_norm(grads, normType)).norm(normType).item();
    const coef = maxNorm / (total + 1e-6);
    if (coef < 1) torch._foreach_mul_(grads, coef);
    return total;
  }));
}
