// torch.ops.call('aten::name.overload', ...args): any ATen operator by schema
// name, with tensors wrapped by the schema's declared return types.
import { native } from './native.js';
import { opId } from './ops.js';
import { Tensor } from './tensor.js';

const returnTypes = new Map<number, string[]>();

function toRaw(x: unknown): unknown {
  if (x instanceof Tensor) {
    if (x.h === 0) throw new Error('torch.ops.call: a tensor argument was disposed');
    return x.h;
  }
  if (Array.isArray(x) && x.some((e) => e instanceof Tensor)) return x.map((e) => (e === null ? null : toRaw(e)));
  return x;
}

function fromRaw(type: string, v: any): unknown {
  if (v === null) return null;
  if (type === 'Tensor' || type === 'Tensor?') return new Tensor(v);
  if (type === 'Tensor[]') return (v as number[]).map((h) => new Tensor(h));
  return v;
}

export function callOp(name: string, ...args: unknown[]): any {
  const id = opId(name);
  let rets = returnTypes.get(id);
  if (!rets) {
    rets = native.opSchema(id).returns.map((t) => t.replace(/\(.*?\)/g, ''));
    returnTypes.set(id, rets);
  }
  const out = native.call(id, ...args.map(toRaw));
  if (rets.length === 0) return undefined;
  if (rets.length === 1) return fromRaw(rets[0], out);
  return (out as unknown[]).map((v, i) => fromRaw(rets![i], v));
}

export function schema(name: string): string {
  return native.opSchema(opId(name)).schema;
}

export function list(prefix = 'aten::'): string[] {
  return native.listOps(prefix);
}
