// Which pool predictions become pseudo-labels (Lee 2013): a probability
// threshold, or the k most confident per predicted class so that classes stay
// balanced (the class-balanced selection of Xie et al. 2020).
import type { Tensor } from '../../torch/tensor.js';

/** Throws on a topK that is not a positive integer or a threshold outside [0, 1]. */
export function checkSelection(o: { threshold?: number; topK?: number }): void {
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1)) throw new RangeError(`pseudo-label: topK must be a positive integer, got ${o.topK}`);
  const th = o.threshold ?? 0.9;
  if (o.topK === undefined && !(th >= 0 && th <= 1)) throw new RangeError(`pseudo-label: threshold must be in [0, 1], got ${th}`);
}

/** Which rows of class probabilities [N,K] to keep: top probability ≥ threshold (0.9), or the topK most confident per predicted class. */
export function selectConfident(probs: Tensor, o: { threshold?: number; topK?: number }): number[] {
  checkSelection(o);
  const conf = probs.amax(1).toArray() as number[];
  const cls = probs.argmax(1).toArray() as number[];
  if (o.topK !== undefined) {
    const byClass = new Map<number, number[]>();
    cls.forEach((c, i) => { const l = byClass.get(c) ?? []; l.push(i); byClass.set(c, l); });
    const keep: number[] = [];
    for (const l of byClass.values()) keep.push(...l.sort((a, b) => conf[b] - conf[a] || a - b).slice(0, o.topK));
    return keep.sort((a, b) => a - b);
  }
  const th = o.threshold ?? 0.9;
  return conf.flatMap((c, i) => (c >= th ? [i] : []));
}
