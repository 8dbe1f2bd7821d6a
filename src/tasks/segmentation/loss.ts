// The segmentation loss of a config: named terms — cross-entropy with
// ignore 255 and class weights together (mmseg's normaliser by default,
// PyTorch's weighted mean on request), softmax focal, ignore-aware soft Dice
// and Lovász-softmax — summed by a MultiLoss (fixed, uncertainty, DWA or
// GradNorm weighting). Class weights come from the training set's pixel
// counts. The means of cross-entropy and focal divide by a batch-dependent
// normaliser (pixels, or their weights) that goes through the LossContext, so
// that with several processes each divides its sum by the normaliser averaged
// over them (mmdet/mmseg reduce_mean); Dice and Lovász are ratios over a
// shard, per process as in mmseg. After MixUp (targets { masks, masks2, λ })
// each term is λ·T(masks) + (1−λ)·T(masks2): the weighted sum of the term on
// each mask set, so CE, focal, Dice and Lovász all mix as mixup's loss does.
//
// A model with an auxiliary head (model.auxLoss) gives { out, aux } in training
// mode: the terms are computed on `out`, and a term named 'aux' adds
// auxWeight × the cross-entropy of `aux` (the same class weights, ignore and
// normaliser), as torchvision's reference criterion (losses['out'] + 0.5 ·
// losses['aux']) and mmseg's auxiliary FCNHead (loss_weight 0.4, the default here).
import * as torch from '../../torch/index.js';
import { Tensor } from '../../torch/tensor.js';
import { classWeights } from '../../losses/class_weights.js';
import { softmaxFocalLoss } from '../../losses/focal.js';
import { diceLoss } from '../../losses/dice.js';
import { lovaszSoftmax } from '../../losses/lovasz.js';
import { segCrossEntropy, segCrossEntropyNormaliser } from '../../losses/seg_cross_entropy.js';
import { MultiLoss } from '../../losses/multi_loss.js';
import { SINGLE_PROCESS, type LossContext, type MixedMasks, type TaskLoss } from '../task.js';
import type { SegLossConfig } from './config.js';
import { IGNORE_INDEX } from '../../data/sample.js';
import type { SegOutputs } from '../../models/heads/segmentation_model.js';

export type SegTargets = Tensor | MixedMasks;
export const isMixed = (y: SegTargets): y is MixedMasks => !(y instanceof Tensor);

/** A term on masks made a term on MixUp-ed targets too: λ·T(x, masks) + (1−λ)·T(x, masks2). */
function mixable(fn: (x: Tensor, y: Tensor) => Tensor): (x: Tensor, y: SegTargets) => Tensor {
  return (x, y) => (isMixed(y) ? fn(x, y.masks).mul(y.lam).add(fn(x, y.masks2).mul(1 - y.lam)) : fn(x, y));
}

/** A segmentation model's output: logits [N,K,H,W], or in training mode with an auxiliary head { out, aux } (the models' SegOutputs). */
type SegOutput = Tensor | SegOutputs;

/** The main logits of an output. */
const mainOf = (o: SegOutput): Tensor => (o instanceof torch.Tensor ? o : o.out);
const auxOf = (o: SegOutput): Tensor => {
  if (o instanceof torch.Tensor || !(o?.aux instanceof torch.Tensor))
    throw new TypeError("segmentation loss: the 'aux' term needs the training-mode output { out, aux } of a model built with model.auxLoss (eval mode gives `out` alone)");
  return o.aux;
};

/** Default of loss.auxWeight: mmseg's configs' auxiliary FCNHead loss_weight. */
export const AUX_WEIGHT = 0.4;

export function buildSegLoss(l: SegLossConfig, pixelCounts: number[], classes: string[], ctx: LossContext = SINGLE_PROCESS, opts: { auxLoss?: boolean } = {}): TaskLoss<SegOutput, SegTargets> & { classWeight: number[] | null } {
  const k = classes.length;
  if (l.auxWeight !== undefined && !opts.auxLoss) throw new TypeError('config: loss.auxWeight is set but the model has no auxiliary head (model.auxLoss)');
  let cw: number[] | null = null;
  if (l.classWeight !== undefined) {
    cw = Array.isArray(l.classWeight) ? l.classWeight : classWeights(pixelCounts, l.classWeight, { beta: l.classWeightBeta });
    if (cw.length !== k) throw new TypeError(`config: loss.classWeight has ${cw.length} values, the dataset has ${k} classes`);
  }
  const weight = cw ? torch.tensor(cw, { dtype: 'float32' }).keep() : null;
  const single = ctx.processes === 1;
  const ce = { weight, ignoreIndex: IGNORE_INDEX, normaliser: l.normaliser, avgNonIgnore: l.avgNonIgnore };
  // Focal's mean divides by the non-ignored pixels' weights (softmaxFocalLoss).
  const focalNormaliser = (y: Tensor) => {
    const valid = y.ne(IGNORE_INDEX);
    if (!weight) return valid.sum().to({ dtype: 'float32' });
    return weight.indexSelect(0, torch.where(valid, y, 0).reshape(-1)).reshape(y.shape).mul(valid.to({ dtype: 'float32' })).sum();
  };
  const crossEntropy = (x: Tensor, y: Tensor) => (single ? segCrossEntropy(x, y, ce) : segCrossEntropy(x, y, { ...ce, reduction: 'sum' }).div(ctx.averageOverProcesses(segCrossEntropyNormaliser(x, y, ce))));
  const main = (l.terms ?? [{ type: 'CrossEntropyLoss' as const }]).map((t) => ({
    name: t.name ?? t.type,
    weight: t.weight,
    fn: mixable(t.type === 'CrossEntropyLoss'
      ? crossEntropy
      : t.type === 'FocalLoss'
        ? (x: Tensor, y: Tensor) => {
          const o = { gamma: t.gamma ?? 2, weight, ignoreIndex: IGNORE_INDEX };
          return single ? softmaxFocalLoss(x, y, o) : softmaxFocalLoss(x, y, { ...o, reduction: 'sum' }).div(ctx.averageOverProcesses(focalNormaliser(y)));
        }
        : t.type === 'DiceLoss'
          ? (x: Tensor, y: Tensor) => diceLoss(x.float(), y, { ignoreIndex: IGNORE_INDEX })
          : (x: Tensor, y: Tensor) => lovaszSoftmax(x.float(), y, { ignoreIndex: IGNORE_INDEX })),
  }));
  const terms = main.map((t) => ({ ...t, fn: (o: SegOutput, y: SegTargets) => t.fn(mainOf(o), y) }));
  const auxCe = mixable(crossEntropy);
  if (opts.auxLoss) terms.push({ name: 'aux', weight: l.auxWeight ?? AUX_WEIGHT, fn: (o: SegOutput, y: SegTargets) => auxCe(auxOf(o), y) });
  const multi = new MultiLoss<[SegOutput, SegTargets]>(terms, { weighting: l.weighting ?? 'fixed', gradNorm: l.gradNorm });
  const describe: string[] = [`loss: ${terms.map((t) => `${t.name}×${t.weight ?? 1}`).join(' + ')} (${multi.weighting} weighting; cross-entropy normaliser ${l.normaliser ?? 'mmseg'}${l.avgNonIgnore ? ', avg_non_ignore' : ''})`];
  if (cw) describe.push(`class weights (${Array.isArray(l.classWeight) ? 'given' : l.classWeight}, from pixel counts): ${classes.map((c, i) => `${c} ${cw![i].toFixed(3)}`).join(', ')}`);
  return { multi, classWeight: cw, describe };
}
