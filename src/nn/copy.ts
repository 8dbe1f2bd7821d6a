// copy.deepcopy(module) for Arsenal modules: same class, same fields, fresh
// copies of every parameter and buffer (what AveragedModel and EMA need).
import { Module } from './module.js';
import { Parameter, parameter } from './parameter.js';
import { noGrad } from '../torch/runtime.js';
import { keep } from '../torch/scope.js';
import { Tensor } from '../torch/tensor.js';

export function deepCopy<T extends Module>(m: T): T {
  const params = new Map<Parameter, Parameter>();
  const copyOf = (src: Module): Module => {
    const out = Object.create(Object.getPrototypeOf(src)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(src)) {
      if (v instanceof Parameter) {
        let p = params.get(v);
        if (!p) {
          p = noGrad(() => parameter(v.detach().clone(), v.requiresGrad));
          params.set(v, p);
        }
        out[k] = p;
      } else if (v instanceof Module) out[k] = copyOf(v);
      else if (k === '_buffers') {
        const bufs = v as Map<string, { tensor: Tensor | null; persistent: boolean }>;
        out[k] = new Map([...bufs].map(([n, b]) => [n, { tensor: b.tensor ? keep(noGrad(() => b.tensor!.clone())) : null, persistent: b.persistent }]));
      } else if (Array.isArray(v)) out[k] = [...v];
      else if (v instanceof Tensor) out[k] = keep(noGrad(() => v.clone()));
      else out[k] = v;
    }
    return out as unknown as Module;
  };
  return copyOf(m) as T;
}
