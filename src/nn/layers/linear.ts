// Linear, Identity and Flatten (torch/nn/modules/linear.py, flatten.py).
import { Module } from '../module.js';
import { Parameter, parameter } from '../parameter.js';
import { Tensor } from '../../torch/tensor.js';
import { empty } from '../../torch/creation.js';
import * as F from '../../torch/functional.js';
import * as init from '../init.js';

export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    for (const [k, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const)
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`Linear: ${k} must be a positive integer, got ${v}`);
    this.weight = parameter(empty(outFeatures, inFeatures));
    this.bias = opts.bias === false ? null : parameter(empty(outFeatures));
    init.kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) init.uniform_(this.bias, -1 / Math.sqrt(inFeatures), 1 / Math.sqrt(inFeatures));
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}
