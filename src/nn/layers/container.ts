// Sequential, ModuleList, ModuleDict: children named '0', '1', … or by key, as in PyTorch.
import { Module } from '../module.js';

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
  forward(x: any): any {
    for (const m of this.children()) x = m.forward(x);
    return x;
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
