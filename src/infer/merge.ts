// One merge of class scores for TTA views and ensemble members alike: several
// logits [N,K] (or [N,K,H,W]) of the same images → class probabilities, by the
// (weighted) mean of probabilities ('mean'), of logits ('logits', then
// softmax), of log-probabilities ('gmean', a renormalised geometric mean), the
// per-class maximum ('max', renormalised), or a (weighted) majority vote
// ('vote': the share of the members' weight that picks each class).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import * as F from '../torch/functional.js';

export type Merge = 'mean' | 'logits' | 'gmean' | 'max' | 'vote';
export const MERGES: readonly Merge[] = ['mean', 'logits', 'gmean', 'max', 'vote'];

export function mergeProbs(logits: Tensor[], opts: { how?: Merge; weights?: number[] } = {}): Tensor {
  const how = opts.how ?? 'mean';
  if (!MERGES.includes(how)) throw new RangeError(`merge must be one of ${MERGES.join(', ')}, got ${String(how)}`);
  if (logits.length === 0) throw new TypeError('merge: no predictions');
  const shape = logits[0].shape.join();
  logits.forEach((l, i) => { if (l.shape.join() !== shape) throw new TypeError(`merge: prediction ${i} is [${l.shape}], prediction 0 [${logits[0].shape}]: they must share the images and classes`); });
  const w = opts.weights;
  if (w !== undefined && (w.length !== logits.length || !w.every((v) => v >= 0) || !(w.reduce((a, b) => a + b, 0) > 0))) {
    throw new RangeError(`merge: weights must be ${logits.length} non-negative numbers with a positive sum, got ${JSON.stringify(w)}`);
  }
  if (w && how === 'max') throw new TypeError("merge: 'max' takes no weights");
  const stack = torch.stack(logits, 0);
  // The weighted mean over members (dim 0); the plain mean without weights.
  const avg = (t: Tensor) => {
    if (!w) return t.mean(0);
    const sum = w.reduce((a, b) => a + b, 0);
    return t.mul(torch.tensor(w.map((v) => v / sum), { dtype: 'float32' }).reshape([w.length, ...new Array(t.ndim - 1).fill(1)]).to({ dtype: t.dtype })).sum(0);
  };
  switch (how) {
    case 'mean': return avg(stack.softmax(2));
    case 'logits': return avg(stack).softmax(1);
    case 'gmean': return avg(stack.logSoftmax(2)).softmax(1);
    case 'max': { const m = stack.softmax(2).amax(0); return m.div(m.sum(1, true)); }
    case 'vote': {
      if (logits[0].ndim !== 2) throw new TypeError(`merge: 'vote' takes [N,K] scores, got [${logits[0].shape}]`);
      return avg(F.oneHot(stack.argmax(2), logits[0].shape[1]).to({ dtype: logits[0].dtype }));
    }
  }
}
