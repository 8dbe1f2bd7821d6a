// A classifier's backbone into a dense model's backbone: what torchvision's
// segmentation builders do with `weights_backbone` (the ImageNet classifier's
// features.* / conv1…layer4 land in the model's backbone.*, the classifier is
// dropped), for a classifier trained here. Any model whose backbone tensors sit
// under `backbone.` takes it (segmentation now, detection later).
//
// The classifier's naming is told from its keys:
//   'mobilenet'   torchvision's MobileNetV3 (and Arsenal's, the same keys): features.<i>.* → backbone.<i>.*; classifier.* dropped
//   'arsenal'     Arsenal's ResNet: backbone.* → backbone.*; head.* dropped
//   'torchvision' torchvision's ResNet: conv1.*, bn1.*, layerN.* → backbone.*; fc.* dropped
// Dilation does not change a weight's shape (torchvision's dilated MobileNetV3
// and ResNet take the undilated classifier's weights as they are).
//
// Strict, the other way from fine-tuning's loadPretrained: every backbone key
// must come from the file with its shape, and every file key outside the
// dropped classifier must land in the backbone, or it is an error naming the
// keys (a silent partial load trains a half-random backbone at a tenth of the
// head's lr). `num_batches_tracked` may be absent (old torchvision checkpoints;
// PyTorch's BatchNorm keeps its value too), and is dropped where the model has
// a FrozenBatchNorm2d (torchvision's drops it). A model whose classifier
// backbone sits elsewhere says where by a `backbonePrefix` property (FCOS:
// 'backbone.body.', torchvision's BackboneWithFPN).
import { existsSync } from 'node:fs';
import { Module, type StateDict } from '../nn/module.js';
import { frozenBnExtraKeys } from '../nn/layers/norm.js';
import { noGrad } from '../torch/runtime.js';
import { loadFile } from '../torch/safetensors.js';
import type { Tensor } from '../torch/tensor.js';

export type BackboneNaming = 'mobilenet' | 'arsenal' | 'torchvision';

export interface BackboneTransferResult {
  naming: BackboneNaming;
  /** The model's keys that received a tensor, in the file's order. */
  loaded: string[];
  /** The classifier's keys left out (its head). */
  dropped: string[];
}

const PREFIX = 'backbone.';
const NAMINGS: Record<BackboneNaming, { from: string; drop: string; what: string }> = {
  mobilenet: { from: 'features.', drop: 'classifier.', what: "MobileNetV3 classifier keys (features.* → backbone.*, classifier.* dropped)" },
  arsenal: { from: 'backbone.', drop: 'head.', what: "Arsenal's ResNet keys (backbone.*, head.* dropped)" },
  torchvision: { from: '', drop: 'fc.', what: "torchvision's ResNet keys (conv1…layer4 → backbone.*, fc.* dropped)" },
};

/** The naming of a classifier's state dict, from its keys. */
export function backboneNaming(keys: readonly string[]): BackboneNaming {
  if (keys.some((k) => k.startsWith('features.'))) return 'mobilenet';
  if (keys.some((k) => k.startsWith('backbone.'))) return 'arsenal';
  return 'torchvision';
}

/**
 * The model key each classifier key maps to: 'backbone.' + the key without
 * the naming's backbone prefix; null for the classifier's keys (dropped);
 * undefined for a key that is neither (loadBackbone reports it as unexpected).
 */
export function backboneKeyMap(keys: readonly string[], naming = backboneNaming(keys), prefix = PREFIX): Map<string, string | null | undefined> {
  const n = NAMINGS[naming];
  return new Map(keys.map((k): [string, string | null | undefined] => {
    if (k.startsWith(n.drop)) return [k, null];
    if (k.startsWith(n.from)) return [k, prefix + k.slice(n.from.length)];
    return [k, undefined];
  }));
}

const shapeStr = (t: Tensor) => `[${t.shape.join(', ')}]`;
const optional = (k: string) => k.endsWith('.num_batches_tracked');
const list = (xs: string[]) => `${xs.slice(0, 8).join(', ')}${xs.length > 8 ? `, … (${xs.length} in all)` : ''}`;

/**
 * Copies a classifier's backbone (a state dict, or a safetensors file) into
 * `model`'s tensors under 'backbone.', in place (no grad). Every backbone key
 * must be found with its shape and every non-classifier key of the dict must
 * land: otherwise an Error naming the keys, and nothing is copied.
 */
export function loadBackbone(model: Module, source: string | StateDict, opts: { source?: string } = {}): BackboneTransferResult {
  if (!(model instanceof Module)) throw new TypeError('loadBackbone: expected an nn.Module');
  const fromFile = typeof source === 'string';
  const where = fromFile ? `'${source}'` : opts.source ? `'${opts.source}'` : 'the state dict';
  if (fromFile && (source === '' || !existsSync(source))) throw new Error(`backbonePretrained: no such file '${source}'`);
  if (!fromFile && (typeof source !== 'object' || source === null)) throw new TypeError('loadBackbone: expected a file path or a state dict');
  const sd = fromFile ? loadFile(source) : source;
  const prefix = (model as { backbonePrefix?: string }).backbonePrefix ?? PREFIX;
  try {
    const own = Object.fromEntries(Object.entries(model.stateDict()).filter(([k]) => k.startsWith(prefix)));
    if (Object.keys(own).length === 0) throw new Error(`backbonePretrained: the model has no '${prefix}' tensors to load ${where} into`);
    const naming = backboneNaming(Object.keys(sd));
    const map = backboneKeyMap(Object.keys(sd), naming, prefix);
    const frozenExtras = new Set(frozenBnExtraKeys(own, Object.fromEntries([...map].filter(([, t]) => t).map(([k, t]) => [t!, sd[k]]))));
    const plan: [Tensor, Tensor][] = [];
    const loaded: string[] = [], dropped: string[] = [], unexpected: string[] = [];
    for (const [k, target] of map) {
      if (target === null) { dropped.push(k); continue; }
      if (target !== undefined && frozenExtras.has(target)) continue;
      if (target === undefined || !(target in own)) { unexpected.push(k); continue; }
      const [mine, t] = [own[target], sd[k]];
      if (mine.shape.join(',') !== t.shape.join(','))
        throw new Error(`backbonePretrained: '${k}' has shape ${shapeStr(t)} in ${where} but the model's '${target}' is ${shapeStr(mine)} (a classifier of another width or depth?)`);
      plan.push([mine, t]);
      loaded.push(target);
    }
    const got = new Set(loaded);
    const missing = Object.keys(own).filter((k) => !got.has(k) && !optional(k));
    if (missing.length || unexpected.length) {
      const parts: string[] = [];
      if (missing.length) parts.push(`backbone keys not in the file: ${list(missing)}`);
      if (unexpected.length) parts.push(`file keys not in the backbone: ${list(unexpected)}`);
      throw new Error(`backbonePretrained: ${where} (read as ${NAMINGS[naming].what}) does not fit the model's backbone (${parts.join('; ')})`);
    }
    noGrad(() => {
      for (const [mine, t] of plan) mine.copy_(t);
    });
    return { naming, loaded, dropped };
  } finally {
    if (fromFile) for (const t of Object.values(sd)) t.dispose();
  }
}

/** One log line of what loadBackbone did. */
export function describeBackbone(file: string, r: BackboneTransferResult): string {
  return `backbonePretrained ${file}: loaded ${r.loaded.length} backbone tensors (${NAMINGS[r.naming].what}); dropped ${r.dropped.length} classifier tensors${r.dropped.length ? ` (${list(r.dropped)})` : ''}`;
}
