// torch.autograd.grad and torch.autograd.backward over libtorch's engine.
import { native } from './native.js';
import { Tensor, handle } from './tensor.js';

export interface GradOptions { gradOutputs?: (Tensor | null)[] | null; retainGraph?: boolean; createGraph?: boolean; allowUnused?: boolean }

/** Gradients of outputs with respect to inputs, without touching .grad (null for unused inputs when allowUnused). */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = (Array.isArray(outputs) ? outputs : [outputs]).map((t) => handle(t, 'autograd.grad outputs'));
  const ins = (Array.isArray(inputs) ? inputs : [inputs]).map((t) => handle(t, 'autograd.grad inputs'));
  const gos = opts.gradOutputs ? opts.gradOutputs.map((g) => (g === null ? null : handle(g, 'autograd.grad gradOutputs'))) : null;
  const res = native.autogradGrad(outs, ins, gos, opts.retainGraph ?? null, opts.createGraph ?? false, opts.allowUnused ?? false);
  return res.map((h) => (h === null ? null : new Tensor(h)));
}

export function backward(tensors: Tensor | Tensor[], gradTensors?: (Tensor | null)[] | null, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
  const outs = (Array.isArray(tensors) ? tensors : [tensors]).map((t) => handle(t, 'autograd.backward'));
  const gs = gradTensors ? gradTensors.map((g) => (g === null ? null : handle(g, 'autograd.backward gradTensors'))) : null;
  native.backward(outs, gs, opts.retainGraph ?? null, opts.createGraph ?? false);
}
