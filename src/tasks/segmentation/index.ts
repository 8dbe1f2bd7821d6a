// Semantic segmentation as a Task: a class per pixel, 255 = ignore (mmseg).
// Output and prediction: scores [N,K,H,W] at the input's size (after a TTA or
// ensemble merge, the log of the merged probabilities); targets: masks int64
// [N,H,W]. Metrics: mmseg's IoUMetric streamed over the test set (mIoU, the
// primary metric; aAcc, mAcc, mDice, mFscore), accumulated per class over the
// whole dataset. TTA views are inverted pixel by pixel (a flipped prediction
// flipped back) and merged as probabilities, as mmseg's TTA does; ensembles
// merge the same way. Pseudo-masks keep the pixels whose confidence reaches
// the threshold and mark the others 255.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { SegmentationMeter, type SegmentationMeterState } from '../../metrics/segmentation.js';
import { mergeProbs, type Merge } from '../../infer/merge.js';
import { segmentationFolder } from '../../data/segmentation_folder.js';
import { buildSegmentationModel, loadPretrained, describePretrained } from '../../models/index.js';
import type { Meter, SegmentationTask } from '../task.js';
import { SEGMENTATION, SEG_MERGES, segLossOptions, type SegmentationConfig } from './config.js';
import { buildSegLoss, IGNORE } from './loss.js';
import { attachGradNorm } from '../grad_norm.js';

class SegmentationTaskMeter implements Meter<Tensor, Tensor, SegmentationMeterState> {
  private readonly m: SegmentationMeter;
  constructor(numClasses: number) { this.m = new SegmentationMeter(numClasses, { ignoreIndex: IGNORE }); }
  update(scores: Tensor, masks: Tensor): void { torch.noGrad(() => torch.scope(() => this.m.update(scores, masks))); }
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
      train: await segmentationFolder(d.root, { ...o, split: (d.trainSplit ?? 'train') as 'train' | 'val' }),
      test: await segmentationFolder(d.root, { ...o, split: (d.testSplit ?? 'val') as 'train' | 'val' }),
    };
  },
  buildModel(cfg, info, log = () => {}) {
    const m = cfg.model;
    const model = buildSegmentationModel(m.name, { numClasses: info.classes.length, inChannels: info.inChannels, widthMult: m.widthMult, width: m.width, outputStride: m.outputStride, auxLoss: m.auxLoss });
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
    return b.masks;
  },
  decode: (scores) => scores,
  meter: (_cfg, info) => new SegmentationTaskMeter(info.classes.length),
  // A dense prediction moves with the pixels: the view's own inverse (flip back, shift back, resize back).
  invert: (view, scores) => view.invert(scores),
  merge: (scores, o) => mergeProbs(scores, { how: o.how as Merge | undefined, weights: o.weights }).clamp(1e-12).log(),
  selectPseudo(scores, o) {
    if (o.topK !== undefined || o.soft) throw new TypeError('segmentation: pseudo-masks take a per-pixel confidence threshold (no topK, no soft targets)');
    const probs = scores.softmax(1);
    const [conf, cls] = [probs.amax(1), probs.argmax(1)];
    const masks = torch.where(conf.ge(o.threshold ?? 0.9), cls, IGNORE);
    // Images with at least one confident pixel.
    const kept = masks.ne(IGNORE).reshape(masks.shape[0], -1).any(1);
    const indices = (kept.toArray() as boolean[]).flatMap((k, i) => (k ? [i] : []));
    return { indices, targets: masks.indexSelect(0, torch.tensor(Int32Array.from(indices)).long()) };
  },
};

export { SEGMENTATION, SEG_MERGES, type SegmentationConfig } from './config.js';
export { buildSegLoss, type SegOutput } from './loss.js';
