// Operator ids by schema name ('aten::add.Tensor'), looked up once and cached,
// and the small helpers every wrapper uses.
import { native } from './native.js';

const ids = new Map<string, number>();

export function opId(name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    id = native.opLookup(name);
    ids.set(name, id);
  }
  return id;
}

/** Calls an operator with raw arguments (tensor handles); returns raw results. */
export function callRaw(name: string, ...args: unknown[]): any {
  return native.call(opId(name), ...args);
}

export function callVoid(name: string, ...args: unknown[]): void {
  native.callVoid(opId(name), ...args);
}

/** Reduction names as ATen's integer enum (at::Reduction). */
export type Reduction = 'none' | 'mean' | 'sum';
export function reductionCode(r: Reduction | undefined, what: string): number {
  switch (r ?? 'mean') {
    case 'none': return 0;
    case 'mean': return 1;
    case 'sum': return 2;
    default: throw new TypeError(`${what}: reduction must be 'none', 'mean' or 'sum', got '${String(r)}'`);
  }
}
