// The checks of pseudo-labelling's options that every task shares (the command,
// src/commands/pseudo_label.ts, and each task's `pseudo`): the labelled share,
// the confidence threshold and its default (0.9), the top k per class. A task's
// own `check` (Task.pseudo.check) adds what it cannot select with.
import type { PseudoOptions } from './task.js';

/** The default confidence threshold of a kept prediction (a class, or a pixel's class). */
export const DEFAULT_THRESHOLD = 0.9;

/** Throws unless the labelled share is in (0, 1). */
export function checkShare(share: number): void {
  if (!(share > 0 && share < 1)) throw new RangeError(`pseudo-label: labelledShare must be in (0, 1), got ${share}`);
}

/** The threshold (DEFAULT_THRESHOLD when not given); throws unless it is in [0, 1]. */
export function checkThreshold(o: PseudoOptions): number {
  const th = o.threshold ?? DEFAULT_THRESHOLD;
  if (!(th >= 0 && th <= 1)) throw new RangeError(`pseudo-label: threshold must be in [0, 1], got ${th}`);
  return th;
}

/** Throws on a topK that is given and is not a positive integer. */
export function checkTopK(o: PseudoOptions): void {
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1)) throw new RangeError(`pseudo-label: topK must be a positive integer, got ${o.topK}`);
}
