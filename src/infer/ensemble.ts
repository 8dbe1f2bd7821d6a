// Ensembles of classifiers: several members (any architecture, seed, or SWA /
// EMA weights) predict the same batch; their outputs merge by the weighted mean
// of probabilities ('mean'), of logits ('logits', then softmax), or by a
// weighted majority vote ('vote': each member's top class counts its weight;
// the result is the vote share per class).
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import * as F from '../torch/functional.js';

export type EnsembleMerge = 'mean' | 'logits' | 'vote';

export function ensembleProbs(logits: Tensor[], merge: EnsembleMerge = 'mean', weights?: number[]): Tensor {
  if (logits.length === 0) throw new TypeError('ensemble: no member predictions');
  const w = weights ?? logits.map(() => 1);
  if (w.length !== logits.length || !w.every((v) => v >= 0) || !(w.reduce((a, b) => a + b, 0) > 0)) {
    throw new RangeError(`ensemble: weights must be ${logits.length} non-negative numbers with a positive sum, got ${JSON.stringify(weights)}`);
  }
  const shape = logits[0].shape.join();
  logits.forEach((l, i) => { if (l.shape.join() !== shape) throw new TypeError(`ensemble: member ${i} predicts [${l.shape}], member 0 [${logits[0].shape}]: the members must share the classes`); });
  const sum = w.reduce((a, b) => a + b, 0);
  const wt = torch.tensor(w.map((v) => v / sum), { dtype: 'float32' }).reshape([w.length, ...new Array(logits[0].ndim).fill(1)]).to({ dtype: logits[0].dtype });
  const stack = torch.stack(logits, 0);
  if (merge === 'mean') return stack.softmax(2).mul(wt).sum(0);
  if (merge === 'logits') return stack.mul(wt).sum(0).softmax(1);
  if (merge === 'vote') return F.oneHot(stack.argmax(2), logits[0].shape[1]).to({ dtype: logits[0].dtype }).mul(wt).sum(0);
  throw new RangeError(`ensemble: merge must be 'mean', 'logits' or 'vote', got ${String(merge)}`);
}
