// One image's detections and ground truth as the detection meters take them
// (COCO's and VOC's), read once into float64 typed arrays with the checks that
// name the bad input. Boxes are xyxy in pixels (the sample format,
// docs/architecture.md §4); labels are contiguous class indices [0, K).
import * as torch from '../torch/index.js';
import { Tensor } from '../torch/tensor.js';

/** [N,4] boxes: a tensor, rows of 4 numbers, or a flat typed array of 4N. */
export type BoxesInput = Tensor | ArrayLike<ArrayLike<number>> | Float32Array | Float64Array;
/** [N] values: a tensor (any dtype, bool included) or an array. */
export type ValuesInput = Tensor | ArrayLike<number | boolean>;

/** A model's detections on one image (after NMS and score thresholding). */
export interface Detections {
  boxes: BoxesInput;
  scores: ValuesInput;
  labels: ValuesInput;
}

/** One image's ground truth. */
export interface DetectionTruth {
  boxes: BoxesInput;
  labels: ValuesInput;
  /** COCO `iscrowd` (default 0): a crowd region, never a false positive, matched by intersection over the detection's area. */
  iscrowd?: ValuesInput;
  /** COCO's annotation `area` (the segment's, not the box's) that sorts a box into small/medium/large; default the box area. */
  area?: ValuesInput;
  /** VOC `difficult` (default 0): neither a true nor a false positive when matched, not counted in recall. */
  difficult?: ValuesInput;
  /** The image's id: the COCO meter orders images by it, as pycocotools sorts its imgIds (ties in score across images). */
  imageId?: number;
}

/** The read arrays: boxes xyxy row-major [N*4]. */
export interface ReadBoxes { boxes: Float64Array; n: number }

function tensorValues(t: Tensor): Float64Array {
  return torch.noGrad(() => torch.scope(() => {
    const c = t.dtype === 'float64' ? t : t.to('float64');
    return Float64Array.from(c.contiguous().dataSync() as Float64Array);
  }));
}

/** [N,4] → a flat Float64Array of 4N, checked finite with x2 ≥ x1 and y2 ≥ y1. */
export function readBoxes(x: BoxesInput, what: string): ReadBoxes {
  let flat: Float64Array;
  if (x instanceof Tensor) {
    if (x.ndim !== 2 || x.shape[1] !== 4) throw new TypeError(`${what} must be [N, 4] xyxy boxes, got a tensor [${x.shape.join(', ')}]`);
    flat = tensorValues(x);
  } else if (x instanceof Float32Array || x instanceof Float64Array) {
    if (x.length % 4 !== 0) throw new TypeError(`${what}: a flat array of boxes must hold 4 numbers per box, got ${x.length}`);
    flat = Float64Array.from(x);
  } else if (x && typeof x === 'object' && typeof x.length === 'number') {
    flat = new Float64Array(x.length * 4);
    for (let i = 0; i < x.length; i++) {
      const row = x[i];
      if (!row || row.length !== 4) throw new TypeError(`${what}[${i}] must be 4 numbers [x1, y1, x2, y2], got ${JSON.stringify(row)}`);
      for (let j = 0; j < 4; j++) flat[i * 4 + j] = row[j];
    }
  } else {
    throw new TypeError(`${what} must be [N, 4] boxes (a tensor or an array), got ${String(x)}`);
  }
  const n = flat.length / 4;
  for (let i = 0; i < n; i++) {
    const x1 = flat[i * 4], y1 = flat[i * 4 + 1], x2 = flat[i * 4 + 2], y2 = flat[i * 4 + 3];
    if (!(Number.isFinite(x1) && Number.isFinite(y1) && Number.isFinite(x2) && Number.isFinite(y2))) {
      throw new RangeError(`${what}[${i}] = [${x1}, ${y1}, ${x2}, ${y2}] is not finite`);
    }
    if (x2 < x1 || y2 < y1) throw new RangeError(`${what}[${i}] = [${x1}, ${y1}, ${x2}, ${y2}] is not xyxy (x2 < x1 or y2 < y1)`);
  }
  return { boxes: flat, n };
}

/** [n] → Float64Array, checked for length and finiteness. */
export function readValues(x: ValuesInput, n: number, what: string): Float64Array {
  let v: Float64Array;
  if (x instanceof Tensor) {
    if (x.ndim !== 1) throw new TypeError(`${what} must be a 1-D tensor [${n}], got [${x.shape.join(', ')}]`);
    v = tensorValues(x);
  } else if (x && typeof x === 'object' && typeof x.length === 'number') {
    v = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) v[i] = Number(x[i]);
  } else {
    throw new TypeError(`${what} must be [${n}] values (a tensor or an array), got ${String(x)}`);
  }
  if (v.length !== n) throw new RangeError(`${what} has ${v.length} values for ${n} boxes`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(v[i])) throw new RangeError(`${what}[${i}] = ${v[i]} is not finite`);
  return v;
}

/** Class indices in [0, numClasses). */
export function readLabels(x: ValuesInput, n: number, numClasses: number, what: string): Int32Array {
  const v = readValues(x, n, what);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(v[i]) || v[i] < 0 || v[i] >= numClasses) throw new RangeError(`${what}[${i}] = ${v[i]} is not a class index in [0, ${numClasses})`);
    out[i] = v[i];
  }
  return out;
}

/** 0/1 flags (false/true); absent → all 0. */
export function readFlags(x: ValuesInput | undefined, n: number, what: string): Uint8Array {
  const out = new Uint8Array(n);
  if (x === undefined) return out;
  const v = readValues(x, n, what);
  for (let i = 0; i < n; i++) {
    if (v[i] !== 0 && v[i] !== 1) throw new RangeError(`${what}[${i}] = ${v[i]} is not 0 or 1`);
    out[i] = v[i];
  }
  return out;
}

/** Box areas (x2 - x1)·(y2 - y1) (pycocotools' w·h, no +1). */
export function boxAreas(b: ReadBoxes): Float64Array {
  const a = new Float64Array(b.n);
  for (let i = 0; i < b.n; i++) a[i] = (b.boxes[i * 4 + 2] - b.boxes[i * 4]) * (b.boxes[i * 4 + 3] - b.boxes[i * 4 + 1]);
  return a;
}

/** Indices 0..n-1 sorted by score, highest first, equal scores in input order (np.argsort(-s, kind='mergesort')). */
export function argsortDescStable(scores: ArrayLike<number>, n = scores.length): Int32Array {
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => (scores[b] > scores[a] ? 1 : scores[b] < scores[a] ? -1 : a - b));
  return Int32Array.from(idx);
}

/** Rows of `labels` grouped by class, each in input order. */
export function groupByLabel(labels: Int32Array): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const g = m.get(labels[i]);
    if (g) g.push(i); else m.set(labels[i], [i]);
  }
  return m;
}
