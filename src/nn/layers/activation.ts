// Activations, pooling, dropout and resampling modules (stateless wrappers over F).
import { Module } from '../module.js';
import { Tensor } from '../../torch/tensor.js';
import * as F from '../../torch/functional.js';

export class ReLU extends Module { forward(x: Tensor): Tensor { return F.relu(x); } }
export class ReLU6 extends Module { forward(x: Tensor): Tensor { return F.relu6(x); } }
export class SiLU extends Module { forward(x: Tensor): Tensor { return F.silu(x); } }
export class Sigmoid extends Module { forward(x: Tensor): Tensor { return F.sigmoid(x); } }
export class Hardswish extends Module { forward(x: Tensor): Tensor { return F.hardswish(x); } }
export class Hardsigmoid extends Module { forward(x: Tensor): Tensor { return F.hardsigmoid(x); } }
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') { super(); }
  forward(x: Tensor): Tensor { return F.gelu(x, this.approximate); }
}
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) { super(); }
  forward(x: Tensor): Tensor { return F.leakyRelu(x, this.negativeSlope); }
}

type Pair = number | [number, number];

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly opts: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}) { super(); }
  forward(x: Tensor): Tensor { return F.maxPool2d(x, this.kernelSize, this.opts); }
}
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly opts: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}) { super(); }
  forward(x: Tensor): Tensor { return F.avgPool2d(x, this.kernelSize, this.opts); }
}
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) { super(); }
  forward(x: Tensor): Tensor { return F.adaptiveAvgPool2d(x, this.outputSize); }
}
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor { return this.training && this.p > 0 ? F.dropout(x, this.p, true) : x; }
}
/** nn.Dropout2d: whole channels dropped (mmseg's decode heads drop before conv_seg with it). */
export class Dropout2d extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout2d: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor { return this.training && this.p > 0 ? F.dropout2d(x, this.p, true) : x; }
}
export class Upsample extends Module {
  constructor(readonly opts: { size?: number | number[]; scaleFactor?: number | number[]; mode?: 'nearest' | 'bilinear'; alignCorners?: boolean }) { super(); }
  forward(x: Tensor): Tensor { return F.interpolate(x, this.opts); }
}
