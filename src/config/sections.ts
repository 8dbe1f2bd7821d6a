// The config sections every task shares — optimizer, schedule, batch
// augmentations, SWA, EMA, test-time augmentation and the training loop — as
// schemas; each type is derived from its schema (written once). A task's
// config adds its own data, model and loss sections (src/tasks/*/config.ts)
// and is validated as a whole (errors name the key: `config.optimizer.momentun:
// unknown key (expected one of …)`). docs/architecture.md has the layers.
import type { ParamwiseOptions } from '../optim/paramwise.js';
import { transformCheck, type TransformConfig } from '../augment/batch/pipeline.js';
import { sampleStepsCheck, type MixStepConfig } from '../augment/sample/mix_dataset.js';
import { anyOf, arr, as, bool, num, obj, oneOf, opt, record, req, str, type Check, type Infer } from '../util/schema.js';
import { CLASS_WEIGHT_METHODS } from '../losses/class_weights.js';
import { WEIGHTINGS } from '../losses/multi_loss.js';

const PARAMWISE = as<ParamwiseOptions>(obj({
  customKeys: opt(record(obj({ lrMult: opt(num(0)), decayMult: opt(num(0)) }))),
  biasLrMult: opt(num(0)), biasDecayMult: opt(num(0)), normDecayMult: opt(num(0)), flatDecayMult: opt(num(0)),
}));

export const OPTIMIZER = obj({
  type: req(oneOf('SGD', 'Adam', 'AdamW')),
  lr: req(num(0)),
  momentum: opt(num(0, 1)),
  nesterov: opt(bool),
  /** Default 0, and 0.01 for AdamW (torch.optim.AdamW). */
  weightDecay: opt(num(0)),
  betas: opt(arr(num(0, 1), 2)),
  /** Per-module lr and decay multipliers (mmengine paramwise_cfg; src/optim/paramwise.ts). */
  paramwise: opt(PARAMWISE),
});

export const SCHEDULE = obj({
  type: req(oneOf('cosine', 'poly', 'step', 'multistep', 'onecycle', 'constant')),
  /** Linear warm-up length in epochs (fractions allowed; counted in iterations). */
  warmupEpochs: opt(num(0)),
  /** Warm-up start factor (mmengine LinearLR: 1/3 by default; timm-style 0.001 common). */
  warmupStartFactor: opt(num(1e-9, 1)),
  /** cosine, poly: the final lr relative to the base lr (scaled per group by lrMult; cosine 0, poly 0.01 as mmseg's eta_min 1e-4 at lr 0.01). */
  etaMinRatio: opt(num(0, 1)),
  /** poly: the exponent (mmseg's configs: 0.9). */
  power: opt(num(1e-6, 100)),
  /** step: epochs per step. */
  stepEpochs: opt(num(1, 1e6, true)),
  /** multistep: epochs where the lr drops. */
  milestones: opt(arr(num(0, 1e6, true))),
  gamma: opt(num(0)),
  /** onecycle */
  pctStart: opt(num(0, 1)),
  /** Step per iteration (default) or per epoch. */
  byEpoch: opt(bool),
});

export const AUGMENT = obj({
  /** Batch-level training transforms, in order, on normalised images (src/augment/batch; docs/augmentations.md). */
  train: opt(arr(as<TransformConfig>(transformCheck))),
  /**
   * Multi-sample training transforms, in order, on each training sample before batching (Mosaic, RandomAffine,
   * YoloxMixUp; mmdet MultiImageMixDataset; src/augment/sample/mix_dataset.ts): `offLastEpochs` switches a step off
   * for the last epochs (YOLOX's no-augmentation tail). Outputs of another size are resized back to the dataset's.
   */
  sample: opt(as<MixStepConfig[]>(sampleStepsCheck)),
});

export const SWA = obj({
  /** First epoch averaged, as a fraction of the epochs (0.75) or an epoch number (≥ 1). */
  start: req(num(0)),
  /** The constant lr SWALR anneals to. */
  lr: req(num(0)),
  annealEpochs: opt(num(0, 1e6, true)),
  annealStrategy: opt(oneOf('cos', 'linear')),
});

export const EMA = obj({ decay: opt(num(0, 1)), warmup: opt(bool) });

/** Test-time augmentation: the views, and how they merge — one of the task's own merges (Task.merges), so each task's schema makes its section. */
export const ttaSection = <const M extends readonly string[]>(merges: M) => obj({
  flips: opt(arr(oneOf('h', 'v'))),
  shifts: opt(arr(arr(num(-1e4, 1e4, true), 2))),
  scales: opt(arr(num(1e-3, 1e3))),
  /** mmseg's multi-scale TTA: the whole image resized by each ratio, dense scores resized back. */
  ratios: opt(arr(num(1e-2, 100))),
  merge: opt(oneOf(...merges)),
});

/** A duration: seconds, or a string such as '90s', '10m', '1.5h'. */
export const DURATION = anyOf(num(1), as<string>((v, p) => {
  str(v, p);
  if (!/^\d+(\.\d+)?\s*(s|m|min|h)$/.test(v as string)) throw new TypeError(`${p}: expected a duration such as '90s', '10m' or '1.5h', got ${JSON.stringify(v)}`);
}));

export const TRAIN = obj({
  epochs: req(num(1, 1e6, true)),
  /**
   * bf16 autocast (fp32 master weights, fp32 loss), plain fp32, or 'auto': bf16 where the CPU has native bf16 and
   * libtorch's bf16 kernels run (torch.bf16Support()), else fp32 with a one-line notice. Decided when a run starts,
   * recorded in checkpoints and metrics.json, and kept by --resume.
   */
  amp: opt(oneOf('bf16', 'fp32', 'auto')),
  /** NHWC memory layout for the model and batches (timm --channels-last): ~12% faster bf16 steps here. */
  channelsLast: opt(bool),
  clipGradNorm: opt(num(0)),
  logInterval: opt(num(1, 1e9, true)),
  evalInterval: opt(num(1, 1e6, true)),
  checkpointInterval: opt(num(1, 1e6, true)),
  /**
   * A wall-time budget for the whole run (`--budget 10m`): the first steps are timed and each epoch is cut to the
   * steps that fit, the schedule, warm-up, SWA and augmentation tail laid out over them (src/engine/budget.ts).
   */
  budget: opt(DURATION),
  /**
   * In a data-parallel run (`--nproc N`), BatchNorm's batch statistics over every process's batch together
   * (SyncBatchNorm; mmengine's `sync_bn`). Default false: each process's own batch, as PyTorch's DDP.
   */
  syncBatchNorm: opt(bool),
  /**
   * In a data-parallel run, parameters that take no part in some steps' loss (a head used on some steps only) are
   * found by walking the graph from the outputs (DistributedDataParallel find_unused_parameters). Default false.
   */
  findUnusedParameters: opt(bool),
});

/** The loss keys every task shares: class weights from the training set's counts, and how the terms are weighted. */
export const LOSS_COMMON = {
  /** Class weights from the training set's counts (labels or pixels; src/losses/class_weights.ts), or one weight per class. */
  classWeight: opt(anyOf(oneOf(...CLASS_WEIGHT_METHODS), arr(num(0)))),
  /** β of 'effective-number' (0.9999). */
  classWeightBeta: opt(num(0, 0.999999999)),
  /** How the terms are weighted: fixed weights, uncertainty (Kendall et al. 2018), DWA (Liu et al. 2019) or GradNorm (Chen et al. 2018). */
  weighting: opt(oneOf(...WEIGHTINGS)),
  /** GradNorm: restoring force α (1.5), Adam lr of the weights (0.025), the shared parameter whose gradients are balanced (the model's last weight matrix, e.g. 'fc.weight'). */
  gradNorm: opt(obj({ alpha: opt(num(0)), lr: opt(num(1e-12)), parameter: opt(str) })),
};

/** A task's `loss` key: its options, or the list of its terms (shorthand for { terms: [...] }). */
export const lossSection = <T, L>(term: Check<T>, options: Check<L>) => opt(as<T[] | L>((v, p) => (Array.isArray(v) ? arr(term)(v, p) : options(v, p))));

/** The shape every task's config shares; a task adds `data`, `model`, `loss`, `tta`. */
export const BASE_SHAPE = {
  seed: opt(num(0, Number.MAX_SAFE_INTEGER, true)),
  optimizer: req(OPTIMIZER),
  schedule: opt(SCHEDULE),
  augment: opt(AUGMENT),
  swa: opt(SWA),
  ema: opt(EMA),
  train: req(TRAIN),
};

export type OptimizerConfig = Infer<typeof OPTIMIZER>;
export type ScheduleConfig = Infer<typeof SCHEDULE>;
export type AugmentConfig = Infer<typeof AUGMENT>;
export type SwaConfig = Infer<typeof SWA>;
export type EmaConfig = Infer<typeof EMA>;
export type TtaConfig = Infer<ReturnType<typeof ttaSection<readonly string[]>>>;
export type TrainConfig = Infer<typeof TRAIN>;

/** What the engine reads of any task's config. */
export interface BaseConfig {
  task: string;
  seed?: number;
  data: { batchSize: number; testBatchSize?: number; prefetch?: number; mean?: number[]; std?: number[] };
  model: { name: string };
  optimizer: OptimizerConfig;
  schedule?: ScheduleConfig;
  augment?: AugmentConfig;
  swa?: SwaConfig;
  ema?: EmaConfig;
  tta?: TtaConfig;
  train: TrainConfig;
}

/** The data keys the engine reads (batching and normalisation), shared by every task's data section. */
export const DATA_COMMON = {
  batchSize: req(num(1, 1e6, true)),
  /** Evaluation batch size (default: 2 × batchSize). */
  testBatchSize: opt(num(1, 1e6, true)),
  /** Per-channel mean and std of the 0–1 pixels, for normalisation. */
  mean: opt(arr(num())),
  std: opt(arr(num(1e-12))),
  prefetch: opt(num(1, 64, true)),
};
