// Object detection as a Task: boxes per image. Output: in training the FCOS
// head's dense maps with the points (FCOSOutputs), which only the loss reads;
// when predicting, `predict` runs the forward then FCOS's postprocessing
// (the config's `postprocess`: torchvision's or mmdet's test settings, NMS by
// src/ops batchedNms), so the prediction is a list of Detections per image
// (boxes xyxy in the batch's pixels, scores, labels) and TTA views and ensemble
// members merge boxes, not maps (./merge.ts: NMS, WBF, Soft-NMS). Targets: per
// image the boxes and labels (the training set without its crowd / difficult
// boxes: ./datasets.ts), and for the metric the ignore flags, COCO's areas,
// image ids and the stored sizes (./targets.ts). Metric: COCO bbox AP as
// pycocotools computes it, in the stored images' frame (AP, the primary
// metric, AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l). `arsenal test` writes
// the detections as a COCO results json and draws the first images
// (./outputs.ts). Pseudo-labelling (./pseudo.ts) keeps the boxes scoring at
// least a threshold; the student trains on the labelled images' true boxes and
// the kept images' pseudo-boxes (src/data/box_dataset.ts).
import { batchedNms } from '../../ops/nms.js';
import { buildDetectionModel, loadPretrained, describePretrained, loadBackbone, describeBackbone, type FCOS, type FCOSOptions, type FCOSOutputs } from '../../models/index.js';
import { fcosPostprocess, FCOS_POSTPROCESS_PRESETS, type FCOSPostprocessOptions } from '../../models/detection/fcos_postprocess.js';
import { COCO_STAT_NAMES, formatCocoSummary } from '../../metrics/coco_eval.js';
import type { DetectionTask, Detections } from '../task.js';
import { attachGradNorm } from '../grad_norm.js';
import { DETECTION, DET_MERGES, type DetectionConfig } from './config.js';
import { detectionDatasets } from './datasets.js';
import { buildDetLoss } from './loss.js';
import { invertDetections, mergeDetections, type DetMerge } from './merge.js';
import { DetectionMeter, detBatchTargets, detTargets, type DetTargets } from './targets.js';
import { detectionWriter } from './outputs.js';
import { selectPseudoBoxes, detectionPseudo } from './pseudo.js';

/** The FCOS postprocessing options of a config (its preset's values where it gives none). */
export function postprocessOptions(cfg: Pick<DetectionConfig, 'postprocess'> | undefined): FCOSPostprocessOptions {
  const p = cfg?.postprocess ?? {};
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as FCOSPostprocessOptions;
}

const resolved = (cfg: Pick<DetectionConfig, 'postprocess'> | undefined) => ({ ...FCOS_POSTPROCESS_PRESETS[cfg?.postprocess?.preset ?? 'torchvision'], ...postprocessOptions(cfg) });

/** torchvision's defaults for trainable_backbone_layers without pretrained weights (every stage), per backbone. */
const ALL_STAGES = (name: string) => (name.includes('mobilenet') ? 6 : 5);

export const detection: DetectionTask<DetectionConfig, FCOSOutputs | Detections[], DetTargets> = {
  name: 'detection',
  primaryMetric: 'AP',
  headlineMetrics: ['AP', 'AP50', 'AP75'],
  schema: DETECTION,
  merges: DET_MERGES,
  datasets: (cfg) => detectionDatasets(cfg.data),
  buildModel(cfg, info, log = () => {}) {
    const m = cfg.model;
    if (m.pretrained && m.backbonePretrained) throw new TypeError('config: model.pretrained (a whole FCOS) and model.backbonePretrained (a classifier\'s backbone) exclude each other; give one');
    // torchvision's fcos_resnet50_fpn: FrozenBatchNorm2d and 3 trainable stages with pretrained weights, BatchNorm2d and every stage without.
    const trained = !!(m.pretrained || m.backbonePretrained);
    const isResNet = !m.name.includes('mobilenet');
    const opts: FCOSOptions = {
      numClasses: info.classes.length, inChannels: info.inChannels, numConvs: m.numConvs, outChannels: m.outChannels,
      trainableBackboneLayers: m.trainableBackboneLayers ?? (trained ? 3 : ALL_STAGES(m.name)),
      ...(isResNet ? { normLayer: m.normLayer ?? (trained ? 'frozen' : 'batch'), width: m.width } : { widthMult: m.widthMult }),
    };
    if (!isResNet && m.normLayer !== undefined) throw new TypeError(`config.model.normLayer: ${m.name} has BatchNorm2d only (normLayer applies to the ResNet models)`);
    if (isResNet && m.widthMult !== undefined) throw new TypeError(`config.model.widthMult: applies to fcos_mobilenet_v3_large_fpn, not ${m.name} (use width)`);
    if (!isResNet && m.width !== undefined) throw new TypeError(`config.model.width: applies to the ResNet models, not ${m.name} (use widthMult)`);
    if (opts.normLayer === 'frozen' && !trained) log('note: model.normLayer \'frozen\' without pretrained weights: the backbone\'s norms stay the identity they start as (torchvision uses BatchNorm2d then)');
    let model: FCOS;
    try {
      model = buildDetectionModel(m.name, opts);
    } catch (e) {
      throw new TypeError(`config.model: ${(e as Error).message}`);
    }
    if (m.backbonePretrained) log(describeBackbone(m.backbonePretrained, loadBackbone(model, m.backbonePretrained)));
    // torchvision's keys; the class-score layer (head.classification_head.cls_logits) of another number of classes is skipped.
    if (m.pretrained) log(describePretrained(m.pretrained, loadPretrained(model, m.pretrained, { strict: false })));
    return model;
  },
  buildLoss(cfg, _info, model, log, ctx) {
    const l = cfg.loss ?? {};
    const loss = buildDetLoss(l, { centerSamplingRadius: (model as { centerSamplingRadius?: number }).centerSamplingRadius }, ctx);
    for (const line of loss.describe) log(line);
    // GradNorm balances at the FPN's P5 output conv (P6 and P7 come from it; every term reaches it) unless the config names one.
    attachGradNorm(loss, model, cfg.model.name, { ...l.gradNorm, parameter: l.gradNorm?.parameter ?? 'backbone.fpn.layer_blocks.2.0.weight' }, log);
    return loss;
  },
  batchTargets: detBatchTargets,
  targets: detTargets,
  // The forward, then FCOS's postprocessing with the config's test settings and src/ops' batched NMS.
  predict: (forward, x, cfg) => fcosPostprocess(forward(x) as FCOSOutputs, batchedNms, postprocessOptions(cfg)),
  // Predictions are already detections (predict); a bare output is postprocessed with torchvision's settings.
  decode: (o) => (Array.isArray(o) ? o : fcosPostprocess(o, batchedNms)),
  meter: (_cfg, info) => new DetectionMeter(info.classes.length),
  invert: (view, dets) => invertDetections(view, dets),
  merge: (preds, o) => {
    const r = resolved(o.cfg);
    return mergeDetections(preds, { how: o.how as DetMerge | undefined, weights: o.weights, boxMerge: o.cfg?.boxMerge, nmsThresh: r.nmsThresh, detectionsPerImg: r.detectionsPerImg });
  },
  describeMetrics: (m) => (COCO_STAT_NAMES.every((k) => typeof m[k] === 'number') ? formatCocoSummary(COCO_STAT_NAMES.map((k) => m[k])).split('\n') : []),
  predictionWriter: (_cfg, info, test, o) => detectionWriter(test, info.classes, o),
  selectPseudo: selectPseudoBoxes,
  pseudo: detectionPseudo,
};

export { DETECTION, DET_MERGES, DET_DATA, DET_MODEL, DET_LOSS, DET_POSTPROCESS, DET_BOX_MERGE, type DetectionConfig } from './config.js';
export { detectionDatasets, detectionSplit, WithoutIgnored, COCO_DEFAULTS } from './datasets.js';
export { buildDetLoss, DET_LOSS_TERMS } from './loss.js';
export { invertDetections, mergeDetections, type DetMerge, type BoxMergeOptions } from './merge.js';
export { DetectionMeter, detBatchTargets, detTargets, scaleBoxes, type DetTarget, type DetTargets, type DetExtras } from './targets.js';
export { detectionWriter, DEFAULT_DET_PANELS, DRAW_SCORE_THRESH, type DetectionResult } from './outputs.js';
export { selectPseudoBoxes, detectionPseudo, checkBoxSelection, MIN_PSEUDO_BOX_WH, PSEUDO_MATCH_IOU } from './pseudo.js';
