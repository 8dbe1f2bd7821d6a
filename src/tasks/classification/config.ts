// The classification config: the shared sections (src/config/sections.ts)
// plus data, model and loss; each type derived from its schema.
import { arr, bool, num, obj, oneOf, opt, req, str, type Infer } from '../../util/schema.js';
import { BASE_SHAPE, DATA_COMMON, LOSS_COMMON, lossSection, ttaSection } from '../../config/sections.js';
import { MERGES } from '../../infer/merge.js';
import { MODEL_NAMES } from '../../models/registry.js';

export const DATA = obj({
  ...DATA_COMMON,
  dataset: req(oneOf('fashion-mnist', 'imagefolder')),
  /** Dataset folder (fashion-mnist: the IDX files; imagefolder: DIR with train/<class>/* and test/<class>/*). */
  root: opt(str),
  /** Train on the first N training images only (quick runs). */
  trainSubset: opt(num(1, 1e9, true)),
  /** Make the training set long-tailed with this imbalance ratio (Cui et al. 2019: class c keeps n_max·ratio^(−c/(K−1))); the test set stays balanced. */
  longTail: opt(num(1, 1e6)),
  /** Evaluate on the first N test images only (quick runs). */
  testSubset: opt(num(1, 1e9, true)),
  /** imagefolder: the sub-folders of root with the training and the test images ('train', 'test'; e.g. 'val'). */
  trainSplit: opt(str),
  testSplit: opt(str),
  /** imagefolder: resize to [H, W] and channels (1 or 3). */
  imageSize: opt(arr(num(1, 1e5, true), 2)),
  channels: opt(oneOf(1, 3)),
});

export const MODEL = obj({
  name: req(oneOf(...MODEL_NAMES)),
  stem: opt(oneOf('imagenet', 'small')),
  width: opt(num(1, 4096, true)),
  zeroInitResidual: opt(bool),
  /** ResNet's norm layer (torchvision norm_layer): 'batch' (BatchNorm2d, default) or 'frozen' (FrozenBatchNorm2d: no batch statistics). */
  normLayer: opt(oneOf('batch', 'frozen')),
  /** Dropout before the classifier's last Linear: ResNet's (timm drop_rate; 0), MobileNetV3's (torchvision dropout; 0.2). */
  dropRate: opt(num(0, 1)),
  /** MobileNetV3's width multiplier (torchvision width_mult; 1). */
  widthMult: opt(num(0.05, 4)),
  /** A safetensors state dict (torchvision's keys or Arsenal's). */
  pretrained: opt(str),
});

export const LOSS_TERM = obj({
  /** DiceLoss on classification logits is a batch soft Dice (src/losses/dice.ts); it needs class-index targets (no MixUp/CutMix). */
  type: req(oneOf('CrossEntropyLoss', 'FocalLoss', 'DiceLoss')),
  /** The term's weight in the sum (1). */
  weight: opt(num(0)),
  /** FocalLoss: the focusing parameter γ (2). */
  gamma: opt(num(0)),
  /** A name for the logs (default: the type). */
  name: opt(str),
});

export const LOSS = obj({
  labelSmoothing: opt(num(0, 1)),
  ...LOSS_COMMON,
  /** The loss terms (default: one CrossEntropyLoss). */
  terms: opt(arr(LOSS_TERM)),
});

const B = BASE_SHAPE;
export const CLASSIFICATION = obj({
  task: req(oneOf('classification')),
  seed: B.seed,
  data: req(DATA),
  model: req(MODEL),
  optimizer: B.optimizer,
  schedule: B.schedule,
  augment: B.augment,
  /** The loss: options, or the list of terms (shorthand for { terms: [...] }). */
  loss: lossSection(LOSS_TERM, LOSS),
  swa: B.swa,
  ema: B.ema,
  /** Test-time augmentation for `arsenal test --tta`, ensembles and the end of training (src/infer/tta.ts). */
  tta: opt(ttaSection(MERGES)),
  train: B.train,
});

export type ClassificationConfig = Infer<typeof CLASSIFICATION>;
export type DataConfig = Infer<typeof DATA>;
export type ModelConfig = Infer<typeof MODEL>;
export type LossTermConfig = Infer<typeof LOSS_TERM>;
export type LossConfig = Infer<typeof LOSS>;

/** The loss section in its long form (the terms list is shorthand for { terms }). */
export function lossOptions(l: ClassificationConfig['loss']): LossConfig {
  return Array.isArray(l) ? { terms: l } : l ?? {};
}
