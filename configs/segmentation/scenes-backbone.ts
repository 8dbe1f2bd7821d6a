// A backbone pre-trained on the scenes' own objects. No ImageNet weights can be
// fetched here, so torchvision's MobileNetV3-Large classifier first learns the
// object classes from 64×64 crops cut from the segmentation training split
// (the scenes generator's DIR/crops/{train,val}/<class>/*.png), then a
// segmentation recipe starts its backbone from it (model.backbonePretrained:
// features.* → backbone.*, the classifier dropped; src/models/backbone_transfer.ts)
// with a tenth of the head's lr on the backbone (mmengine paramwise_cfg
// custom_keys {'backbone': dict(lr_mult=0.1)}). A from-scratch segmentation run
// is the same recipe without the two keys.
//   arsenal train configs/segmentation/scenes-backbone.ts            (a 30-minute budget on 2 cores)
//   arsenal train configs/segmentation/<recipe>.ts \
//     --set model.backbonePretrained=work_dirs/scenes-backbone/best.safetensors \
//     --set optimizer.paramwise.customKeys.backbone.lrMult=0.1
// or, in a recipe, `export default fineTuneBackbone(recipe)`. The segmentation
// model's widthMult must be this one's (a mismatch is an error naming the key),
// and its data.mean / data.std these (the backbone learnt on them).
// The data: DIR is $ARSENAL_SCENES (default data/scenes, relative to where
// arsenal runs), or --set data.root=DIR/crops.
// AdamW with no decay on norms and biases, cosine after a 1-epoch warm-up,
// label smoothing 0.1, horizontal flips and colour jitter (no hue: an object's
// colour may be its class); torchvision's dropout 0.2 before the last Linear.
import type { Config, SegmentationConfig } from '../../src/tasks/index.js';

const SCENES = process.env.ARSENAL_SCENES ?? 'data/scenes';
/** Where this recipe's best weights land (work_dirs/<recipe>/best.safetensors, by top-1 on the val crops). */
export const BACKBONE_WEIGHTS = 'work_dirs/scenes-backbone/best.safetensors';
export const MEAN = [0.485, 0.456, 0.406];
export const STD = [0.229, 0.224, 0.225];

export default {
  task: 'classification',
  seed: 42,
  data: { dataset: 'imagefolder', root: `${SCENES}/crops`, trainSplit: 'train', testSplit: 'val', imageSize: [64, 64], channels: 3, batchSize: 64, mean: MEAN, std: STD },
  model: { name: 'mobilenet_v3_large', widthMult: 1 },
  optimizer: { type: 'AdamW', lr: 2e-3, weightDecay: 0.05, paramwise: { normDecayMult: 0, biasDecayMult: 0 } },
  schedule: { type: 'cosine', warmupEpochs: 1, warmupStartFactor: 0.1 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }, { type: 'ColorJitter', brightness: 0.3, contrast: 0.3, saturation: 0.3 }] },
  loss: { labelSmoothing: 0.1 },
  train: { epochs: 30, amp: 'auto', budget: '30m' },
} satisfies Config;

/** A segmentation recipe started from this backbone: model.backbonePretrained, and lrMult (0.1) on the parameters under 'backbone'. */
export function fineTuneBackbone<C extends SegmentationConfig>(cfg: C, weights = BACKBONE_WEIGHTS, lrMult = 0.1): C {
  const pw = cfg.optimizer.paramwise ?? {};
  return {
    ...cfg,
    model: { ...cfg.model, backbonePretrained: weights },
    optimizer: { ...cfg.optimizer, paramwise: { ...pw, customKeys: { ...pw.customKeys, backbone: { ...pw.customKeys?.backbone, lrMult } } } },
  };
}
