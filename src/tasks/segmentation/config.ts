// The segmentation config: the shared sections (src/config/sections.ts) plus
// data (mmseg's or VOC's folder layout), model, loss, TTA and inference
// (whole image or sliding windows); each type
// derived from its schema.
import { arr, as, bool, num, obj, oneOf, opt, req, str, type Infer } from '../../util/schema.js';
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
  /** Train on the first N training images only (the split's order: mmseg sorted file names, VOC the ImageSets list). */
  trainSubset: opt(num(1, 1e9, true)),
  /** Evaluate on the first N test images only. */
  testSubset: opt(num(1, 1e9, true)),
  /** Resize images (bilinear) and masks (nearest) to [H, W]. */
  imageSize: opt(arr(num(1, 1e5, true), 2)),
});

export const SEG_MODEL = obj({
  /** src/models/segmentation.ts: torchvision's names (lraspp_mobilenet_v3_large, …). */
  name: req(oneOf(...SEG_MODEL_NAMES)),
  /** MobileNetV3's width multiplier (torchvision width_mult; 1). */
  widthMult: opt(num(0.05, 4)),
  /** ResNet's base width (64) of the ResNet models (unet_*, fpn_*, fcn_*, deeplabv3_*): narrower models for tests. */
  width: opt(num(1, 4096, true)),
  /** FCN / DeepLabV3 on ResNet: 8 (torchvision's: layer3 and layer4 dilated) or 16 (layer4 only: the DeepLabV3 paper's training stride, and ASPP's rates 6, 12, 18; mmseg's d8 configs are 8). */
  outputStride: opt(oneOf(8, 16)),
  /** FCN / DeepLabV3: an auxiliary FCNHead on the stage before the last (torchvision aux_loss), trained with loss.auxWeight × its cross-entropy; evaluation reads the main head only. */
  auxLoss: opt(bool),
  /** A safetensors state dict (torchvision's keys). */
  pretrained: opt(str),
  /** A classifier's safetensors (mobilenet_v3_large's features.*, a ResNet's backbone.* or torchvision's conv1…layer4) loaded into the backbone, strictly (src/models/backbone_transfer.ts); pair with optimizer.paramwise.customKeys.backbone.lrMult (0.1). */
  backbonePretrained: opt(str),
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

const PAIR = arr(num(1, 1e5, true), 2);
const WHOLE = obj({ mode: req(oneOf('whole')) });
const SLIDE = obj({
  mode: req(oneOf('slide')),
  /** [h, w] of a window (mmseg crop_size). */
  crop: req(PAIR),
  /** [h, w] between windows (mmseg stride); overlaps are averaged. */
  stride: req(PAIR),
});
/**
 * How evaluation runs the model (mmseg's model test_cfg): 'whole' (default) one forward per image, or 'slide' —
 * windows of `crop` every `stride`, scores of overlapping windows averaged (src/infer/slide.ts). TTA views are each slid.
 */
export const SEG_INFERENCE = as<Infer<typeof WHOLE> | Infer<typeof SLIDE>>((v, p) => {
  const mode = (v as { mode?: unknown } | null)?.mode;
  (mode === 'slide' ? SLIDE : mode === 'whole' ? WHOLE : obj({ mode: req(oneOf('whole', 'slide')), crop: opt(PAIR), stride: opt(PAIR) }))(v, p);
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
  inference: opt(SEG_INFERENCE),
  train: B.train,
});

export type SegmentationConfig = Infer<typeof SEGMENTATION>;
export type SegLossConfig = Infer<typeof SEG_LOSS>;

export function segLossOptions(l: SegmentationConfig['loss']): SegLossConfig {
  return Array.isArray(l) ? { terms: l } : l ?? {};
}
