// Argument checks shared by the box operations: each error names the function
// and the input (`nms: boxes must be [N, 4] …`).
import { Tensor, describe } from '../torch/tensor.js';
import { isFloating, type DType } from '../torch/dtype.js';

export function tensorArg(t: unknown, who: string, name: string): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${who}: ${name} must be a Tensor, got ${describe(t)}`);
  if (t.isDisposed) throw new Error(`${who}: ${name} was disposed`);
  return t;
}

/** Boxes [..., 4] (leading dims as allowed by `dims`: 2 for [N, 4]; undefined for any). */
export function boxesArg(t: unknown, who: string, name = 'boxes', dims?: number): Tensor {
  const b = tensorArg(t, who, name);
  const shape = b.shape;
  if (shape.length === 0 || shape[shape.length - 1] !== 4 || (dims !== undefined && shape.length !== dims))
    throw new TypeError(`${who}: ${name} must be ${dims === 2 ? '[N, 4]' : '[..., 4]'}, got [${shape}]`);
  return b;
}

export function floatArg(t: Tensor, who: string, name: string, allowed: DType[] = ['float32', 'float64']): void {
  if (!allowed.includes(t.dtype)) throw new TypeError(`${who}: ${name} must be ${allowed.join(' or ')}, got ${t.dtype}`);
}

/** scores [N] of the boxes' dtype (float32 or float64, as torchvision's CPU kernels take). */
export function scoresArg(t: unknown, boxes: Tensor, who: string, name = 'scores'): Tensor {
  const s = tensorArg(t, who, name);
  const n = boxes.shape[0];
  if (s.ndim !== 1 || s.shape[0] !== n) throw new TypeError(`${who}: ${name} must be [${n}] (one per box), got [${s.shape}]`);
  if (s.dtype !== boxes.dtype) throw new TypeError(`${who}: ${name} (${s.dtype}) and boxes (${boxes.dtype}) must have one dtype`);
  return s;
}

export function integerArg(t: Tensor, who: string, name: string): void {
  if (isFloating(t.dtype) || t.dtype === 'bool') throw new TypeError(`${who}: ${name} must be an integer tensor, got ${t.dtype}`);
}

/** An IoU threshold: a number in [0, 1]. */
export function thresholdArg(v: unknown, who: string, name: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`${who}: ${name} must be a number in [0, 1], got ${String(v)}`);
  return v;
}
