// Training configs: plain typed objects (mmengine's "configs as plain data"),
// validated against a small schema so a wrong key or value is an error that
// names it (`optimizer.momentun: unknown key (expected one of …)`).
import type { ParamwiseOptions } from '../optim/paramwise.js';
import { transformCheck, type TransformConfig } from '../augment/batch/pipeline.js';
import { CLASS_WEIGHT_METHODS, type ClassWeightMethod } from '../losses/class_weights.js';
import { WEIGHTINGS, type Weighting } from '../losses/multi_loss.js';
import type { TtaOptions } from '../infer/tta.js';
import { anyOf, arr, bool, num, obj, oneOf, opt, record, req, str } from '../util/schema.js';

export interface DataConfig {
  dataset: 'fashion-mnist' | 'imagefolder';
  /** Dataset folder (fashion-mnist: the IDX files; imagefolder: DIR with train/<class>/* and test/<class>/*). */
  root?: string;
  batchSize: number;
  /** Evaluation batch size (default: 2 × batchSize). */
  testBatchSize?: number;
  /** Train on the first N training images only (quick runs). */
  trainSubset?: number;
  /** Make the training set long-tailed with this imbalance ratio (Cui et al. 2019: class c keeps n_max·ratio^(−c/(K−1))); the test set stays balanced. */
  longTail?: number;
  /** Evaluate on the first N test images only (quick runs). */
  testSubset?: number;
  /** Per-channel mean and std of the 0–1 pixels, for normalisation. */
  mean?: number[];
  std?: number[];
  /** imagefolder: resize to [H, W] and channels (1 or 3). */
  imageSize?: [number, number];
  channels?: 1 | 3;
  prefetch?: number;
}

export interface ModelConfig {
  name: 'resnet18' | 'resnet34' | 'resnet50';
  stem?: 'imagenet' | 'small';
  width?: number;
  zeroInitResidual?: boolean;
  dropRate?: number;
  /** A safetensors state dict (torchvision's keys or Arsenal's). */
  pretrained?: string;
}

export interface OptimizerConfig {
  type: 'SGD' | 'Adam' | 'AdamW';
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  betas?: [number, number];
  paramwise?: ParamwiseOptions;
}

export interface ScheduleConfig {
  type: 'cosine' | 'step' | 'multistep' | 'onecycle' | 'constant';
  /** Linear warm-up length in epochs (fractions allowed; counted in iterations). */
  warmupEpochs?: number;
  /** Warm-up start factor (mmengine LinearLR: 1/3 by default; timm-style 0.001 common). */
  warmupStartFactor?: number;
  /** cosine: the final lr relative to the base lr (scaled per group by lrMult). */
  etaMinRatio?: number;
  /** step: epochs per step; multistep: epochs where lr drops. */
  stepEpochs?: number;
  milestones?: number[];
  gamma?: number;
  /** onecycle */
  pctStart?: number;
  /** Step per iteration (default) or per epoch. */
  byEpoch?: boolean;
}

export interface AugmentConfig {
  /** Batch-level training transforms, in order, on normalised images (src/augment/batch; docs/augmentations.md). */
  train?: TransformConfig[];
}

export interface LossTermConfig {
  /** DiceLoss on classification logits is a batch soft Dice (src/losses/dice.ts); it needs class-index targets (no MixUp/CutMix). */
  type: 'CrossEntropyLoss' | 'FocalLoss' | 'DiceLoss';
  /** The term's weight in the sum (1). */
  weight?: number;
  /** FocalLoss: the focusing parameter γ (2). */
  gamma?: number;
  /** A name for the logs (default: the type). */
  name?: string;
}

export interface LossConfig {
  labelSmoothing?: number;
  /** Class weights from the training set's label counts (src/losses/class_weights.ts), or one weight per class. */
  classWeight?: ClassWeightMethod | number[];
  /** β of 'effective-number' (0.9999). */
  classWeightBeta?: number;
  /** The loss terms (default: one CrossEntropyLoss). */
  terms?: LossTermConfig[];
  /** How the terms are weighted: fixed weights, uncertainty (Kendall et al. 2018), DWA (Liu et al. 2019) or GradNorm (Chen et al. 2018). */
  weighting?: Weighting;
  /** GradNorm: restoring force α (1.5), Adam lr of the weights (0.025), the shared parameter whose gradients are balanced (the model's last weight matrix, e.g. 'fc.weight'). */
  gradNorm?: { alpha?: number; lr?: number; parameter?: string };
}

export interface SwaConfig {
  /** First epoch averaged, as a fraction of the epochs (0.75) or an epoch number (≥ 1). */
  start: number;
  /** The constant lr SWALR anneals to. */
  lr: number;
  annealEpochs?: number;
  annealStrategy?: 'cos' | 'linear';
}

export interface EmaConfig {
  decay?: number;
  warmup?: boolean;
}

export interface TrainConfig {
  epochs: number;
  /**
   * bf16 autocast (fp32 master weights, fp32 loss), plain fp32, or 'auto': bf16 where the CPU has native bf16 and
   * libtorch's bf16 kernels run (torch.bf16Support()), else fp32 with a one-line notice. Decided when a run starts,
   * recorded in checkpoints and metrics.json, and kept by --resume.
   */
  amp?: 'bf16' | 'fp32' | 'auto';
  /** NHWC memory layout for the model and batches (timm --channels-last): ~12% faster bf16 steps here. */
  channelsLast?: boolean;
  clipGradNorm?: number;
  logInterval?: number;
  evalInterval?: number;
  checkpointInterval?: number;
}

export interface Config {
  task: 'classification';
  seed?: number;
  data: DataConfig;
  model: ModelConfig;
  optimizer: OptimizerConfig;
  schedule?: ScheduleConfig;
  augment?: AugmentConfig;
  /** The loss: options, or the list of terms (shorthand for { terms: [...] }). */
  loss?: LossConfig | LossTermConfig[];
  swa?: SwaConfig;
  ema?: EmaConfig;
  /** Test-time augmentation for `arsenal test --tta` and ensembles (src/infer/tta.ts). */
  tta?: TtaOptions;
  train: TrainConfig;
}

// ---- validation ------------------------------------------------------------------------------------------
const LOSS_TERMS = arr(obj({ type: req(oneOf('CrossEntropyLoss', 'FocalLoss', 'DiceLoss')), weight: opt(num(0)), gamma: opt(num(0)), name: opt(str) }));
const LOSS_OPTIONS = obj({
  labelSmoothing: opt(num(0, 1)), classWeight: opt(anyOf(oneOf(...CLASS_WEIGHT_METHODS), arr(num(0)))), classWeightBeta: opt(num(0, 0.999999999)),
  terms: opt(LOSS_TERMS), weighting: opt(oneOf(...WEIGHTINGS)),
  gradNorm: opt(obj({ alpha: opt(num(0)), lr: opt(num(1e-12)), parameter: opt(str) })),
});

const SCHEMA = obj({
  task: req(oneOf('classification')),
  seed: opt(num(0, Number.MAX_SAFE_INTEGER, true)),
  data: req(obj({
    dataset: req(oneOf('fashion-mnist', 'imagefolder')), root: opt(str), batchSize: req(num(1, 1e6, true)), testBatchSize: opt(num(1, 1e6, true)),
    trainSubset: opt(num(1, 1e9, true)), longTail: opt(num(1, 1e6)), testSubset: opt(num(1, 1e9, true)), mean: opt(arr(num())), std: opt(arr(num(1e-12))), imageSize: opt(arr(num(1, 1e5, true), 2)),
    channels: opt(oneOf(1, 3)), prefetch: opt(num(1, 64, true)),
  })),
  model: req(obj({
    name: req(oneOf('resnet18', 'resnet34', 'resnet50')), stem: opt(oneOf('imagenet', 'small')), width: opt(num(1, 4096, true)),
    zeroInitResidual: opt(bool), dropRate: opt(num(0, 1)), pretrained: opt(str),
  })),
  optimizer: req(obj({
    type: req(oneOf('SGD', 'Adam', 'AdamW')), lr: req(num(0)), momentum: opt(num(0, 1)), nesterov: opt(bool), weightDecay: opt(num(0)),
    betas: opt(arr(num(0, 1), 2)),
    paramwise: opt(obj({
      customKeys: opt(record(obj({ lrMult: opt(num(0)), decayMult: opt(num(0)) }))),
      biasLrMult: opt(num(0)), biasDecayMult: opt(num(0)), normDecayMult: opt(num(0)), flatDecayMult: opt(num(0)),
    })),
  })),
  schedule: opt(obj({
    type: req(oneOf('cosine', 'step', 'multistep', 'onecycle', 'constant')), warmupEpochs: opt(num(0)), warmupStartFactor: opt(num(1e-9, 1)),
    etaMinRatio: opt(num(0, 1)), stepEpochs: opt(num(1, 1e6, true)), milestones: opt(arr(num(0, 1e6, true))), gamma: opt(num(0)),
    pctStart: opt(num(0, 1)), byEpoch: opt(bool),
  })),
  augment: opt(obj({ train: opt(arr(transformCheck)) })),
  loss: opt((v, p) => (Array.isArray(v) ? LOSS_TERMS(v, p) : LOSS_OPTIONS(v, p))),
  swa: opt(obj({ start: req(num(0)), lr: req(num(0)), annealEpochs: opt(num(0, 1e6, true)), annealStrategy: opt(oneOf('cos', 'linear')) })),
  ema: opt(obj({ decay: opt(num(0, 1)), warmup: opt(bool) })),
  tta: opt(obj({
    flips: opt(arr(oneOf('h', 'v'))), shifts: opt(arr(arr(num(-1e4, 1e4, true), 2))), scales: opt(arr(num(1e-3, 1e3))), merge: opt(oneOf('mean', 'logits', 'gmean', 'max')),
  })),
  train: req(obj({
    epochs: req(num(1, 1e6, true)), amp: opt(oneOf('bf16', 'fp32', 'auto')), channelsLast: opt(bool), clipGradNorm: opt(num(0)), logInterval: opt(num(1, 1e9, true)),
    evalInterval: opt(num(1, 1e6, true)), checkpointInterval: opt(num(1, 1e6, true)),
  })),
});

/** Throws a TypeError naming the first wrong key or value. */
export function validateConfig(cfg: unknown): asserts cfg is Config {
  SCHEMA(cfg, 'config');
}

/** Applies `a.b.c=value` overrides (value parsed as JSON when it parses, else a string; null deletes the key). */
export function applyOverrides(cfg: Record<string, any>, sets: string[], flag = '--set'): void {
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new TypeError(`${flag} ${s}: expected key.path=value`);
    const path = s.slice(0, eq).split('.');
    const raw = s.slice(eq + 1);
    let value: unknown;
    try { value = JSON.parse(raw); } catch { value = raw; }
    let o = cfg;
    for (const k of path.slice(0, -1)) {
      if (o[k] === undefined) o[k] = {};
      if (typeof o[k] !== 'object' || o[k] === null) throw new TypeError(`${flag} ${s}: '${k}' is not an object in the config`);
      o = o[k];
    }
    // `key=null` deletes the key: the way to switch a recipe's trick off from the command line.
    if (value === null) delete o[path[path.length - 1]];
    else o[path[path.length - 1]] = value;
  }
}

/** The loss section in its long form (the terms list is shorthand for { terms }). */
export function lossOptions(l: Config['loss']): LossConfig {
  return Array.isArray(l) ? { terms: l } : l ?? {};
}
