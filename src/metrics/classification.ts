// Classification metrics accumulated over batches: top-1 accuracy, balanced
// accuracy (mean per-class recall) and the confusion matrix.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/tensor.js';
import { crossEntropy } from '../torch/functional.js';

export interface ClassificationMeterState { numClasses: number; confusion: number[]; lossSum: number; count: number }

export class ClassificationMeter {
  private readonly confusion: Float64Array;
  private lossSum = 0;
  private count = 0;
  constructor(readonly numClasses: number) {
    this.confusion = new Float64Array(numClasses * numClasses);
  }
  /** logits [N,K] (or probabilities), labels int64 [N]; loss is the batch mean. */
  update(logits: Tensor, labels: Tensor, loss?: number): void {
    const K = this.numClasses;
    const idx = torch.noGrad(() => torch.scope(() => labels.mul(K).add(logits.argmax(1)).keep()));
    const flat = idx.dataSync() as BigInt64Array;
    idx.dispose();
    const cells = K * K;
    for (let i = 0; i < flat.length; i++) {
      const c = Number(flat[i]);
      if (c < 0 || c >= cells) throw new RangeError(`ClassificationMeter: label ${Math.floor(c / K)} of sample ${i} is outside [0, ${K})`);
      this.confusion[c] += 1;
    }
    if (loss !== undefined) this.lossSum += loss * flat.length;
    this.count += flat.length;
  }
  get total(): number { return this.count; }
  accuracy(): number {
    let c = 0;
    for (let k = 0; k < this.numClasses; k++) c += this.confusion[k * this.numClasses + k];
    return this.count ? c / this.count : 0;
  }
  /** Mean over classes of recall (classes absent from the labels are skipped). */
  balancedAccuracy(): number {
    let sum = 0, n = 0;
    for (let k = 0; k < this.numClasses; k++) {
      let row = 0;
      for (let j = 0; j < this.numClasses; j++) row += this.confusion[k * this.numClasses + j];
      if (row > 0) { sum += this.confusion[k * this.numClasses + k] / row; n++; }
    }
    return n ? sum / n : 0;
  }
  meanLoss(): number { return this.count ? this.lossSum / this.count : NaN; }
  /** Plain data: the confusion counts, the loss sum and the count. */
  state(): ClassificationMeterState {
    return { numClasses: this.numClasses, confusion: Array.from(this.confusion), lossSum: this.lossSum, count: this.count };
  }
  /** Adds another meter's state (evaluation sharded over processes merges exactly: sums). */
  merge(s: ClassificationMeterState): void {
    if (s.numClasses !== this.numClasses || s.confusion.length !== this.confusion.length) throw new TypeError(`ClassificationMeter.merge: a state of ${s.numClasses} classes into a meter of ${this.numClasses}`);
    for (let i = 0; i < s.confusion.length; i++) this.confusion[i] += s.confusion[i];
    this.lossSum += s.lossSum;
    this.count += s.count;
  }
  confusionMatrix(): number[][] {
    return Array.from({ length: this.numClasses }, (_, k) => Array.from(this.confusion.subarray(k * this.numClasses, (k + 1) * this.numClasses)));
  }
  summary(): { accuracy: number; balancedAccuracy: number; loss: number } {
    return { accuracy: this.accuracy(), balancedAccuracy: this.balancedAccuracy(), loss: this.meanLoss() };
  }
}

/** Accuracy, balanced accuracy and mean cross-entropy of logits (or log-probabilities) [N,K] against labels [N]. */
export function scoreLogits(logits: Tensor, labels: Tensor, numClasses: number): { accuracy: number; balancedAccuracy: number; loss: number } {
  const meter = new ClassificationMeter(numClasses);
  torch.noGrad(() => torch.scope(() => meter.update(logits, labels, crossEntropy(logits, labels).item())));
  return meter.summary();
}
