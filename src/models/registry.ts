// Models by name, for configs: buildModel({ name: 'resnet50', numClasses: 10, pretrained: 'r50.safetensors' }).
import type { Module } from '../nn/module.js';
import { resnet18, resnet34, resnet50, RESNET_OPTION_KEYS, type ResNet, type ResNetOptions } from './backbones/resnet.js';
import { loadPretrained } from './pretrained.js';

/** The model names configs and buildModel know (one list: the config schema and the registry read it). */
export const MODEL_NAMES = ['resnet18', 'resnet34', 'resnet50'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
const BUILDERS: Record<ModelName, (opts: ResNetOptions) => ResNet> = { resnet18, resnet34, resnet50 };

export interface BuildModelOptions extends ResNetOptions {
  name: ModelName;
  /** A safetensors state dict (torchvision's or Arsenal's keys) loaded with loadPretrained; a classifier of another size is skipped. */
  pretrained?: string;
}

/** The names buildModel knows. */
export function modelNames(): string[] {
  return [...MODEL_NAMES];
}

/** Builds a model from a config; unknown names and option keys are errors naming them. */
export function buildModel(cfg: BuildModelOptions): Module {
  if (typeof cfg !== 'object' || cfg === null) throw new TypeError('buildModel: expected a config object { name, ... }');
  const { name, pretrained, ...opts } = cfg;
  if (typeof name !== 'string' || !Object.hasOwn(BUILDERS, name))
    throw new Error(`buildModel: unknown model '${String(name)}' (valid: ${modelNames().join(', ')})`);
  const valid = ['name', 'pretrained', ...RESNET_OPTION_KEYS];
  for (const k of Object.keys(opts)) {
    if (!valid.includes(k)) throw new Error(`buildModel: unknown option '${k}' for '${name}' (valid: ${valid.join(', ')})`);
  }
  if (pretrained !== undefined && (typeof pretrained !== 'string' || pretrained === ''))
    throw new TypeError(`buildModel: pretrained must be a file path, got ${JSON.stringify(pretrained)}`);
  const model = BUILDERS[name as ModelName](opts);
  if (pretrained !== undefined) loadPretrained(model, pretrained);
  return model;
}
