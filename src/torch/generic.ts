// torch.ops.call('aten::name.overload', ...args): any ATen operator by schema
// name, with tensors wrapped by the schema's declared return types.
import { native } from './native.js';
import { opId } from './ops.js';
import { Tensor, describe } from './tensor.js';

interface OpInfo { args: { name: string; type: string }[]; rets: string[] }
const infos = new Map<number, OpInfo>();

function infoOf(id: number): OpInfo {
  let i = infos.get(id);
  if (!i) {
    const s = native.opSchema(id);
    const clean = (t: string) => t.replace(/\(.*?\)/g, '');
    i = { args: s.args.map((a) => ({ name: a.name, type: clean(a.type) })), rets: s.returns.map(clean) };
    infos.set(id, i);
  }
  return i;
}

// Tensors are unwrapped only where the schema declares a tensor; a Tensor
// anywhere else, or a bare number where a tensor belongs, is refused.
function toRaw(name: string, arg: { name: string; type: string } | undefined, x: unknown): unknown {
  const where = arg ? `${name}: argument '${arg.name}' (${arg.type})` : `${name}: extra argument`;
  const type = arg?.type ?? '';
  const isTensorType = type === 'Tensor' || type === 'Tensor?';
  const isListType = type === 'Tensor[]' || type === 'Tensor?[]';
  if (isTensorType) {
    if (x === null || x === undefined) return x;
    if (!(x instanceof Tensor)) throw new TypeError(`${where} expected a tensor, got ${describe(x)}`);
    if (x.h === 0) throw new Error(`${where} is a disposed tensor`);
    return x.h;
  }
  if (isListType) {
    if (!Array.isArray(x)) throw new TypeError(`${where} expected an array of tensors, got ${describe(x)}`);
    return x.map((e) => {
      if (e === null && type === 'Tensor?[]') return null;
      if (!(e instanceof Tensor)) throw new TypeError(`${where} expected tensors, got ${describe(e)}`);
      if (e.h === 0) throw new Error(`${where} holds a disposed tensor`);
      return e.h;
    });
  }
  if (x instanceof Tensor || (Array.isArray(x) && x.some((e) => e instanceof Tensor))) {
    const base = type.replace(/\?$/, '');
    const want = base === 'int' || base === 'SymInt' ? 'an integer' : base === 'float' || base === 'Scalar' ? 'a number'
      : base === 'bool' ? 'a boolean' : base.endsWith('[]') ? 'an array of numbers' : `a ${base}`;
    throw new TypeError(`${where} expected ${want}, got a Tensor`);
  }
  return x;
}

function fromRaw(type: string, v: any): unknown {
  if (v === null) return null;
  if (type === 'Tensor' || type === 'Tensor?') return new Tensor(v);
  if (type === 'Tensor[]') return (v as number[]).map((h) => new Tensor(h));
  return v;
}

/** Calls any ATen operator by schema name ('aten::add.Tensor'), with tensors in and out. */
export function callOp(name: string, ...args: unknown[]): any {
  const id = opId(name);
  const { args: specs, rets } = infoOf(id);
  const out = native.call(id, ...args.map((x, i) => toRaw(name, specs[i], x)));
  if (rets.length === 0) return undefined;
  if (rets.length === 1) return fromRaw(rets[0], out);
  return (out as unknown[]).map((v, i) => fromRaw(rets[i], v));
}

export function schema(name: string): string {
  return native.opSchema(opId(name)).schema;
}

export function list(prefix = 'aten::'): string[] {
  return native.listOps(prefix);
}
