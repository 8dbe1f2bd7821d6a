// nn.Module: parameters, buffers and children found by property, in the order
// they were assigned (as PyTorch's __setattr__ registers them), so
// stateDict() keys are PyTorch's: `layer1.0.conv1.weight`.
import { Tensor } from '../torch/tensor.js';
import { noGrad } from '../torch/runtime.js';
import { callOp } from '../torch/generic.js';
import { keep } from '../torch/scope.js';
import { Parameter } from './parameter.js';
import type { DType } from '../torch/dtype.js';

export type StateDict = Record<string, Tensor>;

export interface LoadResult { missingKeys: string[]; unexpectedKeys: string[] }

export interface LoadStateDictOptions {
  /** Missing and unexpected keys are errors (default true); otherwise they are returned. Shapes are always checked. */
  strict?: boolean;
  /** Where the state dict came from (a file name), for error messages. */
  source?: string;
}

/**
 * Copies `sd` into the live tensors of `own` (a model's state dict, under the
 * keys `sd` is expected to use) without grad: torch.nn.Module.load_state_dict.
 * Every shape is checked, and with strict every missing and unexpected key,
 * before anything is copied, so a failed load leaves the model as it was.
 * Keys for which `optional(key)` is true may be missing even when strict.
 */
export function loadInto(own: StateDict, sd: StateDict, opts: LoadStateDictOptions = {}, optional: (key: string) => boolean = () => false, who = 'loadStateDict'): LoadResult {
  if (typeof sd !== 'object' || sd === null || Array.isArray(sd)) throw new TypeError(`${who}: expected a state dict (an object of tensors by key), got ${Array.isArray(sd) ? 'an array' : String(sd)}`);
  const strict = opts.strict ?? true;
  const src = opts.source ? ` (${opts.source})` : '';
  const missingKeys = Object.keys(own).filter((k) => !(k in sd));
  const unexpectedKeys = Object.keys(sd).filter((k) => !(k in own));
  for (const [k, t] of Object.entries(sd)) {
    const mine = own[k];
    if (!mine) continue;
    if (!(t instanceof Tensor)) throw new TypeError(`${who}${src}: '${k}' is not a Tensor`);
    const a = mine.shape.join(','), b = t.shape.join(',');
    if (a !== b) throw new Error(`${who}${src}: '${k}' has shape [${b}] but the model expects [${a}]`);
  }
  const required = missingKeys.filter((k) => !optional(k));
  if (strict && (required.length || unexpectedKeys.length)) {
    const parts = [];
    if (required.length) parts.push(`missing keys: ${required.slice(0, 10).join(', ')}${required.length > 10 ? ', …' : ''}`);
    if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.slice(0, 10).join(', ')}${unexpectedKeys.length > 10 ? ', …' : ''}`);
    throw new Error(`${who}${src}: ${parts.join('; ')}`);
  }
  noGrad(() => {
    for (const [k, t] of Object.entries(sd)) {
      const mine = own[k];
      if (mine) mine.copy_(t);
    }
  });
  return { missingKeys, unexpectedKeys };
}

export abstract class Module {
  training = true;
  /** Buffers by their PyTorch name (e.g. 'running_mean'); persistent ones go into stateDict. */
  protected _buffers = new Map<string, { tensor: Tensor | null; persistent: boolean }>();

  abstract forward(...args: any[]): any;

  /** Registers a buffer under PyTorch's name; the tensor is kept (outlives scopes). */
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor | null {
    if (t) keep(t);
    this._buffers.set(name, { tensor: t, persistent });
    return t;
  }
  getBuffer(name: string): Tensor {
    const b = this._buffers.get(name)?.tensor;
    if (!b) throw new Error(`${this.constructor.name}: no buffer '${name}'`);
    return b;
  }
  setBuffer(name: string, t: Tensor): void {
    const b = this._buffers.get(name);
    if (!b) throw new Error(`${this.constructor.name}: no buffer '${name}'`);
    keep(t);
    b.tensor?.dispose();
    b.tensor = t;
  }

  /** Own parameters and children, by property order. Names starting with '_' are private. */
  protected *ownEntries(): Generator<[string, Parameter | Module | null]> {
    for (const key of Object.keys(this)) {
      if (key.startsWith('_') || key === 'training') continue;
      const v = (this as Record<string, unknown>)[key];
      if (v instanceof Parameter || v instanceof Module) yield [key, v];
    }
  }

  *namedChildren(): Generator<[string, Module]> {
    for (const [k, v] of this.ownEntries()) if (v instanceof Module) yield [k, v];
  }
  children(): Module[] {
    return [...this.namedChildren()].map(([, m]) => m);
  }
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [k, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${k}` : k);
  }
  modules(): Module[] {
    return [...this.namedModules()].map(([, m]) => m);
  }
  *namedParameters(prefix = '', recurse = true): Generator<[string, Parameter]> {
    const seen = new Set<Parameter>();
    for (const [name, m] of recurse ? this.namedModules(prefix) : ([[prefix, this]] as [string, Module][])) {
      for (const [k, v] of m.ownEntries()) {
        if (v instanceof Parameter && !seen.has(v)) {
          seen.add(v);
          yield [name ? `${name}.${k}` : k, v];
        }
      }
    }
  }
  parameters(recurse = true): Parameter[] {
    return [...this.namedParameters('', recurse)].map(([, p]) => p);
  }
  *namedBuffers(prefix = '', persistentOnly = false): Generator<[string, Tensor]> {
    for (const [name, m] of this.namedModules(prefix)) {
      for (const [k, b] of m._buffers) {
        if (b.tensor && (!persistentOnly || b.persistent)) yield [name ? `${name}.${k}` : k, b.tensor];
      }
    }
  }
  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, b]) => b);
  }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.numel(), 0);
  }

  /** Parameters and persistent buffers by PyTorch's key names (the live tensors, not copies). */
  stateDict(): StateDict {
    // Module by module, parameters then buffers: PyTorch's key order.
    const sd: StateDict = {};
    const seen = new Set<Tensor>();
    for (const [name, m] of this.namedModules()) {
      const pre = name ? `${name}.` : '';
      for (const [k, v] of m.ownEntries()) if (v instanceof Parameter && !seen.has(v)) { seen.add(v); sd[pre + k] = v; }
      for (const [k, b] of m._buffers) if (b.tensor && b.persistent) sd[pre + k] = b.tensor;
    }
    return sd;
  }

  /**
   * Copies tensors into the parameters and buffers by key. A shape mismatch is
   * an error naming the key; with strict (the default) so are missing and
   * unexpected keys, otherwise they are returned.
   */
  loadStateDict(sd: StateDict, opts: LoadStateDictOptions = {}): LoadResult {
    return loadInto(this.stateDict(), sd, opts);
  }

  /** Converts parameters and floating buffers in place (keeps the same Parameter objects, as PyTorch). */
  to(target: DType | string): this {
    noGrad(() => {
      const convert = (t: Tensor): void => {
        if (!t.isFloatingPoint() && !/^(cpu|cuda)/.test(String(target))) return;
        const n = t.to(target as DType);
        if (n.h !== t.h) {
          callOp('aten::set_data', t, n);
          n.dispose();
        }
      };
      for (const p of this.parameters()) convert(p);
      for (const b of this.buffers()) convert(b);
    });
    return this;
  }

  /** Re-lays 4-d parameters in place as channels-last (NHWC strides), like model.to(memory_format=torch.channels_last). */
  toMemoryFormat(memoryFormat: 'contiguous' | 'channelsLast'): this {
    noGrad(() => {
      for (const p of this.parameters()) {
        if (p.ndim !== 4) continue;
        const n = p.contiguous(memoryFormat);
        if (n.h !== p.h) callOp('aten::set_data', p, n);
        n.dispose();
      }
    });
    return this;
  }

  /** Frees every parameter and buffer now. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const b of this.buffers()) b.dispose();
  }

  toString(): string {
    const lines = [...this.namedChildren()].map(([k, m]) => `  (${k}): ${m.toString().replace(/\n/g, '\n  ')}`);
    const extra = this.extraRepr();
    if (lines.length === 0) return `${this.constructor.name}(${extra})`;
    return `${this.constructor.name}(${extra ? extra + '\n' : '\n'}${lines.join('\n')}\n)`;
  }
  extraRepr(): string {
    return '';
  }
}
