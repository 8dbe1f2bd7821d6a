// Classification as a Task: a class per image. Output and prediction are
// logits [N,K] (after a TTA or ensemble merge, the log of the merged
// probabilities: softmax gives the probabilities back either way); targets are
// class indices int64 [N], or soft targets float [N,K] after MixUp/CutMix.
// Metrics: top-1 accuracy (the primary metric), balanced accuracy and the
// mean cross-entropy, streamed per batch.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/tensor.js';
import { crossEntropy } from '../../torch/functional.js';
import { buildModel, loadPretrained, describePretrained } from '../../models/index.js';
import { ClassificationMeter, type ClassificationMeterState } from '../../metrics/classification.js';
import { mergeProbs, MERGES, type Merge } from '../../infer/merge.js';
import type { Task, Meter } from '../task.js';
import { CLASSIFICATION, lossOptions, type ClassificationConfig } from './config.js';
import { buildDatasets } from './datasets.js';
import { buildLoss } from './loss.js';
import { attachGradNorm } from '../grad_norm.js';
import { selectPseudoLabels, classificationPseudo } from './pseudo.js';

class ClassificationTaskMeter implements Meter<Tensor, Tensor, ClassificationMeterState> {
  private readonly m: ClassificationMeter;
  constructor(numClasses: number) { this.m = new ClassificationMeter(numClasses); }
  update(logits: Tensor, labels: Tensor): void {
    torch.noGrad(() => torch.scope(() => this.m.update(logits, labels, crossEntropy(logits, labels).item())));
  }
  compute(): Record<string, number> { return this.m.summary(); }
  state(): ClassificationMeterState { return this.m.state(); }
  merge(s: ClassificationMeterState): void { this.m.merge(s); }
}

export const classification: Task<ClassificationConfig, Tensor, Tensor, Tensor> = {
  name: 'classification',
  primaryMetric: 'accuracy',
  headlineMetrics: ['accuracy', 'balancedAccuracy'],
  schema: CLASSIFICATION,
  merges: MERGES,
  datasets: (cfg) => buildDatasets(cfg.data),
  buildModel(cfg, info, log = () => {}) {
    const { pretrained, ...modelCfg } = cfg.model;
    const model = buildModel({ ...modelCfg, numClasses: info.classes.length, inChannels: info.inChannels });
    if (pretrained) {
      const r = loadPretrained(model, pretrained, { strict: false });
      log(describePretrained(pretrained, r));
    }
    return model;
  },
  buildLoss(cfg, info, model, log, ctx) {
    const l = lossOptions(cfg.loss);
    const loss = buildLoss(l, info.classCounts, info.classes, ctx);
    for (const line of loss.describe) log(line);
    attachGradNorm(loss, model, cfg.model.name, l.gradNorm, log);
    return loss;
  },
  batchTargets: (b) => ({ labels: b.labels }),
  targets(b) {
    if (!b.labels) throw new TypeError('classification: the batch has no labels');
    return b.labels;
  },
  decode: (logits) => logits,
  meter: (_cfg, info) => new ClassificationTaskMeter(info.classes.length),
  // An image-level prediction does not move with the pixels.
  invert: (_view, logits) => logits,
  merge: (logits, o) => mergeProbs(logits, { how: o.how as Merge | undefined, weights: o.weights }).clamp(1e-12).log(),
  selectPseudo: selectPseudoLabels,
  pseudo: classificationPseudo,
};

export { CLASSIFICATION, lossOptions, type ClassificationConfig } from './config.js';
export type { DataConfig, ModelConfig, LossConfig, LossTermConfig } from './config.js';
export { buildDatasets } from './datasets.js';
export { buildLoss, type ClassificationLoss } from './loss.js';
export { selectConfident, stratifiedSplit, classificationPseudo } from './pseudo.js';
