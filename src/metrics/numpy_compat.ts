// NumPy's arithmetic where the detection metrics' references (pycocotools'
// cocoeval.py, mmdet's mean_ap.py) depend on it for their exact values.

/**
 * `np.linspace(start, stop, num)` (endpoint=True) as NumPy computes it
 * (numpy/core/function_base.py): `step = (stop - start) / (num - 1)`,
 * `y[i] = i * step + start`, then `y[-1] = stop`. Not rounded: linspace(.5, .95, 10)[8]
 * is 0.8999999999999999, as in pycocotools' iouThrs.
 */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const y = new Float64Array(num);
  const div = num - 1;
  if (div <= 0) { if (num === 1) y[0] = start; return y; }
  const step = (stop - start) / div;
  for (let i = 0; i < num; i++) y[i] = i * step + start;
  y[num - 1] = stop;
  return y;
}

const identity = (x: number): number => x;

/**
 * `np.sum` of a contiguous vector: NumPy's pairwise summation
 * (numpy/core/src/umath/loops_utils.h.src `pairwise_sum`: under 8 elements a
 * plain loop, up to 128 eight accumulators, above that halves at a multiple of
 * 8), added to the reduction's identity 0. `round` is applied after every
 * addition: `Math.fround` gives a float32 array's sum (the accumulator is float32).
 */
export function pairwiseSum(a: ArrayLike<number>, lo = 0, n = a.length - lo, round: (x: number) => number = identity): number {
  return round(0 + sum(a, lo, n, round));
}

function sum(a: ArrayLike<number>, lo: number, n: number, f: (x: number) => number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = f(res + a[lo + i]);
    return res;
  }
  if (n <= 128) {
    const r = [a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = f(r[j] + a[lo + i + j]);
    let res = f(f(f(r[0] + r[1]) + f(r[2] + r[3])) + f(f(r[4] + r[5]) + f(r[6] + r[7])));
    for (; i < n; i++) res = f(res + a[lo + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return f(sum(a, lo, n2, f) + sum(a, lo + n2, n - n2, f));
}

/** `np.mean` of a float64 vector: the pairwise sum divided by the count (NaN when empty). */
export function npMean(a: ArrayLike<number>): number {
  return pairwiseSum(a) / a.length;
}

/**
 * Python's `'{:0.3f}'.format(x)`: the exact binary value rounded half to even
 * (JS `toFixed` rounds an exact tie up: 0.0625 → '0.063', Python '0.062').
 */
export function formatFixed3(x: number): string {
  // x·1000 is an exact tie only when x is an odd multiple of 1/16 (x = n/2000 with n odd needs 125 | n).
  const s16 = x * 16;
  if (Number.isFinite(x) && Number.isInteger(s16) && Math.abs(s16) % 2 === 1) {
    const scaled = Math.abs(x) * 1000;           // exact: an odd multiple of 62.5
    const lo = Math.floor(scaled);
    const n = lo % 2 === 0 ? lo : lo + 1;
    const body = `${Math.floor(n / 1000)}.${String(n % 1000).padStart(3, '0')}`;
    return x < 0 ? `-${body}` : body;
  }
  return x.toFixed(3);
}
