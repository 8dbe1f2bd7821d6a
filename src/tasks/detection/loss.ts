// FCOS's loss as three named terms of a MultiLoss — torchvision's
// 'classification' (sigmoid focal), 'bbox_regression' (GIoU) and
// 'bbox_ctrness' (BCE) — so each is logged and weighted (fixed, uncertainty,
// DWA, GradNorm) like any task's terms. The matching of points to boxes is
// shared by the three: fcosLoss runs once per forward, its result cached by the
// output object, and each term reads its part. The foreground count that
// divides every term goes through the LossContext (mmdet's reduce_mean(num_pos)),
// so several processes divide by its mean over them.
import type { Tensor } from '../../torch/tensor.js';
import { MultiLoss } from '../../losses/multi_loss.js';
import { fcosLoss, type FCOSLosses, type FCOSLossInput } from '../../models/detection/fcos_loss.js';
import { SINGLE_PROCESS, type BoxTargets, type Detections, type LossContext, type TaskLoss } from '../task.js';
import type { DetLossConfig } from './config.js';

/** The terms by torchvision's names (FCOS.compute_loss's dict), and the loss's field of each. */
export const DET_LOSS_TERMS = [['classification', 'classification'], ['bbox_regression', 'bboxRegression'], ['bbox_ctrness', 'bboxCtrness']] as const;

/** The model's output as the task types it: the training forward's maps (what the loss reads), or detections when predicting. */
type DetOutput = FCOSLossInput | Detections[];

export function buildDetLoss(l: DetLossConfig, opts: { centerSamplingRadius?: number } = {}, ctx: LossContext = SINGLE_PROCESS): TaskLoss<DetOutput, BoxTargets[]> {
  const alpha = l.alpha ?? 0.25, gamma = l.gamma ?? 2;
  // One fcosLoss per (output, targets): the three terms of a step read the same result.
  const cache = new WeakMap<object, { targets: BoxTargets[]; losses: FCOSLosses }>();
  const losses = (out: DetOutput, targets: BoxTargets[]): FCOSLosses => {
    if (!out || typeof out !== 'object' || Array.isArray(out) || !('clsLogits' in out)) throw new TypeError('detection loss: expected the model\'s training output (FCOS: clsLogits, bboxRegression, bboxCtrness, anchors, …)');
    const hit = cache.get(out);
    if (hit && hit.targets === targets) return hit.losses;
    const r = fcosLoss(out, targets.map((t) => ({ boxes: t.boxes, labels: t.labels })), { alpha, gamma, centerSamplingRadius: opts.centerSamplingRadius, averageOverProcesses: (v: Tensor) => ctx.averageOverProcesses(v) });
    cache.set(out, { targets, losses: r });
    return r;
  };
  const w = l.weights ?? {};
  const terms = DET_LOSS_TERMS.map(([name, field]) => ({ name, weight: w[name], fn: (o: DetOutput, y: BoxTargets[]) => losses(o, y)[field] }));
  const multi = new MultiLoss<[DetOutput, BoxTargets[]]>(terms, { weighting: l.weighting ?? 'fixed', gradNorm: l.gradNorm });
  const describe = [`loss: ${terms.map((t) => `${t.name}×${t.weight ?? 1}`).join(' + ')} (${multi.weighting} weighting; focal α ${alpha}, γ ${gamma}; each divided by the foreground points${ctx.processes > 1 ? ' averaged over the processes' : ''})`];
  return { multi, describe };
}
