// Optimizer base: parameter groups, per-parameter state, zeroGrad, and a
// PyTorch-shaped state dict ({ state: {index: {...}}, param_groups: [...] }).
import { Tensor } from '../torch/tensor.js';
import { noGrad } from '../torch/runtime.js';
import { scope, keep } from '../torch/scope.js';
import { Parameter } from '../nn/parameter.js';

export interface ParamGroup {
  params: Parameter[];
  lr: number;
  weightDecay: number;
  /** The lr the schedulers start from (PyTorch's initial_lr). */
  initialLr?: number;
  /** Multiplier of the base lr given by paramwise rules (1 by default); schedulers scale etaMin by it. */
  lrMult?: number;
  /** Optional label (paramwise rules set the matching key). */
  name?: string;
  [option: string]: unknown;
}

export type GroupSpec = { params: Parameter[] } & Partial<Omit<ParamGroup, 'params'>>;
export type ParamsArg = Parameter[] | GroupSpec[];

export type ParamState = Record<string, Tensor | number>;

export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  param_groups: Record<string, unknown>[];
}

/** Options without undefined values, so `{ ...defaults, ...defined(opts) }` keeps a default when an option is given as undefined. */
export function defined<T extends object>(opts: T): Partial<T> {
  return Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function isGroupSpecs(x: ParamsArg): x is GroupSpec[] {
  return x.length > 0 && !(x[0] instanceof Tensor) && typeof x[0] === 'object' && Array.isArray((x[0] as GroupSpec).params);
}

export abstract class Optimizer {
  paramGroups: ParamGroup[];
  state = new Map<Parameter, ParamState>();

  constructor(params: ParamsArg, readonly defaults: Record<string, unknown> & { lr: number; weightDecay: number }) {
    const name = this.constructor.name;
    if (!Array.isArray(params) || params.length === 0) throw new TypeError(`${name}: expected a non-empty array of parameters or parameter groups`);
    const specs: GroupSpec[] = isGroupSpecs(params) ? params : [{ params: params as Parameter[] }];
    const seen = new Set<Parameter>();
    this.paramGroups = specs.map((spec, gi) => {
      for (const p of spec.params) {
        if (!(p instanceof Parameter)) throw new TypeError(`${name}: group ${gi} holds something that is not an nn.Parameter`);
        if (seen.has(p)) throw new Error(`${name}: a parameter appears in more than one group`);
        seen.add(p);
      }
      const g = { ...defaults, ...spec, params: [...spec.params] } as ParamGroup;
      if (!(g.lr >= 0)) throw new RangeError(`${name}: lr must be >= 0, got ${g.lr}`);
      if (!(g.weightDecay >= 0)) throw new RangeError(`${name}: weightDecay must be >= 0, got ${g.weightDecay}`);
      return g;
    });
  }

  /** Sets gradients to null (PyTorch's zero_grad(set_to_none=True)), or zeroes them. */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (setToNone) p.grad = null;
        else {
          const gr = p.grad;
          if (gr) { noGrad(() => gr.zero_()); gr.dispose(); }
        }
      }
    }
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    noGrad(() => scope(() => {
      for (const g of this.paramGroups) {
        const params: Parameter[] = [];
        const grads: Tensor[] = [];
        for (const p of g.params) {
          const gr = p.grad;
          if (gr !== null) { params.push(p); grads.push(gr); }
        }
        if (params.length > 0) this.updateGroup(g, params, grads);
      }
    }));
  }

  protected abstract updateGroup(group: ParamGroup, params: Parameter[], grads: Tensor[]): void;

  /** State tensors are kept (they outlive the step's scope). */
  protected stateOf(p: Parameter): ParamState {
    let s = this.state.get(p);
    if (!s) { s = {}; this.state.set(p, s); }
    return s;
  }
  protected keepState(t: Tensor): Tensor {
    return keep(t);
  }

  /** Frees the per-parameter state (momentum buffers, moments) now; the parameters stay the model's. */
  dispose(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }

  stateDict(): OptimizerStateDict {
    const index = new Map<Parameter, number>();
    let i = 0;
    const param_groups = this.paramGroups.map((g) => {
      const { params, ...rest } = g;
      return { ...rest, params: params.map((p) => { index.set(p, i); return i++; }) };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const k = index.get(p);
      if (k !== undefined) state[k] = { ...s };
    }
    return { state, param_groups };
  }

  loadStateDict(sd: OptimizerStateDict): void {
    const name = this.constructor.name;
    if (!sd || !Array.isArray(sd.param_groups) || sd.param_groups.length !== this.paramGroups.length)
      throw new Error(`${name}.loadStateDict: expected ${this.paramGroups.length} parameter groups, got ${sd?.param_groups?.length}`);
    const flat: Parameter[] = [];
    sd.param_groups.forEach((sg, gi) => {
      const g = this.paramGroups[gi];
      const ids = sg.params as number[];
      if (!Array.isArray(ids) || ids.length !== g.params.length) throw new Error(`${name}.loadStateDict: group ${gi} has ${ids?.length} parameters, the optimizer ${g.params.length}`);
      for (const [k, v] of Object.entries(sg)) if (k !== 'params') (g as Record<string, unknown>)[k] = v;
      flat.push(...g.params);
    });
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
    for (const [k, s] of Object.entries(sd.state)) {
      const p = flat[Number(k)];
      if (!p) throw new Error(`${name}.loadStateDict: state for parameter ${k}, which does not exist`);
      const copy: ParamState = {};
      for (const [key, v] of Object.entries(s)) {
        if (v instanceof Tensor) {
          if (v.shape.join() !== p.shape.join() && v.numel() !== 1) throw new Error(`${name}.loadStateDict: state '${key}' of parameter ${k} has shape [${v.shape}], the parameter [${p.shape}]`);
          copy[key] = keep(v.clone());
        } else copy[key] = v;
      }
      this.state.set(p, copy);
    }
  }
}
