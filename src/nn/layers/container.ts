// Sequential, ModuleList, ModuleDict: children named '0', '1', … or by key, as in PyTorch.
import { Module } from '../module.js';
import { Tensor } from '../../torch/tensor.js';
import { scope, isKept } from '../../torch/scope.js';
import { isGradEnabled } from '../../torch/runtime.js';

/**
 * x through `mods` in order; returns the output of each module whose index is
 * in `at` (in `at`'s order), or the last module's output when `at` is omitted.
 *
 * Under no-grad (inference) each module runs in its own torch.scope, and each
 * intermediate output is freed once the next module has returned, as PyTorch
 * frees an activation when its last reference goes. Otherwise every
 * activation of a forward would live until the caller's scope closes: for a
 * segmentation batch hundreds of MB at once, each op writing into fresh,
 * cache-cold memory, and V8 running a full GC per ~64 MB of them (the native
 * bytes are reported to it): LR-ASPP's eval forward took 1.6× PyTorch's.
 * Not freed: the input, an output that is the module's own input (Identity,
 * Dropout in eval), a kept tensor, one asked for in `at`, and anything when
 * the next output is not a tensor (it may hold it). With grad enabled this is
 * the plain loop: autograd holds what backward needs anyway.
 */
export function forwardChain(mods: readonly Module[], x: any, at?: readonly number[]): any {
  const last = at === undefined ? mods.length - 1 : Math.max(...at);
  const out = new Map<number, unknown>();
  if (isGradEnabled()) {
    for (let i = 0; i <= last; i++) {
      x = mods[i].forward(x);
      out.set(i, x);
    }
  } else {
    const wanted = new Set(at ?? []);
    const held = new Set<unknown>([x]); // the caller's input and the outputs asked for
    for (let i = 0; i <= last; i++) {
      const m = mods[i];
      const xi = x;
      const y = scope(() => m.forward(xi));
      if (y !== xi && y instanceof Tensor && xi instanceof Tensor && !held.has(xi) && !isKept(xi)) xi.dispose();
      x = y;
      if (wanted.has(i)) {
        out.set(i, y);
        held.add(y);
      }
    }
  }
  return at === undefined ? x : at.map((i) => out.get(i));
}

export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.append(m, i));
  }
  private append(m: Module, i: number): void {
    if (!(m instanceof Module)) throw new TypeError(`Sequential: element ${i} is not a Module`);
    (this as unknown as Record<string, Module>)[String(i)] = m;
  }
  get length(): number { return this.children().length; }
  at(i: number): Module { return this.children().at(i)!; }
  /** Each child in order; under no-grad the intermediates are freed as it goes (forwardChain). */
  forward(x: any): any {
    const mods = this.children();
    return mods.length === 0 ? x : forwardChain(mods, x);
  }
}

export class ModuleList extends Module {
  constructor(modules: Module[] = []) {
    super();
    for (const m of modules) this.push(m);
  }
  push(m: Module): this {
    if (!(m instanceof Module)) throw new TypeError('ModuleList: expected a Module');
    (this as unknown as Record<string, Module>)[String(this.length)] = m;
    return this;
  }
  get length(): number { return this.children().length; }
  at(i: number): Module { return this.children().at(i)!; }
  [Symbol.iterator](): Iterator<Module> { return this.children()[Symbol.iterator](); }
  forward(): never { throw new Error('ModuleList has no forward(); iterate over it'); }
}

export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> = {}) {
    super();
    for (const [k, m] of Object.entries(modules)) this.set(k, m);
  }
  set(key: string, m: Module): this {
    if (!(m instanceof Module)) throw new TypeError(`ModuleDict: '${key}' is not a Module`);
    if (key.startsWith('_') || key === 'training') throw new TypeError(`ModuleDict: '${key}' is not a usable key`);
    (this as unknown as Record<string, Module>)[key] = m;
    return this;
  }
  get(key: string): Module | undefined {
    const v = (this as unknown as Record<string, unknown>)[key];
    return v instanceof Module ? v : undefined;
  }
  keys(): string[] { return [...this.namedChildren()].map(([k]) => k); }
  forward(): never { throw new Error('ModuleDict has no forward(); index it'); }
}
