// libtorch's multi-tensor `_foreach_` operators (what torch.optim's
// foreach=True implementations use): one call updates a whole parameter list.
import { native } from './native.js';
import { opId } from './ops.js';
import { Tensor, handle } from './tensor.js';

const call = native.call;
const callV = native.callVoid;

function hs(ts: Tensor[], what: string): number[] {
  if (!Array.isArray(ts)) throw new TypeError(`${what}: expected an array of tensors`);
  return ts.map((t, i) => handle(t, `${what}[${i}]`));
}

type Other = number | number[] | Tensor[];

function binaryV(name: string, self: Tensor[], other: Other, alpha?: number): void {
  const a = hs(self, name);
  if (typeof other === 'number') callV(opId(`aten::${name}.Scalar`), a, other);
  else if (other.length > 0 && typeof other[0] === 'number') callV(opId(`aten::${name}.ScalarList`), a, other);
  else if (alpha !== undefined) callV(opId(`aten::${name}.List`), a, hs(other as Tensor[], name), alpha);
  else callV(opId(`aten::${name}.List`), a, hs(other as Tensor[], name));
}

function binary(name: string, self: Tensor[], other: Other): Tensor[] {
  const a = hs(self, name);
  let r: number[];
  if (typeof other === 'number') r = call(opId(`aten::${name}.Scalar`), a, other);
  else if (other.length > 0 && typeof other[0] === 'number') r = call(opId(`aten::${name}.ScalarList`), a, other);
  else r = call(opId(`aten::${name}.List`), a, hs(other as Tensor[], name));
  return r.map((h) => new Tensor(h));
}

export function _foreach_add_(self: Tensor[], other: Other, alpha?: number): void { binaryV('_foreach_add_', self, other, alpha); }
export function _foreach_sub_(self: Tensor[], other: Other, alpha?: number): void { binaryV('_foreach_sub_', self, other, alpha); }
export function _foreach_mul_(self: Tensor[], other: Other): void { binaryV('_foreach_mul_', self, other); }
export function _foreach_div_(self: Tensor[], other: Other): void { binaryV('_foreach_div_', self, other); }
export function _foreach_add(self: Tensor[], other: Other, alpha?: number): Tensor[] {
  if (alpha !== undefined && Array.isArray(other) && other[0] instanceof Tensor)
    return (call(opId('aten::_foreach_add.List'), hs(self, '_foreach_add'), hs(other as Tensor[], '_foreach_add'), alpha) as number[]).map((h) => new Tensor(h));
  return binary('_foreach_add', self, other);
}
export function _foreach_mul(self: Tensor[], other: Other): Tensor[] { return binary('_foreach_mul', self, other); }
export function _foreach_div(self: Tensor[], other: Other): Tensor[] { return binary('_foreach_div', self, other); }

export function _foreach_addcmul_(self: Tensor[], t1: Tensor[], t2: Tensor[], value: number | number[] = 1): void {
  if (Array.isArray(value)) callV(opId('aten::_foreach_addcmul_.ScalarList'), hs(self, 'addcmul_'), hs(t1, 'addcmul_'), hs(t2, 'addcmul_'), value);
  else callV(opId('aten::_foreach_addcmul_.Scalar'), hs(self, 'addcmul_'), hs(t1, 'addcmul_'), hs(t2, 'addcmul_'), value);
}
export function _foreach_addcdiv_(self: Tensor[], t1: Tensor[], t2: Tensor[], value: number | number[] = 1): void {
  if (Array.isArray(value)) callV(opId('aten::_foreach_addcdiv_.ScalarList'), hs(self, 'addcdiv_'), hs(t1, 'addcdiv_'), hs(t2, 'addcdiv_'), value);
  else callV(opId('aten::_foreach_addcdiv_.Scalar'), hs(self, 'addcdiv_'), hs(t1, 'addcdiv_'), hs(t2, 'addcdiv_'), value);
}
export function _foreach_sqrt(self: Tensor[]): Tensor[] { return (call(opId('aten::_foreach_sqrt'), hs(self, 'sqrt')) as number[]).map((h) => new Tensor(h)); }
export function _foreach_sqrt_(self: Tensor[]): void { callV(opId('aten::_foreach_sqrt_'), hs(self, 'sqrt_')); }
export function _foreach_zero_(self: Tensor[]): void { callV(opId('aten::_foreach_zero_'), hs(self, 'zero_')); }
export function _foreach_neg_(self: Tensor[]): void { callV(opId('aten::_foreach_neg_'), hs(self, 'neg_')); }
export function _foreach_norm(self: Tensor[], ord = 2): Tensor[] { return (call(opId('aten::_foreach_norm.Scalar'), hs(self, 'norm'), ord) as number[]).map((h) => new Tensor(h)); }
/** In-place lerp of each tensor toward `end` by `weight` (EMA updates); libtorch 1.13 has no _foreach_lerp_, so it is composed. */
export function _foreach_lerp_(self: Tensor[], end: Tensor[], weight: number): void {
  // self += weight * (end - self)
  const a = hs(self, 'lerp_');
  const diff = call(opId('aten::_foreach_sub.List'), hs(end, 'lerp_'), a, 1) as number[];
  callV(opId('aten::_foreach_add_.List'), a, diff, weight);
  native.freeMany(diff);
}
