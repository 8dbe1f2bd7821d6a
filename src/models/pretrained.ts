// Loading pretrained weights from a safetensors state dict, keyed either as
// torchvision's (conv1.weight, layer1.0.bn1.running_mean, fc.weight) or as
// Arsenal's (backbone.conv1.weight, head.fc.weight). A classifier of another
// size (fine-tuning to a new number of classes: keys under head., or
// torchvision's classifier. and aux_classifier. of MobileNet and the
// segmentation models) is skipped, not an error.
import { existsSync } from 'node:fs';
import { Module } from '../nn/module.js';
import { frozenBnExtraKeys } from '../nn/layers/norm.js';
import { noGrad } from '../torch/runtime.js';
import { loadFile } from '../torch/safetensors.js';
import type { Tensor } from '../torch/tensor.js';

export interface LoadPretrainedOptions {
  /**
   * Default true: every model key must come from the file and every file key
   * must land in the model. Classifier keys skipped for their shape, and
   * num_batches_tracked absent from old torchvision checkpoints (PyTorch leaves
   * it as is, too), are allowed either way; a file's num_batches_tracked where
   * the model has a FrozenBatchNorm2d is dropped (torchvision's FrozenBatchNorm2d
   * drops it too).
   */
  strict?: boolean;
}

export interface LoadPretrainedResult {
  /** Model keys that received a tensor from the file. */
  loaded: string[];
  /** File keys not loaded: a classifier (head.*, classifier.*, aux_classifier.*) of another shape, or a key matching nothing in the model. */
  skipped: string[];
  /** Model keys the file has no tensor for (left as they were), num_batches_tracked aside. */
  missing: string[];
}

const PREFIXES = ['backbone.', 'head.'];
/** Model keys of class-score layers, whose shape follows the number of classes. */
const CLASSIFIER_PREFIXES = ['head.', 'classifier.', 'aux_classifier.'];

/** The model key a file key maps to: itself, with 'backbone.' / 'head.' added, or with one removed. */
function targetKey(k: string, own: Record<string, Tensor>): string | null {
  if (k in own) return k;
  for (const p of PREFIXES) if (p + k in own) return p + k;
  for (const p of PREFIXES) if (k.startsWith(p) && k.slice(p.length) in own) return k.slice(p.length);
  return null;
}

const shapeStr = (t: Tensor) => `[${t.shape.join(', ')}]`;

/**
 * Copies the tensors of a safetensors state dict into `model` in place (no
 * grad). Shapes must match, except for classifier keys (model keys under
 * 'head.', 'classifier.', 'aux_classifier.'), which are skipped and reported. Nothing is copied when an error is
 * thrown.
 */
export function loadPretrained(model: Module, file: string, opts: LoadPretrainedOptions = {}): LoadPretrainedResult {
  if (!(model instanceof Module)) throw new TypeError('loadPretrained: expected an nn.Module');
  if (typeof file !== 'string' || file === '') throw new TypeError('loadPretrained: expected a file path');
  const strict = opts.strict ?? true;
  if (!existsSync(file)) throw new Error(`loadPretrained: no such file '${file}'`);
  const sd = loadFile(file);
  try {
    const own = model.stateDict();
    const plan: [Tensor, Tensor][] = [];
    const loaded: string[] = [];
    const skipped: string[] = [];
    const unmatched: string[] = [];
    const taken = new Set<string>();
    const frozenExtras = new Set(frozenBnExtraKeys(own, sd));
    for (const [k, t] of Object.entries(sd)) {
      if (frozenExtras.has(k)) continue;
      const target = targetKey(k, own);
      if (target === null || taken.has(target)) {
        skipped.push(k);
        unmatched.push(k);
        continue;
      }
      taken.add(target);
      const mine = own[target];
      if (mine.shape.join(',') !== t.shape.join(',')) {
        if (CLASSIFIER_PREFIXES.some((p) => target.startsWith(p))) {
          skipped.push(k);
          continue;
        }
        throw new Error(`loadPretrained: '${k}' has shape ${shapeStr(t)} in '${file}' but the model's '${target}' is ${shapeStr(mine)}`);
      }
      plan.push([mine, t]);
      loaded.push(target);
    }
    const missing = Object.keys(own).filter((k) => !taken.has(k) && !k.endsWith('.num_batches_tracked') && k !== 'num_batches_tracked');
    if (strict && (missing.length > 0 || unmatched.length > 0)) {
      const list = (xs: string[]) => `${xs.slice(0, 8).join(', ')}${xs.length > 8 ? `, … (${xs.length} in all)` : ''}`;
      const parts: string[] = [];
      if (missing.length) parts.push(`missing from the file: ${list(missing)}`);
      if (unmatched.length) parts.push(`not in the model: ${list(unmatched)}`);
      throw new Error(`loadPretrained: '${file}' does not fit the model (${parts.join('; ')}); pass { strict: false } to load what matches`);
    }
    noGrad(() => {
      for (const [mine, t] of plan) mine.copy_(t);
    });
    return { loaded, skipped, missing };
  } finally {
    for (const t of Object.values(sd)) t.dispose();
  }
}

/** One log line of what loadPretrained did. */
export function describePretrained(file: string, r: LoadPretrainedResult): string {
  return `pretrained ${file}: loaded ${r.loaded.length} tensors${r.skipped.length ? `; skipped ${r.skipped.join(', ')}` : ''}${r.missing.length ? `; not in the file (kept as initialised): ${r.missing.slice(0, 8).join(', ')}${r.missing.length > 8 ? ', …' : ''}` : ''}`;
}
