// The classification loss of a config: the terms (cross-entropy, softmax
// focal, soft Dice) with label smoothing and class weights from the training
// set's counts, summed by a MultiLoss (fixed, uncertainty, DWA or GradNorm
// weighting). Cross-entropy and focal terms are means over the batch
// (PyTorch's `mean` reduction): with class weights and class-index targets
// the normaliser is the batch's weight sum Σ w_y, else the batch size. That
// normaliser goes through the LossContext: one process uses libtorch's fused
// mean; several divide their sum by the normaliser averaged over processes
// (mmdet's reduce_mean), so that with gradients averaged over P processes,
// P shards of B/P give the gradient of one batch of B. The batch soft Dice is
// a ratio of sums over a shard, computed per process (as mmseg's Dice is per GPU).
import * as torch from '../../torch/index.js';
import * as F from '../../torch/functional.js';
import type { Tensor } from '../../torch/tensor.js';
import { classWeights } from '../../losses/class_weights.js';
import { softmaxFocalLoss } from '../../losses/focal.js';
import { diceLoss } from '../../losses/dice.js';
import { MultiLoss } from '../../losses/multi_loss.js';
import { SINGLE_PROCESS, type LossContext, type TaskLoss } from '../task.js';
import type { LossConfig } from './config.js';

export interface ClassificationLoss extends TaskLoss<Tensor, Tensor> {
  /** Class weights in use (null: none). */
  classWeight: number[] | null;
}

export function buildLoss(l: LossConfig, counts: number[], classes: string[], ctx: LossContext = SINGLE_PROCESS): ClassificationLoss {
  const k = classes.length;
  const ls = l.labelSmoothing ?? 0;
  let cw: number[] | null = null;
  if (l.classWeight !== undefined) {
    cw = Array.isArray(l.classWeight) ? l.classWeight : classWeights(counts, l.classWeight, { beta: l.classWeightBeta });
    if (cw.length !== k) throw new TypeError(`config: loss.classWeight has ${cw.length} values, the dataset has ${k} classes`);
  }
  const weight = cw ? torch.tensor(cw, { dtype: 'float32' }).keep() : null;
  // Label smoothing for focal (cross-entropy smooths inside F.crossEntropy): y(1 − ε) + ε/K on soft targets.
  const smooth = (y: Tensor) => {
    if (ls === 0) return y;
    return (y.ndim === 1 ? F.oneHot(y, k).float() : y).mul(1 - ls).add(ls / k);
  };
  // A mean over the batch: the fused mean in one process; across processes, the sum over the normaliser averaged over them.
  const single = ctx.processes === 1;
  const normaliser = (y: Tensor) => (weight && y.ndim === 1 ? weight.indexSelect(0, y).sum() : torch.tensor([y.shape[0]], { dtype: 'float32' }).reshape([]));
  const mean = (sum: Tensor, y: Tensor) => sum.div(ctx.averageOverProcesses(normaliser(y)));
  const terms = (l.terms ?? [{ type: 'CrossEntropyLoss' as const }]).map((t) => ({
    name: t.name ?? t.type,
    weight: t.weight,
    fn: t.type === 'CrossEntropyLoss'
      ? (logits: Tensor, y: Tensor) => (single ? F.crossEntropy(logits, y, { weight, labelSmoothing: ls }) : mean(F.crossEntropy(logits, y, { weight, labelSmoothing: ls, reduction: 'sum' }), y))
      : t.type === 'FocalLoss'
        ? (logits: Tensor, y: Tensor) => {
          const ys = smooth(y);
          return single ? softmaxFocalLoss(logits, ys, { gamma: t.gamma ?? 2, weight }) : mean(softmaxFocalLoss(logits, ys, { gamma: t.gamma ?? 2, weight, reduction: 'sum' }), ys);
        }
        : (logits: Tensor, y: Tensor) => {
          if (y.ndim !== 1) throw new TypeError('loss: DiceLoss needs class-index targets; MixUp/CutMix soft targets cannot be scored by Dice');
          return diceLoss(logits.float(), y);
        },
  }));
  const multi = new MultiLoss<[Tensor, Tensor]>(terms, { weighting: l.weighting ?? 'fixed', gradNorm: l.gradNorm });
  const describe: string[] = [];
  if (terms.length > 1 || multi.weighting !== 'fixed' || terms[0].name !== 'CrossEntropyLoss') {
    describe.push(`loss: ${terms.map((t) => `${t.name}×${t.weight ?? 1}`).join(' + ')} (${multi.weighting} weighting)`);
  }
  if (cw) describe.push(`class weights (${Array.isArray(l.classWeight) ? 'given' : l.classWeight}): ${classes.map((c, i) => `${c} ${cw![i].toFixed(3)}`).join(', ')}`);
  return { multi, classWeight: cw, describe };
}
