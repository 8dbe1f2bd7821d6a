// The detection config: the shared sections (src/config/sections.ts) plus data
// (a COCO json, Pascal VOC xml or YOLO txt split), model (FCOS by
// torchvision's names), loss (FCOS's three terms), postprocess (torchvision's
// or mmdet's FCOS test settings), TTA and how boxes of several views or
// members merge (boxMerge); each type derived from its schema.
import { arr, as, fail, num, obj, oneOf, opt, req, str, type Infer } from '../../util/schema.js';
import { DET_MODEL_NAMES } from '../../models/detection/index.js';
import { BASE_SHAPE, DATA_COMMON, LOSS_COMMON, ttaSection } from '../../config/sections.js';

const DET_DATA_OBJ = obj({
  ...DATA_COMMON,
  /** coco: an instances json and its image folder (src/data/coco_json.ts); voc: VOCdevkit's layout (voc_xml.ts); yolo: images/ and labels/ (yolo_txt.ts). */
  dataset: req(oneOf('coco', 'voc', 'yolo')),
  root: req(str),
  /**
   * coco: the split's instances json, relative to root (or absolute); `{split}` becomes the split. Default
   * 'annotations/instances_{split}.json', what `arsenal data scenes` writes (COCO itself: with splits 'train2017', 'val2017').
   */
  annFile: opt(str),
  /** coco: the folder the json's file_name is relative to, relative to root; `{split}` becomes the split. Default 'img_dir/{split}' (the scenes'; COCO itself: '{split}'). */
  imageDir: opt(str),
  /** The split names: coco the `{split}` of annFile and imageDir, voc ImageSets/Main/<split>.txt, yolo images/<split>. Default 'train' and 'val'. */
  trainSplit: opt(str),
  testSplit: opt(str),
  /** Class names in label order. voc: default VOC's 20; yolo: required (data.yaml's names); coco: read from the json (categories by ascending id), checked against this list when given. */
  classes: opt(arr(str)),
  /** Resize every image (bilinear; aspect ratio not kept) and its boxes to [H, W]. Needed unless all images share one size (a batch is one tensor). */
  imageSize: opt(arr(num(1, 1e5, true), 2)),
  /** Train on the first N training images only (the json's order, the split list's, sorted file names). */
  trainSubset: opt(num(1, 1e9, true)),
  /** Evaluate on the first N test images only. */
  testSubset: opt(num(1, 1e9, true)),
  /** A degenerate box, one outside its image or of an unknown class: 'drop' (default, counted and logged; mmdet and torchvision drop them) or 'error'. */
  onBadBox: opt(oneOf('error', 'drop')),
});

export const DET_DATA = as<Infer<typeof DET_DATA_OBJ>>((v, p) => {
  DET_DATA_OBJ(v, p);
  const d = v as Infer<typeof DET_DATA_OBJ>;
  if (d.dataset === 'yolo' && d.classes === undefined) fail(`${p}.classes`, "required for dataset 'yolo' (data.yaml's names, in label order)");
  if (d.dataset !== 'coco') for (const k of ['annFile', 'imageDir'] as const) if (d[k] !== undefined) fail(`${p}.${k}`, `applies to dataset 'coco' only, not '${d.dataset}'`);
  if (d.classes !== undefined && (d.classes.length === 0 || new Set(d.classes).size !== d.classes.length)) fail(`${p}.classes`, 'expected a non-empty list of distinct class names');
});

export const DET_MODEL = obj({
  /** src/models/detection: torchvision's names (fcos_resnet50_fpn, …, fcos_resnet18_fpn, fcos_mobilenet_v3_large_fpn). */
  name: req(oneOf(...DET_MODEL_NAMES)),
  /** Convs per head tower (torchvision 4). */
  numConvs: opt(num(0, 64, true)),
  /** FPN and head channels, a multiple of 32 (the head's GroupNorm(32); torchvision 256). */
  outChannels: opt(num(32, 4096, true)),
  /**
   * ResNet's norm: 'frozen' (FrozenBatchNorm2d) or 'batch'. Default as torchvision's fcos_resnet50_fpn: 'frozen' with
   * pretrained weights (model.pretrained or model.backbonePretrained), 'batch' without — frozen norms of a backbone
   * trained from scratch stay the identity they were initialised as.
   */
  normLayer: opt(oneOf('frozen', 'batch')),
  /** torchvision's trainable_backbone_layers. Default 3 with pretrained weights; without, every stage (ResNet 5, MobileNetV3 6), as torchvision. */
  trainableBackboneLayers: opt(num(0, 6, true)),
  /** ResNet's base width (64): narrow models for tests. */
  width: opt(num(1, 4096, true)),
  /** MobileNetV3's width multiplier (1). */
  widthMult: opt(num(0.05, 4)),
  /** A whole FCOS state dict (torchvision's keys), safetensors; the class-score layer of another number of classes is skipped (fine-tuning). */
  pretrained: opt(str),
  /** A classifier's safetensors (torchvision's or Arsenal's ResNet / MobileNetV3) loaded strictly into backbone.body (src/models/backbone_transfer.ts). */
  backbonePretrained: opt(str),
});

const WEIGHT = opt(num(0));
export const DET_LOSS = obj({
  /** Each term's weight (default 1), by torchvision's names of FCOS's losses. */
  weights: opt(obj({ classification: WEIGHT, bbox_regression: WEIGHT, bbox_ctrness: WEIGHT })),
  /** The classification term's sigmoid focal loss α (0.25) and γ (2) (torchvision, mmdet FCOS). */
  alpha: opt(num(0, 1)),
  gamma: opt(num(0)),
  weighting: LOSS_COMMON.weighting,
  /** GradNorm; its parameter defaults to backbone.fpn.layer_blocks.2.0.weight (the FPN's P5, which P6 and P7 come from: the last layer every term reaches). */
  gradNorm: LOSS_COMMON.gradNorm,
});

/** FCOS's test settings (src/models/detection/fcos_postprocess.ts): a preset's values, each overridable. */
export const DET_POSTPROCESS = obj({
  /** 'torchvision' (default: score sqrt(σ(cls)·σ(ctr)) > 0.2, NMS 0.6) or 'mmdet' (σ(cls) > 0.05, then × σ(ctr), NMS 0.5). */
  preset: opt(oneOf('torchvision', 'mmdet')),
  scoreThresh: opt(num(0, 0.999999)),
  topkCandidates: opt(num(1, 1e7, true)),
  nmsThresh: opt(num(0, 1)),
  detectionsPerImg: opt(num(1, 1e5, true)),
});

/** How the boxes of TTA views and ensemble members merge, image by image (each merge's options; the result keeps postprocess.detectionsPerImg). */
export const DET_BOX_MERGE = obj({
  /** 'nms': all boxes, one class-wise NMS (mmdet's TTA merge_aug_bboxes then NMS). iouThr: default postprocess's nmsThresh. */
  nms: opt(obj({ iouThr: opt(num(0, 1)) })),
  /** 'wbf': weighted boxes fusion (ensemble_boxes): iouThr 0.55, skipBoxThr 1e-4, confType 'avg'. */
  wbf: opt(obj({ iouThr: opt(num(0, 1)), skipBoxThr: opt(num(0, 1)), confType: opt(oneOf('avg', 'max', 'box_and_model_avg', 'absent_model_aware_avg')) })),
  /** 'soft-nms': mmcv's soft_nms per class: iouThr 0.3, sigma 0.5, minScore 1e-3, method 'linear'. */
  softNms: opt(obj({ iouThr: opt(num(0, 1)), sigma: opt(num(1e-9)), minScore: opt(num(0)), method: opt(oneOf('linear', 'gaussian')) })),
});

/** Detection's TTA and ensemble merges (the first is the default). */
export const DET_MERGES = ['nms', 'wbf', 'soft-nms'] as const;

const B = BASE_SHAPE;
export const DETECTION = obj({
  task: req(oneOf('detection')),
  seed: B.seed,
  data: req(DET_DATA),
  model: req(DET_MODEL),
  optimizer: B.optimizer,
  schedule: B.schedule,
  augment: B.augment,
  loss: opt(DET_LOSS),
  postprocess: opt(DET_POSTPROCESS),
  swa: B.swa,
  ema: B.ema,
  tta: opt(ttaSection(DET_MERGES)),
  boxMerge: opt(DET_BOX_MERGE),
  train: B.train,
});

export type DetectionConfig = Infer<typeof DETECTION>;
export type DetDataConfig = Infer<typeof DET_DATA>;
export type DetLossConfig = Infer<typeof DET_LOSS>;
export type DetPostprocessConfig = Infer<typeof DET_POSTPROCESS>;
export type DetBoxMergeConfig = Infer<typeof DET_BOX_MERGE>;
