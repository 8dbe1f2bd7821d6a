// The detection kernels libtorch lacks (native/src/detection.cc): NMS, batched
// NMS, Soft-NMS and weighted boxes fusion. src/ops checks the arguments and is
// what the rest of Arsenal calls.
import { native } from './native.js';
import { Tensor, handle } from './tensor.js';

export function nms(boxes: Tensor, scores: Tensor, iouThreshold: number): Tensor {
  return new Tensor(native.nms(handle(boxes, 'nms: boxes'), handle(scores, 'nms: scores'), iouThreshold));
}

export function batchedNms(boxes: Tensor, scores: Tensor, idxs: Tensor, iouThreshold: number): Tensor {
  return new Tensor(native.batchedNms(handle(boxes, 'batchedNms: boxes'), handle(scores, 'batchedNms: scores'), handle(idxs, 'batchedNms: idxs'), iouThreshold));
}

/** method: 1 linear, 2 gaussian (mmcv's codes). Returns the kept indices and their decayed scores. */
export function softNms(boxes: Tensor, scores: Tensor, iouThreshold: number, sigma: number, minScore: number, method: 1 | 2): [Tensor, Tensor] {
  const [k, s] = native.softNms(handle(boxes, 'softNms: boxes'), handle(scores, 'softNms: scores'), iouThreshold, sigma, minScore, method);
  return [new Tensor(k), new Tensor(s)];
}

/** confType: 0 avg, 1 max, 2 box_and_model_avg, 3 absent_model_aware_avg. models: each box's model index into weights. */
export function weightedBoxesFusion(boxes: Tensor, scores: Tensor, labels: Tensor, models: Tensor, weights: number[], iouThr: number, skipBoxThr: number,
  confType: 0 | 1 | 2 | 3, allowsOverflow: boolean, width: number, height: number): [Tensor, Tensor, Tensor] {
  const w = 'weightedBoxesFusion';
  const [b, s, l] = native.weightedBoxesFusion(handle(boxes, `${w}: boxes`), handle(scores, `${w}: scores`), handle(labels, `${w}: labels`), handle(models, `${w}: models`),
    weights, iouThr, skipBoxThr, confType, allowsOverflow, width, height);
  return [new Tensor(b), new Tensor(s), new Tensor(l)];
}
