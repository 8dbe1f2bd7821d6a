// Functions over several tensors: cat, stack, einsum, and function forms of
// common methods (torch.exp(x) as x.exp()).
import { native } from './native.js';
import { opId } from './ops.js';
import { Tensor, handle, describe } from './tensor.js';

const call = native.call;

function handles(ts: Tensor[], what: string): number[] {
  if (!Array.isArray(ts)) throw new TypeError(`${what}: expected an array of tensors, got ${describe(ts)}`);
  return ts.map((t, i) => handle(t, `${what}[${i}]`));
}

export function cat(tensors: Tensor[], dim = 0): Tensor { return new Tensor(call(opId('aten::cat'), handles(tensors, 'cat'), dim)); }
export function stack(tensors: Tensor[], dim = 0): Tensor { return new Tensor(call(opId('aten::stack'), handles(tensors, 'stack'), dim)); }
export function einsum(equation: string, ...operands: Tensor[] | [Tensor[]]): Tensor {
  const ts = (operands.length === 1 && Array.isArray(operands[0]) ? operands[0] : operands) as Tensor[];
  return new Tensor(call(opId('aten::einsum'), equation, handles(ts, 'einsum'), null));
}
export function meshgrid(tensors: Tensor[], indexing: 'ij' | 'xy' = 'ij'): Tensor[] {
  return (call(opId('aten::meshgrid.indexing'), handles(tensors, 'meshgrid'), indexing) as number[]).map((h) => new Tensor(h));
}
export function matmul(a: Tensor, b: Tensor): Tensor { return a.matmul(b); }
export function mm(a: Tensor, b: Tensor): Tensor { return a.mm(b); }
export function bmm(a: Tensor, b: Tensor): Tensor { return a.bmm(b); }
export function exp(a: Tensor): Tensor { return a.exp(); }
export function log(a: Tensor): Tensor { return a.log(); }
export function abs(a: Tensor): Tensor { return a.abs(); }
export function sqrt(a: Tensor): Tensor { return a.sqrt(); }
export function sigmoid(a: Tensor): Tensor { return a.sigmoid(); }
export function tanh(a: Tensor): Tensor { return a.tanh(); }
export function pow(a: Tensor, e: Tensor | number): Tensor { return a.pow(e); }
export function clamp(a: Tensor, min?: number | null, max?: number | null): Tensor { return a.clamp(min, max); }
export function maximum(a: Tensor, b: Tensor): Tensor { return a.maximum(b); }
export function minimum(a: Tensor, b: Tensor): Tensor { return a.minimum(b); }
export function flatten(a: Tensor, startDim = 0, endDim = -1): Tensor { return a.flatten(startDim, endDim); }
export function argmax(a: Tensor, dim?: number, keepdim = false): Tensor { return a.argmax(dim, keepdim); }
export function softmax(a: Tensor, dim: number): Tensor { return a.softmax(dim); }
export function logSoftmax(a: Tensor, dim: number): Tensor { return a.logSoftmax(dim); }
export function logsumexp(a: Tensor, dim: number | number[], keepdim = false): Tensor { return a.logsumexp(dim, keepdim); }
export function topk(a: Tensor, k: number, dim = -1, largest = true, sorted = true) { return a.topk(k, dim, largest, sorted); }
export function sort(a: Tensor, dim = -1, descending = false) { return a.sort(dim, descending); }
export function nonzero(a: Tensor): Tensor { return a.nonzero(); }
export function flip(a: Tensor, dims: number | number[]): Tensor { return a.flip(dims); }
export function roll(a: Tensor, shifts: number | number[], dims?: number | number[]): Tensor { return a.roll(shifts, dims); }
export function gather(a: Tensor, dim: number, index: Tensor): Tensor { return a.gather(dim, index); }
export function allclose(a: Tensor, b: Tensor, rtol = 1e-5, atol = 1e-8): boolean { return a.allclose(b, rtol, atol); }
