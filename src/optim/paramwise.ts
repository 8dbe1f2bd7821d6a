// Parameter groups from name rules, the way mmengine's
// DefaultOptimWrapperConstructor reads `paramwise_cfg`
// (mmengine/optim/optimizer/default_constructor.py):
//   customKeys: { backbone: { lrMult: 0.1, decayMult: 1 } }   -> lower LR for the backbone
//   normDecayMult: 0, biasDecayMult: 0                           -> no decay on norms and biases
// Differences from mmengine, on purpose: a custom key matches a name prefix
// ('backbone' matches 'backbone.conv1.weight') or, failing that, a substring
// (mmengine's rule); and the norm/bias rules compose with custom keys instead
// of being dropped by them (mmengine issue #846).
import type { Module } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import { BatchNorm2d, GroupNorm, LayerNorm } from '../nn/layers/norm.js';
import type { GroupSpec } from './optimizer.js';

export interface KeyRule { lrMult?: number; decayMult?: number }

export interface ParamwiseOptions {
  customKeys?: Record<string, KeyRule>;
  biasLrMult?: number;
  biasDecayMult?: number;
  normDecayMult?: number;
  /** Decay multiplier for 1-d parameters that are neither norms nor biases (mmengine flat_decay_mult). */
  flatDecayMult?: number;
}

const KNOWN = new Set(['customKeys', 'biasLrMult', 'biasDecayMult', 'normDecayMult', 'flatDecayMult']);

export interface GroupSummary { name: string; params: number; lrMult: number; decayMult: number; lr: number; weightDecay: number; examples: string[] }

function matchKey(name: string, keys: string[]): string | undefined {
  // Longest key first (mmengine sorts keys by length, reversed).
  for (const k of keys) if (name === k || name.startsWith(k + '.')) return k;
  for (const k of keys) if (name.includes(k)) return k;
  return undefined;
}

/**
 * Builds optimizer parameter groups from rules. Each group carries `lr`,
 * `weightDecay`, `lrMult` (so schedulers scale etaMin per group) and a `name`;
 * `summary` lists the groups so they can be logged.
 */
export function paramGroups(model: Module, base: { lr: number; weightDecay: number }, rules: ParamwiseOptions = {}): { groups: GroupSpec[]; summary: GroupSummary[] } {
  for (const k of Object.keys(rules)) if (!KNOWN.has(k)) throw new TypeError(`paramwise: unknown option '${k}' (expected ${[...KNOWN].join(', ')})`);
  const custom = rules.customKeys ?? {};
  for (const [k, r] of Object.entries(custom)) {
    for (const f of Object.keys(r)) if (f !== 'lrMult' && f !== 'decayMult') throw new TypeError(`paramwise: customKeys.${k}.${f} is unknown (expected lrMult, decayMult)`);
    for (const f of ['lrMult', 'decayMult'] as const) if (r[f] !== undefined && !(r[f]! >= 0)) throw new RangeError(`paramwise: customKeys.${k}.${f} must be >= 0`);
  }
  const keys = Object.keys(custom).sort().sort((a, b) => b.length - a.length);
  const normParams = new Set<Parameter>();
  for (const m of model.modules()) {
    if (m instanceof BatchNorm2d || m instanceof GroupNorm || m instanceof LayerNorm) for (const p of m.parameters(false)) normParams.add(p);
  }
  const byKey = new Map<string, { spec: GroupSpec; sum: GroupSummary }>();
  for (const [name, p] of model.namedParameters()) {
    const key = matchKey(name, keys);
    let lrMult = key ? custom[key].lrMult ?? 1 : 1;
    let decayMult = key ? custom[key].decayMult ?? 1 : 1;
    const isNorm = normParams.has(p);
    const isBias = !isNorm && name.endsWith('.bias') || name === 'bias';
    if (isNorm && rules.normDecayMult !== undefined) decayMult *= rules.normDecayMult;
    else if (isBias) {
      if (rules.biasLrMult !== undefined) lrMult *= rules.biasLrMult;
      if (rules.biasDecayMult !== undefined) decayMult *= rules.biasDecayMult;
    } else if (p.ndim === 1 && rules.flatDecayMult !== undefined) decayMult *= rules.flatDecayMult;
    const label = `${key ?? 'default'}${isNorm ? '/norm' : isBias ? '/bias' : ''}`;
    const id = `${lrMult}|${decayMult}|${label}`;
    let entry = byKey.get(id);
    if (!entry) {
      entry = {
        spec: { params: [], lr: base.lr * lrMult, weightDecay: base.weightDecay * decayMult, lrMult, name: label },
        sum: { name: label, params: 0, lrMult, decayMult, lr: base.lr * lrMult, weightDecay: base.weightDecay * decayMult, examples: [] },
      };
      byKey.set(id, entry);
    }
    entry.spec.params.push(p);
    entry.sum.params += 1;
    if (entry.sum.examples.length < 3) entry.sum.examples.push(name);
  }
  const list = [...byKey.values()];
  return { groups: list.map((e) => e.spec), summary: list.map((e) => e.sum) };
}
