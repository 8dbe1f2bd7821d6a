// Segmentation models by name, for configs: one table of builders, so the
// config's schema (its list of names) and the task read the same list. Names
// are torchvision's (`<head>_<backbone>`: fcn_resnet50, deeplabv3_resnet50,
// lraspp_mobilenet_v3_large) and mmseg-style ones for heads torchvision lacks.
// Every model's forward(x) gives logits [N, K, H, W] at the input's size; a
// model built with `auxLoss` gives { out, aux } in training mode (torchvision's
// result dict) and `out` alone in eval mode.
import type { Module } from '../nn/module.js';
import { lrasppMobileNetV3Large } from './heads/lraspp.js';
import { unetResNet18, unetResNet34 } from './heads/unet.js';
import { fpnResNet18, fpnResNet50 } from './heads/fpn_head.js';
import * as seg from './heads/segmentation_model.js';

export interface SegModelOptions {
  /** Classes, background included. */
  numClasses: number;
  /** Input channels (3). */
  inChannels?: number;
  /** MobileNetV3's width multiplier (torchvision width_mult; 1). */
  widthMult?: number;
  /** ResNet's base width (64): narrow models for tests and fixtures. */
  width?: number;
  /** Output stride of a dilated ResNet: 8 (torchvision: replace_stride_with_dilation [False, True, True]) or 16 ([False, False, True]). */
  outputStride?: number;
  /** An auxiliary FCN head on the stage before the last (torchvision aux_loss). */
  auxLoss?: boolean;
}

const RESNET_SEG_OPTIONS = ['numClasses', 'inChannels', 'width'] as const;
const resnetOpts = (o: SegModelOptions) => ({ numClasses: o.numClasses, inChannels: o.inChannels ?? 3, width: o.width ?? 64 });

interface Entry { build: (o: SegModelOptions) => Module; options: readonly (keyof SegModelOptions)[] }

const DILATED_RESNET_OPTIONS = ['numClasses', 'inChannels', 'width', 'outputStride', 'auxLoss'] as const;

const SEG_MODELS = {
  lraspp_mobilenet_v3_large: {
    build: (o: SegModelOptions) => lrasppMobileNetV3Large({ numClasses: o.numClasses, inChannels: o.inChannels ?? 3, ...(o.widthMult ? { widthMult: o.widthMult } : {}) }),
    options: ['numClasses', 'inChannels', 'widthMult'],
  },
  // U-Net on torchvision's ResNet (smp.Unet's decoder; H, W divisible by 32): heads/unet.ts.
  unet_resnet18: { build: (o: SegModelOptions) => unetResNet18(resnetOpts(o)), options: RESNET_SEG_OPTIONS },
  unet_resnet34: { build: (o: SegModelOptions) => unetResNet34(resnetOpts(o)), options: RESNET_SEG_OPTIONS },
  // Semantic FPN (mmseg's "fpn", configs/_base_/models/fpn_r50.py): heads/fpn_head.ts.
  fpn_resnet18: { build: (o: SegModelOptions) => fpnResNet18(resnetOpts(o)), options: RESNET_SEG_OPTIONS },
  fpn_resnet50: { build: (o: SegModelOptions) => fpnResNet50(resnetOpts(o)), options: RESNET_SEG_OPTIONS },
  // FCN and DeepLabV3 (torchvision's; the ResNet-18 ones dilated as mmseg's), with an optional aux head: heads/segmentation_model.ts.
  fcn_resnet50: { build: seg.fcnResnet50, options: DILATED_RESNET_OPTIONS },
  fcn_resnet101: { build: seg.fcnResnet101, options: DILATED_RESNET_OPTIONS },
  fcn_resnet18: { build: seg.fcnResnet18, options: DILATED_RESNET_OPTIONS },
  deeplabv3_resnet50: { build: seg.deeplabv3Resnet50, options: DILATED_RESNET_OPTIONS },
  deeplabv3_resnet101: { build: seg.deeplabv3Resnet101, options: DILATED_RESNET_OPTIONS },
  deeplabv3_resnet18: { build: seg.deeplabv3Resnet18, options: DILATED_RESNET_OPTIONS },
  deeplabv3_mobilenet_v3_large: { build: seg.deeplabv3MobileNetV3Large, options: ['numClasses', 'inChannels', 'widthMult', 'auxLoss'] },
} satisfies Record<string, Entry>;

export type SegModelName = keyof typeof SEG_MODELS;
/** The segmentation model names configs know. */
export const SEG_MODEL_NAMES = Object.keys(SEG_MODELS) as [SegModelName, ...SegModelName[]];

/** Builds a segmentation model by name; an option the model does not take is an error naming it (undefined, or false for a switch, is not given). */
export function buildSegmentationModel(name: string, opts: SegModelOptions): Module {
  if (!Object.hasOwn(SEG_MODELS, name)) throw new Error(`segmentation model: unknown '${name}' (valid: ${SEG_MODEL_NAMES.join(', ')})`);
  const e: Entry = SEG_MODELS[name as SegModelName];
  for (const [k, v] of Object.entries(opts)) {
    if (v !== undefined && v !== false && !e.options.includes(k as keyof SegModelOptions)) throw new TypeError(`segmentation model '${name}': option '${k}' does not apply (it takes ${e.options.join(', ')})`);
  }
  return e.build(opts);
}
