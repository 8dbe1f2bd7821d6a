// Checkpoints: the model's weights as safetensors with PyTorch's keys (they load
// in PyTorch as they are), the other tensor state (optimizer moments, SWA/EMA
// weights, RNG) in a second safetensors file, and the rest as JSON. Each file
// is written to a temporary name and renamed; `latest.json`, written last,
// names a complete checkpoint, so a crash never leaves a torn one.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { safetensors } from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';

export interface CheckpointFiles { weights: string; state: string; meta: string }

export function checkpointFiles(dir: string, tag: string): CheckpointFiles {
  return { weights: join(dir, `${tag}.safetensors`), state: join(dir, `${tag}.state.safetensors`), meta: join(dir, `${tag}.json`) };
}

export function writeCheckpoint(dir: string, tag: string, weights: Record<string, Tensor>, state: Record<string, Tensor>, meta: Record<string, unknown>, latest = true): CheckpointFiles {
  const f = checkpointFiles(dir, tag);
  safetensors.saveFile(weights, f.weights);
  safetensors.saveFile(state, f.state);
  safetensors.writeAtomic(f.meta, JSON.stringify(meta));
  if (latest) safetensors.writeAtomic(join(dir, 'latest.json'), JSON.stringify({ tag }));
  return f;
}

export function latestTag(dir: string): string | null {
  const p = join(dir, 'latest.json');
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, 'utf8')).tag ?? null;
  } catch (e) {
    throw new Error(`checkpoint: '${p}' is corrupt (${(e as Error).message})`);
  }
}

export function readCheckpoint(dir: string, tag: string): { weights: Record<string, Tensor>; state: Record<string, Tensor>; meta: Record<string, any> } {
  const f = checkpointFiles(dir, tag);
  for (const p of Object.values(f)) if (!existsSync(p)) throw new Error(`checkpoint: '${p}' is missing`);
  let meta: Record<string, any>;
  try {
    meta = JSON.parse(readFileSync(f.meta, 'utf8'));
  } catch (e) {
    throw new Error(`checkpoint: '${f.meta}' is corrupt (${(e as Error).message})`);
  }
  return { weights: safetensors.loadFile(f.weights), state: safetensors.loadFile(f.state), meta };
}

/** Optimizer state as checkpoint tensors (`optimizer.<i>.<key>`) and JSON scalars. */
export function optimizerToCheckpoint(sd: { state: Record<string, Record<string, Tensor | number>>; param_groups: unknown }): { tensors: Record<string, Tensor>; meta: { param_groups: unknown; scalars: Record<string, Record<string, number>> } } {
  const tensors: Record<string, Tensor> = {};
  const scalars: Record<string, Record<string, number>> = {};
  for (const [i, s] of Object.entries(sd.state)) {
    for (const [k, v] of Object.entries(s)) {
      if (typeof v === 'number') (scalars[i] ??= {})[k] = v;
      else tensors[`optimizer.${i}.${k}`] = v;
    }
  }
  return { tensors, meta: { param_groups: sd.param_groups, scalars } };
}

/** The optimizer state dict back from checkpoint tensors and JSON. */
export function optimizerFromCheckpoint(state: Record<string, Tensor>, meta: { param_groups: any; scalars: Record<string, Record<string, number>> }): { state: Record<number, Record<string, Tensor | number>>; param_groups: any } {
  const opt: Record<number, Record<string, Tensor | number>> = {};
  for (const [i, s] of Object.entries(meta.scalars)) opt[Number(i)] = { ...s };
  for (const [k, v] of Object.entries(state)) {
    const m = /^optimizer\.(\d+)\.(.+)$/.exec(k);
    if (m) (opt[Number(m[1])] ??= {})[m[2]] = v;
  }
  return { state: opt, param_groups: meta.param_groups };
}

/** The tensors of `state` under `prefix.`, without the prefix. */
export function withPrefix(state: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(state)) if (k.startsWith(`${prefix}.`)) out[k.slice(prefix.length + 1)] = v;
  return out;
}
