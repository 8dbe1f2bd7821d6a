// The segmentation config: the shared sections (src/config/sections.ts) plus
// data (mmseg's or VOC's folder layout), model, loss and TTA; each type
// derived from its schema.
import { arr, bool, num, obj, oneOf, opt, req, str, type Infer } from '../../util/schema.js';
import { SEG_MODEL_NAMES } from '../../models/segmentation.js';
import { BASE_SHAPE, DATA_COMMON, LOSS_COMMON, lossSection, ttaSection } from '../../config/sections.js';

export const SEG_DATA = obj({
  ...DATA_COMMON,
  /** mmseg: img_dir/{split}/*, ann_dir/{split}/*.png (class-index PNGs); voc: JPEGImages, SegmentationClass (palette PNGs), ImageSets/Segmentation. */
  dataset: req(oneOf('mmseg', 'voc')),
  root: req(str),
  /** Class names, in label order (label k is classes[k]; 255 = ignore). */
  classes: req(arr(str)),
  /** mmseg's reduce_zero_label: label 0 becomes 255 (ignored), the others move down by one. */
  reduceZeroLabel: opt(bool),
  trainSplit: opt(oneOf('train', 'val')),
  testSplit: opt(oneOf('train', 'val')),
  /** Resize images (bilinear) and masks (nearest) to [H, W]. */
  imageSize: opt(arr(num(1, 1e5, true), 2)),
});

export const SEG_MODEL = obj({
  /** src/models/segmentation.ts: torchvision's names (lraspp_mobilenet_v3_large, …). */
  name: req(oneOf(...SEG_MODEL_NAMES)),
  /** MobileNetV3's width multiplier (torchvision width_mult; 1). */
  widthMult: opt(num(0.05, 4)),
  /** FCN / DeepLabV3 on ResNet: the base width (64, torchvision's); narrower models for tests. */
  width: opt(num(1, 4096, true)),
  /** FCN / DeepLabV3 on ResNet: 8 (torchvision's: layer3 and layer4 dilated) or 16 (layer4 only; mmseg's and the DeepLabV3 paper's training stride). */
  outputStride: opt(oneOf(8, 16)),
  /** FCN / DeepLabV3: an auxiliary FCNHead on the stage before the last (torchvision aux_loss), trained with loss.auxWeight × its cross-entropy; evaluation reads the main head only. */
  auxLoss: opt(bool),
  /** A safetensors state dict (torchvision's keys). */
  pretrained: opt(str),
});

export const SEG_LOSS_TERM = obj({
  type: req(oneOf('CrossEntropyLoss', 'FocalLoss', 'DiceLoss', 'LovaszLoss')),
  weight: opt(num(0)),
  /** FocalLoss: γ (2). */
  gamma: opt(num(0)),
  name: opt(str),
});

export const SEG_LOSS = obj({
  ...LOSS_COMMON,
  /** CrossEntropyLoss's mean: mmseg's (default; avgNonIgnore false divides by all pixels) or PyTorch's weighted mean. */
  normaliser: opt(oneOf('mmseg', 'pytorch')),
  /** mmseg's avg_non_ignore: divide by the non-ignored pixels. */
  avgNonIgnore: opt(bool),
  terms: opt(arr(SEG_LOSS_TERM)),
  /** With model.auxLoss: the weight of the auxiliary head's cross-entropy (same class weights, ignore and normaliser). Default 0.4, mmseg's configs' auxiliary loss_weight (torchvision's reference train.py uses 0.5). */
  auxWeight: opt(num(0)),
});

/** Segmentation's TTA and ensemble merges: the (weighted) mean of probabilities (mmseg), of logits, the geometric mean, the maximum. */
export const SEG_MERGES = ['mean', 'logits', 'gmean', 'max'] as const;

const B = BASE_SHAPE;
export const SEGMENTATION = obj({
  task: req(oneOf('segmentation')),
  seed: B.seed,
  data: req(SEG_DATA),
  model: req(SEG_MODEL),
  optimizer: B.optimizer,
  schedule: B.schedule,
  augment: B.augment,
  loss: lossSection(SEG_LOSS_TERM, SEG_LOSS),
  swa: B.swa,
  ema: B.ema,
  tta: opt(ttaSection(SEG_MERGES)),
  train: B.train,
});

export type SegmentationConfig = Infer<typeof SEGMENTATION>;
export type SegLossConfig = Infer<typeof SEG_LOSS>;

export function segLossOptions(l: SegmentationConfig['loss']): SegLossConfig {
  return Array.isArray(l) ? { terms: l } : l ?? {};
}
