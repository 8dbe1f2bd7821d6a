// Models by name, for configs: buildModel({ name: 'resnet50', numClasses: 10, pretrained: 'r50.safetensors' }).
// One table of builders with the options each takes, so an option a model does
// not take is an error naming it.
import type { Module } from '../nn/module.js';
import { resnet18, resnet34, resnet50, RESNET_OPTION_KEYS, type ResNetOptions } from './backbones/resnet.js';
import { mobileNetV3Large } from './backbones/mobilenet_v3.js';
import { loadPretrained } from './pretrained.js';

export interface BuildModelOptions extends ResNetOptions {
  name: ModelName;
  /** MobileNetV3's width multiplier (torchvision width_mult; 1). */
  widthMult?: number;
  /** A safetensors state dict (torchvision's or Arsenal's keys) loaded with loadPretrained; a classifier of another size is skipped. */
  pretrained?: string;
}

type Opts = Omit<BuildModelOptions, 'name' | 'pretrained'>;
interface Entry { build: (o: Opts) => Module; options: readonly string[] }

const MODELS = {
  resnet18: { build: (o: Opts) => resnet18(o), options: RESNET_OPTION_KEYS },
  resnet34: { build: (o: Opts) => resnet34(o), options: RESNET_OPTION_KEYS },
  resnet50: { build: (o: Opts) => resnet50(o), options: RESNET_OPTION_KEYS },
  // torchvision.models.mobilenet_v3_large: `features.*`, `classifier.0/3.*`; dropRate is its `dropout` (default 0.2, torchvision's).
  mobilenet_v3_large: {
    build: ({ dropRate, ...o }: Opts) => mobileNetV3Large({ ...o, ...(dropRate !== undefined ? { dropout: dropRate } : {}) }),
    options: ['numClasses', 'inChannels', 'widthMult', 'dropRate'],
  },
} satisfies Record<string, Entry>;

/** The model names configs and buildModel know (one list: the config schema and the registry read it). */
export const MODEL_NAMES = Object.keys(MODELS) as [keyof typeof MODELS, ...(keyof typeof MODELS)[]];
export type ModelName = keyof typeof MODELS;

/** The names buildModel knows. */
export function modelNames(): string[] {
  return [...MODEL_NAMES];
}

/** Builds a model from a config; unknown names and option keys are errors naming them. */
export function buildModel(cfg: BuildModelOptions): Module {
  if (typeof cfg !== 'object' || cfg === null) throw new TypeError('buildModel: expected a config object { name, ... }');
  const { name, pretrained, ...opts } = cfg;
  if (typeof name !== 'string' || !Object.hasOwn(MODELS, name))
    throw new Error(`buildModel: unknown model '${String(name)}' (valid: ${modelNames().join(', ')})`);
  const e: Entry = MODELS[name];
  const valid = ['name', 'pretrained', ...e.options];
  for (const [k, v] of Object.entries(opts)) {
    if (v !== undefined && !valid.includes(k)) throw new Error(`buildModel: unknown option '${k}' for '${name}' (valid: ${valid.join(', ')})`);
  }
  if (pretrained !== undefined && (typeof pretrained !== 'string' || pretrained === ''))
    throw new TypeError(`buildModel: pretrained must be a file path, got ${JSON.stringify(pretrained)}`);
  const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as Opts;
  const model = e.build(defined);
  if (pretrained !== undefined) loadPretrained(model, pretrained);
  return model;
}
