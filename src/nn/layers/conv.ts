// Conv2d and ConvTranspose2d with PyTorch's parameter names and default init
// (torch/nn/modules/conv.py reset_parameters: kaiming_uniform_(a=√5), bias U(±1/√fan_in)).
import { Module } from '../module.js';
import { Parameter, parameter } from '../parameter.js';
import { Tensor } from '../../torch/tensor.js';
import { empty } from '../../torch/creation.js';
import * as F from '../../torch/functional.js';
import * as init from '../init.js';

type Pair = number | [number, number];
const pair = (x: Pair): [number, number] => (typeof x === 'number' ? [x, x] : x);

export interface Conv2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number; bias?: boolean }

function check(name: string, inC: number, outC: number, groups: number): void {
  for (const [k, v] of [['inChannels', inC], ['outChannels', outC], ['groups', groups]] as const)
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name}: ${k} must be a positive integer, got ${v}`);
  if (inC % groups || outC % groups) throw new RangeError(`${name}: inChannels (${inC}) and outChannels (${outC}) must be divisible by groups (${groups})`);
}

function resetConv(weight: Tensor, bias: Tensor | null, fanWeight: Tensor): void {
  init.kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const [fanIn] = init.fans(fanWeight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    init.uniform_(bias, -bound, bound);
  }
}

export class Conv2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: Pair, opts: Conv2dOptions = {}) {
    super();
    this.groups = opts.groups ?? 1;
    check('Conv2d', inChannels, outChannels, this.groups);
    const [kh, kw] = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    this.weight = parameter(empty(outChannels, inChannels / this.groups, kh, kw));
    this.bias = opts.bias === false ? null : parameter(empty(outChannels));
    resetConv(this.weight, this.bias, this.weight);
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${pair(this.kernelSize).join('x')}, stride=${this.stride.join(',')}, padding=${this.padding.join(',')}${this.bias ? '' : ', bias=false'}`;
  }
}

export class ConvTranspose2d extends Module {
  weight: Parameter;
  bias: Parameter | null;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: Pair,
    opts: Conv2dOptions & { outputPadding?: Pair } = {}) {
    super();
    this.groups = opts.groups ?? 1;
    check('ConvTranspose2d', inChannels, outChannels, this.groups);
    const [kh, kw] = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.outputPadding = pair(opts.outputPadding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    // PyTorch stores transposed weights as [in, out/groups, kh, kw]; fan_in is computed on that layout.
    this.weight = parameter(empty(inChannels, outChannels / this.groups, kh, kw));
    this.bias = opts.bias === false ? null : parameter(empty(outChannels));
    resetConv(this.weight, this.bias, this.weight);
  }
  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation,
    });
  }
}
