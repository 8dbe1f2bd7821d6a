// Detection models by name, for configs: one table of builders (as
// ../segmentation.ts for segmentation), names as torchvision's
// (`<model>_<backbone>_fpn`). Every model's forward(x) gives its head's dense
// outputs with the points (FCOSOutputs); its loss and postprocessing are
// methods of the model.
import type { FCOS, FCOSOptions } from './fcos.js';
import { fcosResnet18Fpn, fcosResnet34Fpn, fcosResnet50Fpn, fcosResnet101Fpn, fcosMobileNetV3LargeFpn, FCOS_RESNET_OPTION_KEYS, FCOS_MOBILENET_OPTION_KEYS } from './fcos.js';

export type DetModelOptions = FCOSOptions;

interface Entry { build: (o: DetModelOptions) => FCOS; options: readonly string[] }

const DET_MODELS = {
  fcos_resnet50_fpn: { build: fcosResnet50Fpn, options: FCOS_RESNET_OPTION_KEYS },
  fcos_resnet101_fpn: { build: fcosResnet101Fpn, options: FCOS_RESNET_OPTION_KEYS },
  fcos_resnet34_fpn: { build: fcosResnet34Fpn, options: FCOS_RESNET_OPTION_KEYS },
  fcos_resnet18_fpn: { build: fcosResnet18Fpn, options: FCOS_RESNET_OPTION_KEYS },
  fcos_mobilenet_v3_large_fpn: { build: fcosMobileNetV3LargeFpn, options: FCOS_MOBILENET_OPTION_KEYS },
} satisfies Record<string, Entry>;

export type DetModelName = keyof typeof DET_MODELS;
/** The detection model names configs know. */
export const DET_MODEL_NAMES = Object.keys(DET_MODELS) as [DetModelName, ...DetModelName[]];

/** Builds a detection model by name; an option the model does not take is an error naming it. */
export function buildDetectionModel(name: string, opts: DetModelOptions = {}): FCOS {
  if (!Object.hasOwn(DET_MODELS, name)) throw new Error(`detection model: unknown '${name}' (valid: ${DET_MODEL_NAMES.join(', ')})`);
  const e: Entry = DET_MODELS[name as DetModelName];
  for (const [k, v] of Object.entries(opts ?? {})) {
    if (v !== undefined && !e.options.includes(k)) throw new TypeError(`detection model '${name}': option '${k}' does not apply (it takes ${e.options.join(', ')})`);
  }
  return e.build(opts ?? {});
}

export { FCOS, fcosResnet18Fpn, fcosResnet34Fpn, fcosResnet50Fpn, fcosResnet101Fpn, fcosMobileNetV3LargeFpn, FCOS_RESNET_OPTION_KEYS, FCOS_MOBILENET_OPTION_KEYS, type FCOSOptions, type FCOSOutputs } from './fcos.js';
export { FCOSHead, FCOSClassificationHead, FCOSRegressionHead, FCOS_HEAD_NORM_GROUPS, type FCOSHeadOutputs } from './fcos_head.js';
export { BackboneWithFPN, freezeResNetLayers, freezeMobileNetLayers } from './backbone_fpn.js';
export { fcosAnchors, FCOS_ANCHOR_SIZES } from './anchors.js';
export { BoxLinearCoder } from './box_coder.js';
export { fcosLoss, fcosMatch, type FCOSTarget, type FCOSLosses, type FCOSLossOptions, type FCOSLossInput } from './fcos_loss.js';
export {
  fcosCandidates, fcosPostprocess, FCOS_POSTPROCESS_PRESETS, type BatchedNms, type FCOSDetections, type FCOSPostprocessOptions,
  type FCOSPostprocessPreset, type FCOSPostprocessInput,
} from './fcos_postprocess.js';
