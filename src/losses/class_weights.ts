// Class weights from label counts, normalised to average 1 over the classes
// present (a class with no samples gets weight 0: it never appears in a loss).
//   'inverse'            w_c ∝ 1 / n_c
//   'inverse-sqrt'       w_c ∝ 1 / √n_c (Mahajan et al. 2018; mmseg's common choice)
//   'median-frequency'   w_c = median_k(f_k) / f_c with f_c = n_c / Σn (Eigen & Fergus, ICCV 2015)
//   'effective-number'   w_c ∝ (1 − β) / (1 − β^n_c) (Cui et al., "Class-Balanced Loss
//                        Based on Effective Number of Samples", CVPR 2019; β = 0.9999)
export type ClassWeightMethod = 'inverse' | 'inverse-sqrt' | 'median-frequency' | 'effective-number';
export const CLASS_WEIGHT_METHODS: readonly ClassWeightMethod[] = ['inverse', 'inverse-sqrt', 'median-frequency', 'effective-number'];

export function classWeights(counts: ArrayLike<number>, method: ClassWeightMethod, opts: { beta?: number } = {}): number[] {
  const n = Array.from(counts);
  if (n.length === 0) throw new RangeError('classWeights: counts is empty');
  n.forEach((c, i) => { if (!(Number.isFinite(c) && c >= 0)) throw new RangeError(`classWeights: counts[${i}] must be a non-negative number, got ${c}`); });
  if (!CLASS_WEIGHT_METHODS.includes(method)) throw new RangeError(`classWeights: method must be one of ${CLASS_WEIGHT_METHODS.join(', ')}, got ${String(method)}`);
  const present = n.map((c) => c > 0);
  if (!present.some(Boolean)) throw new RangeError('classWeights: every class count is 0');
  const beta = opts.beta ?? 0.9999;
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`classWeights: beta must be in [0, 1), got ${beta}`);
  let raw: number[];
  switch (method) {
    case 'inverse': raw = n.map((c) => (c > 0 ? 1 / c : 0)); break;
    case 'inverse-sqrt': raw = n.map((c) => (c > 0 ? 1 / Math.sqrt(c) : 0)); break;
    case 'median-frequency': {
      const total = n.reduce((a, b) => a + b, 0);
      const f = n.filter((c) => c > 0).map((c) => c / total).sort((a, b) => a - b);
      const m = f.length % 2 ? f[f.length >> 1] : (f[f.length / 2 - 1] + f[f.length / 2]) / 2;
      raw = n.map((c) => (c > 0 ? m / (c / total) : 0));
      break;
    }
    case 'effective-number': raw = n.map((c) => (c > 0 ? (1 - beta) / (1 - Math.pow(beta, c)) : 0)); break;
  }
  const k = present.filter(Boolean).length;
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => (w * k) / sum);
}
