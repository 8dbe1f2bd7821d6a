// torch.nn.functional kernels: each one ATen operator through the dispatcher,
// PyTorch's argument names and defaults.
import { native } from './native.js';
import { opId, reductionCode, type Reduction } from './ops.js';
import { Tensor, handle, optHandle } from './tensor.js';

const call = native.call;
const T = (h: number) => new Tensor(h);

export interface ConvOptions { stride?: number | number[]; padding?: number | number[]; dilation?: number | number[]; groups?: number }

const pair = (v: number | number[] | undefined, d: number): number[] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v.length === 1 ? [v[0], v[0]] : v);

/**
 * A strided 1×1 convolution without padding in channels-last is run as a
 * stride-1 convolution of the subsampled input (the same sums: a 1×1 kernel at
 * stride s reads exactly the pixels x[..., ::s, ::s]). libtorch 1.13's oneDNN
 * writes past its workspace in that case's backward-weights pass (the
 * "reduce to unit stride" path, channels-last, fewer input channels than its
 * block of 8 or 16): a crash (SIGSEGV) or a hang, e.g. in a narrow ResNet's
 * downsample layer (oneDNN issue #6035; reproduced here with 4, 8 and 12
 * channels in fp32, not in bf16). Returns the subsampled input, or null when the call is not that case.
 */
function unitStride1x1(input: Tensor, weight: Tensor, opts: ConvOptions): Tensor | null {
  if (opts.stride === undefined || opts.stride === 1) return null;
  const [sh, sw] = pair(opts.stride, 1);
  const [ph, pw] = pair(opts.padding, 0);
  if ((sh === 1 && sw === 1) || ph !== 0 || pw !== 0 || !(sh >= 1 && sw >= 1)) return null;
  // Only below 16 input channels (the blocks are 8 with AVX2, 16 with AVX-512; 16, 20 and 24 train fine): the
  // workaround costs a layer of 64 channels 2.3× its backward time here (the subsampled input's gradient is scattered).
  if (weight.ndim !== 4 || weight.shape[2] !== 1 || weight.shape[3] !== 1 || input.ndim !== 4 || input.shape[1] >= 16) return null;
  // Channels-last as libtorch decides it (suggest_memory_format): the channel stride is the smallest.
  const nhwc = (t: Tensor) => t.shape[1] > 1 && t.stride()[1] === 1;
  if (!nhwc(input) && !nhwc(weight)) return null;
  return input.index(':', ':', `::${sh}`, `::${sw}`);
}

export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, opts: ConvOptions = {}): Tensor {
  const hx = handle(input, 'conv2d input'), hw = handle(weight, 'conv2d weight'), hb = optHandle(bias, 'conv2d bias');
  const sub = unitStride1x1(input, weight, opts);
  if (sub) {
    const out = call(opId('aten::conv2d'), sub.h, hw, hb, 1, 0, opts.dilation ?? 1, opts.groups ?? 1);
    sub.dispose();
    return T(out);
  }
  return T(call(opId('aten::conv2d'), hx, hw, hb, opts.stride ?? 1, opts.padding ?? 0, opts.dilation ?? 1, opts.groups ?? 1));
}

export function convTranspose2d(input: Tensor, weight: Tensor, bias?: Tensor | null,
  opts: ConvOptions & { outputPadding?: number | number[] } = {}): Tensor {
  return T(call(opId('aten::conv_transpose2d.input'), handle(input, 'convTranspose2d input'), handle(weight, 'convTranspose2d weight'),
    optHandle(bias, 'convTranspose2d bias'), opts.stride ?? 1, opts.padding ?? 0, opts.outputPadding ?? 0, opts.groups ?? 1, opts.dilation ?? 1));
}

export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return T(call(opId('aten::linear'), handle(input, 'linear input'), handle(weight, 'linear weight'), optHandle(bias, 'linear bias')));
}

export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  opts: { weight?: Tensor | null; bias?: Tensor | null; training?: boolean; momentum?: number; eps?: number } = {}): Tensor {
  return T(call(opId('aten::batch_norm'), handle(input, 'batchNorm input'), optHandle(opts.weight, 'batchNorm weight'), optHandle(opts.bias, 'batchNorm bias'),
    optHandle(runningMean, 'batchNorm runningMean'), optHandle(runningVar, 'batchNorm runningVar'), opts.training ?? false, opts.momentum ?? 0.1, opts.eps ?? 1e-5, true));
}

export function layerNorm(input: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return T(call(opId('aten::layer_norm'), handle(input, 'layerNorm input'), normalizedShape, optHandle(weight, 'layerNorm weight'), optHandle(bias, 'layerNorm bias'), eps, true));
}

export function groupNorm(input: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return T(call(opId('aten::group_norm'), handle(input, 'groupNorm input'), numGroups, optHandle(weight, 'groupNorm weight'), optHandle(bias, 'groupNorm bias'), eps, true));
}

export interface PoolOptions { stride?: number | number[] | null; padding?: number | number[]; ceilMode?: boolean }

export function maxPool2d(input: Tensor, kernelSize: number | number[], opts: PoolOptions & { dilation?: number | number[] } = {}): Tensor {
  return T(call(opId('aten::max_pool2d'), handle(input, 'maxPool2d input'), kernelSize, opts.stride ?? [], opts.padding ?? 0, opts.dilation ?? 1, opts.ceilMode ?? false));
}

export function avgPool2d(input: Tensor, kernelSize: number | number[],
  opts: PoolOptions & { countIncludePad?: boolean; divisorOverride?: number | null } = {}): Tensor {
  return T(call(opId('aten::avg_pool2d'), handle(input, 'avgPool2d input'), kernelSize, opts.stride ?? [], opts.padding ?? 0, opts.ceilMode ?? false,
    opts.countIncludePad ?? true, opts.divisorOverride ?? null));
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: number | number[]): Tensor {
  return T(call(opId('aten::adaptive_avg_pool2d'), handle(input, 'adaptiveAvgPool2d input'), outputSize));
}

export function adaptiveMaxPool2d(input: Tensor, outputSize: number | number[]): Tensor {
  const [v, i] = call(opId('aten::adaptive_max_pool2d'), handle(input, 'adaptiveMaxPool2d input'), outputSize);
  native.free(i);
  return T(v);
}

/** F.interpolate for 4-d input: mode 'nearest' or 'bilinear' (alignCorners false by default, as PyTorch). */
export function interpolate(input: Tensor, opts: { size?: number | number[]; scaleFactor?: number | number[]; mode?: 'nearest' | 'bilinear'; alignCorners?: boolean }): Tensor {
  const h = handle(input, 'interpolate input');
  if ((opts.size === undefined) === (opts.scaleFactor === undefined)) throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  const size = opts.size === undefined ? null : typeof opts.size === 'number' ? [opts.size, opts.size] : opts.size;
  const scale = opts.scaleFactor === undefined ? null : typeof opts.scaleFactor === 'number' ? [opts.scaleFactor, opts.scaleFactor] : opts.scaleFactor;
  const mode = opts.mode ?? 'nearest';
  if (mode === 'nearest') {
    if (opts.alignCorners !== undefined) throw new TypeError("interpolate: alignCorners only applies to mode 'bilinear'");
    return T(call(opId('aten::upsample_nearest2d.vec'), h, size, scale));
  }
  if (mode === 'bilinear') return T(call(opId('aten::upsample_bilinear2d.vec'), h, size, opts.alignCorners ?? false, scale));
  throw new TypeError(`interpolate: mode must be 'nearest' or 'bilinear', got '${String(mode)}'`);
}

const GRID_MODES = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const GRID_PADDING = { zeros: 0, border: 1, reflection: 2 } as const;

/** F.grid_sample; alignCorners defaults to false as in PyTorch ≥ 1.3. */
export function gridSample(input: Tensor, grid: Tensor, opts: { mode?: keyof typeof GRID_MODES; paddingMode?: keyof typeof GRID_PADDING; alignCorners?: boolean } = {}): Tensor {
  const m = GRID_MODES[opts.mode ?? 'bilinear'];
  const p = GRID_PADDING[opts.paddingMode ?? 'zeros'];
  if (m === undefined) throw new TypeError(`gridSample: mode must be one of ${Object.keys(GRID_MODES).join(', ')}`);
  if (p === undefined) throw new TypeError(`gridSample: paddingMode must be one of ${Object.keys(GRID_PADDING).join(', ')}`);
  return T(call(opId('aten::grid_sampler'), handle(input, 'gridSample input'), handle(grid, 'gridSample grid'), m, p, opts.alignCorners ?? false));
}

export function affineGrid(theta: Tensor, size: number[], alignCorners = false): Tensor {
  return T(call(opId('aten::affine_grid_generator'), handle(theta, 'affineGrid theta'), size, alignCorners));
}

export function pad(input: Tensor, padding: number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant', value = 0): Tensor {
  return T(call(opId('aten::pad'), handle(input, 'pad input'), padding, mode, mode === 'constant' ? value : null));
}

export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return T(call(opId('aten::dropout'), handle(input, 'dropout input'), p, training));
}

/** F.dropout2d for [N, C, H, W] input: whole channels zeroed with probability p, the rest scaled by 1/(1-p) (aten::feature_dropout). */
export function dropout2d(input: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout2d: p must be in [0, 1], got ${p}`);
  return T(call(opId('aten::feature_dropout'), handle(input, 'dropout2d input'), p, training));
}

export function relu(input: Tensor): Tensor { return T(call(opId('aten::relu'), handle(input, 'relu input'))); }
export function relu6(input: Tensor): Tensor { return T(call(opId('aten::hardtanh'), handle(input, 'relu6 input'), 0, 6)); }
export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor { return T(call(opId('aten::leaky_relu'), handle(input, 'leakyRelu input'), negativeSlope)); }
export function silu(input: Tensor): Tensor { return T(call(opId('aten::silu'), handle(input, 'silu input'))); }
export function gelu(input: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor { return T(call(opId('aten::gelu'), handle(input, 'gelu input'), approximate)); }
export function sigmoid(input: Tensor): Tensor { return T(call(opId('aten::sigmoid'), handle(input, 'sigmoid input'))); }
/** x · relu6(x + 3) / 6 (Howard et al., "Searching for MobileNetV3", 2019). */
export function hardswish(input: Tensor): Tensor { return T(call(opId('aten::hardswish'), handle(input, 'hardswish input'))); }
/** relu6(x + 3) / 6, the piecewise-linear sigmoid of MobileNetV3. */
export function hardsigmoid(input: Tensor): Tensor { return T(call(opId('aten::hardsigmoid'), handle(input, 'hardsigmoid input'))); }
export function softmax(input: Tensor, dim: number): Tensor { return T(call(opId('aten::softmax.int'), handle(input, 'softmax input'), dim, null)); }
export function logSoftmax(input: Tensor, dim: number): Tensor { return T(call(opId('aten::log_softmax.int'), handle(input, 'logSoftmax input'), dim, null)); }
export function oneHot(labels: Tensor, numClasses = -1): Tensor { return T(call(opId('aten::one_hot'), handle(labels, 'oneHot labels'), numClasses)); }

export interface CrossEntropyOptions { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number }

/** F.cross_entropy: class indices [N] / [N,H,W] or probabilities of the input's shape (soft targets). */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ls = opts.labelSmoothing ?? 0;
  if (!(ls >= 0 && ls <= 1)) throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${ls}`);
  return T(call(opId('aten::cross_entropy_loss'), handle(input, 'crossEntropy input'), handle(target, 'crossEntropy target'), optHandle(opts.weight, 'crossEntropy weight'),
    reductionCode(opts.reduction, 'crossEntropy'), opts.ignoreIndex ?? -100, ls));
}

export function nllLoss(input: Tensor, target: Tensor, opts: { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction } = {}): Tensor {
  return T(call(opId('aten::nll_loss_nd'), handle(input, 'nllLoss input'), handle(target, 'nllLoss target'), optHandle(opts.weight, 'nllLoss weight'),
    reductionCode(opts.reduction, 'nllLoss'), opts.ignoreIndex ?? -100));
}

export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, opts: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {}): Tensor {
  return T(call(opId('aten::binary_cross_entropy_with_logits'), handle(input, 'binaryCrossEntropyWithLogits input'), handle(target, 'binaryCrossEntropyWithLogits target'),
    optHandle(opts.weight, 'binaryCrossEntropyWithLogits weight'), optHandle(opts.posWeight, 'binaryCrossEntropyWithLogits posWeight'), reductionCode(opts.reduction, 'binaryCrossEntropyWithLogits')));
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return T(call(opId('aten::mse_loss'), handle(input, 'mseLoss input'), handle(target, 'mseLoss target'), reductionCode(reduction, 'mseLoss')));
}

export function l1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return T(call(opId('aten::l1_loss'), handle(input, 'l1Loss input'), handle(target, 'l1Loss target'), reductionCode(reduction, 'l1Loss')));
}

export function smoothL1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction; beta?: number } = {}): Tensor {
  return T(call(opId('aten::smooth_l1_loss'), handle(input, 'smoothL1Loss input'), handle(target, 'smoothL1Loss target'), reductionCode(opts.reduction, 'smoothL1Loss'), opts.beta ?? 1.0));
}
