// Semantic segmentation as a Task: a class per pixel, 255 = ignore (mmseg).
// Output and prediction: scores [N,K,H,W] at the input's size (after a TTA or
// ensemble merge, the log of the merged probabilities; in training, a model
// with an auxiliary head gives { out, aux }, which only the loss reads); targets: masks int64
// [N,H,W], or after MixUp both mask sets and λ (./loss.ts mixes each term). Metrics: mmseg's IoUMetric streamed over the test set (mIoU, the
// primary metric; aAcc, mAcc, mDice, mFscore), accumulated per class over the
// whole dataset. TTA views are inverted pixel by pixel (a flipped prediction
// flipped back) and merged as probabilities, as mmseg's TTA does; ensembles
// merge the same way. Evaluation runs the whole image or slides windows
// (config `inference`, mmseg's test_cfg), each TTA view slid. Pseudo-masks
// keep the pixels whose confidence reaches the threshold and mark the others
// 255 (./pseudo.ts).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { SegmentationMeter, type SegmentationMeterState } from '../../metrics/segmentation.js';
import { mergeProbs, type Merge } from '../../infer/merge.js';
import { slideInference } from '../../infer/slide.js';
import { segmentationFolder } from '../../data/segmentation_folder.js';
import { buildSegmentationModel, loadPretrained, describePretrained, loadBackbone, describeBackbone } from '../../models/index.js';
import type { Meter, MixedMasks, SegmentationTask } from '../task.js';
import { SEGMENTATION, SEG_MERGES, segLossOptions, type SegmentationConfig } from './config.js';
import { buildSegLoss, isMixed } from './loss.js';
import { IGNORE_INDEX } from '../../data/sample.js';
import { attachGradNorm } from '../grad_norm.js';
import { segmentationWriter, groundTruth } from './outputs.js';
import { selectPseudoMasks, segmentationPseudo } from './pseudo.js';

class SegmentationTaskMeter implements Meter<Tensor, Tensor | MixedMasks, SegmentationMeterState> {
  private readonly m: SegmentationMeter;
  constructor(numClasses: number) { this.m = new SegmentationMeter(numClasses, { ignoreIndex: IGNORE_INDEX }); }
  update(scores: Tensor, masks: Tensor | MixedMasks): void {
    if (isMixed(masks)) throw new TypeError('segmentation: the metric takes one mask per image, not MixUp-ed targets');
    torch.noGrad(() => torch.scope(() => this.m.update(scores, masks)));
  }
  compute(): Record<string, number> { return { ...this.m.compute() }; }
  state(): SegmentationMeterState { return this.m.state(); }
  merge(s: SegmentationMeterState): void { this.m.merge(s); }
}

export const segmentation: SegmentationTask<SegmentationConfig> = {
  name: 'segmentation',
  primaryMetric: 'mIoU',
  headlineMetrics: ['mIoU', 'mAcc', 'aAcc'],
  schema: SEGMENTATION,
  merges: SEG_MERGES,
  async datasets(cfg) {
    const d = cfg.data;
    const o = { layout: d.dataset, classes: d.classes, reduceZeroLabel: d.reduceZeroLabel, ...(d.imageSize ? { imageSize: d.imageSize as [number, number] } : {}) };
    return {
      train: await segmentationFolder(d.root, { ...o, split: (d.trainSplit ?? 'train') as 'train' | 'val', ...(d.trainSubset ? { limit: d.trainSubset } : {}) }),
      test: await segmentationFolder(d.root, { ...o, split: (d.testSplit ?? 'val') as 'train' | 'val', ...(d.testSubset ? { limit: d.testSubset } : {}) }),
    };
  },
  buildModel(cfg, info, log = () => {}) {
    const m = cfg.model;
    if (m.pretrained && m.backbonePretrained) throw new TypeError('config: model.pretrained (a whole segmentation model) and model.backbonePretrained (a classifier\'s backbone) exclude each other; give one');
    const model = buildSegmentationModel(m.name, { numClasses: info.classes.length, inChannels: info.inChannels, widthMult: m.widthMult, width: m.width, outputStride: m.outputStride, auxLoss: m.auxLoss });
    if (m.backbonePretrained) log(describeBackbone(m.backbonePretrained, loadBackbone(model, m.backbonePretrained)));
    if (cfg.model.pretrained) {
      // torchvision's keys; the class-score layers of another number of classes are skipped (fine-tuning).
      const r = loadPretrained(model, cfg.model.pretrained, { strict: false });
      log(describePretrained(cfg.model.pretrained, r));
    }
    return model;
  },
  buildLoss(cfg, info, model, log, ctx) {
    const l = segLossOptions(cfg.loss);
    const loss = buildSegLoss(l, info.classCounts, info.classes, ctx, { auxLoss: cfg.model.auxLoss });
    for (const line of loss.describe) log(line);
    attachGradNorm(loss, model, cfg.model.name, l.gradNorm, log);
    return loss;
  },
  batchTargets: (b) => ({ masks: b.masks }),
  targets(b) {
    if (!b.masks) throw new TypeError('segmentation: the batch has no masks');
    if (!b.masks2) return b.masks;
    // MixUp (mode 'batch'): one λ for the batch.
    const lam = b.lam ? Array.from(b.lam.toArray() as number[]) : [];
    if (lam.length !== b.masks.shape[0] || lam.some((l) => l !== lam[0])) throw new TypeError(`segmentation: MixUp-ed masks need one λ per image, all equal (mode 'batch'), got [${lam}]`);
    return { masks: b.masks, masks2: b.masks2, lam: lam[0] };
  },
  // mmseg's test_cfg: mode 'whole' (one forward) or 'slide' (windows, overlaps averaged).
  predict(forward, x, cfg) {
    const i = cfg.inference;
    return i?.mode === 'slide' ? slideInference(forward, x, { crop: i.crop, stride: i.stride }) : forward(x);
  },
  decode: (scores) => scores,
  meter: (_cfg, info) => new SegmentationTaskMeter(info.classes.length),
  // A dense prediction moves with the pixels: the view's own inverse (flip back, shift back, resize back).
  invert: (view, scores) => view.invert(scores),
  merge: (scores, o) => mergeProbs(scores, { how: o.how as Merge | undefined, weights: o.weights }).clamp(1e-12).log(),
  // arsenal test: palette PNG masks named as the ground truth's, and image | truth | prediction panels (./outputs.ts).
  predictionWriter: (cfg, info, test, o) => segmentationWriter(test, info.classes, o, groundTruth(cfg.data)),
  selectPseudo: selectPseudoMasks,
  pseudo: segmentationPseudo,
};

export { SEGMENTATION, SEG_MERGES, type SegmentationConfig } from './config.js';
export { buildSegLoss } from './loss.js';
export { segmentationWriter, DEFAULT_PANELS } from './outputs.js';
export { selectPseudoMasks, randomSplit, segmentationPseudo } from './pseudo.js';
