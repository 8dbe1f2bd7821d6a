// nn.Parameter: a leaf tensor that requires grad and is owned by its module
// (it outlives every torch.scope; freed by dispose() or its finalizer).
import { Tensor } from '../torch/tensor.js';
import { keep } from '../torch/scope.js';
import { callRaw } from '../torch/ops.js';

export class Parameter extends Tensor {
  /** Use nn.parameter(tensor) to make one. */
  constructor(handle: number) {
    super(handle);
    keep(this);
  }
}

/** A new Parameter sharing `data`'s storage (detached: a leaf), requiring grad unless told otherwise. */
export function parameter(data: Tensor, requiresGrad = true): Parameter {
  if (!(data instanceof Tensor)) throw new TypeError('nn.parameter: expected a Tensor');
  const p = new Parameter(callRaw('aten::detach', data.h));
  if (requiresGrad) p.requiresGrad_(true);
  return p;
}

/** A buffer (running statistics and the like): a kept tensor, no grad. */
export function buffer(data: Tensor): Tensor {
  return keep(data);
}
