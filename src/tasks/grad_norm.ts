// GradNorm (Chen et al. 2018) needs the layer every loss term shares, whose
// gradient norms it balances: the model's last weight matrix (a classifier's
// or a segmentation head's class scores) unless loss.gradNorm.parameter names
// one. A model with an auxiliary head, whose last weight matrix the main terms
// never reach, names the last layer both heads share with a
// `gradNormParameter()` method (src/models/heads/segmentation_model.ts). Every
// task whose loss can be weighted by GradNorm attaches it here.
import type { Tensor } from '../torch/tensor.js';
import type { Module } from '../nn/module.js';
import type { TaskLoss } from './task.js';

/** The named parameter GradNorm balances at. */
export function gradNormParameter(model: Module, modelName: string, parameter?: string): [string, Tensor] {
  const named = [...model.namedParameters()];
  const hint = parameter === undefined ? (model as { gradNormParameter?: () => string | undefined }).gradNormParameter?.() : undefined;
  const shared = parameter ?? hint;
  const found = shared ? named.find(([n]) => n === shared) : named.filter(([, p]) => p.ndim >= 2).at(-1);
  if (!found) {
    const e = named.filter(([, p]) => p.ndim >= 2).slice(-3).map(([n]) => n).join(', ');
    const what = parameter !== undefined ? `config: loss.gradNorm.parameter '${parameter}' is not a parameter of ${modelName}`
      : hint !== undefined ? `GradNorm: ${modelName}'s gradNormParameter() names '${hint}', which is not one of its parameters; name one with loss.gradNorm.parameter`
        : `GradNorm: ${modelName} has no weight matrix (a parameter of 2 or more dimensions) to balance at; name one with loss.gradNorm.parameter`;
    throw new TypeError(`${what}${e ? ` (e.g. ${e})` : ''}`);
  }
  return found;
}

/** With `weighting: 'gradnorm'`, gives the loss its shared parameter and logs which; otherwise nothing. */
export function attachGradNorm<O, T>(loss: TaskLoss<O, T>, model: Module, modelName: string, gradNorm: { alpha?: number; parameter?: string } | undefined, log: (line: string) => void): void {
  if (loss.multi.weighting !== 'gradnorm') return;
  const [name, p] = gradNormParameter(model, modelName, gradNorm?.parameter);
  loss.multi.setSharedParameters([p]);
  log(`GradNorm: gradient norms balanced at ${name} (α ${gradNorm?.alpha ?? 1.5})`);
}
