// The detection recipes' pre-trained backbone: torchvision's ResNet-18 (the
// ImageNet stem, so its keys and strides are those FCOS's backbone.body has)
// trained as a classifier on the 64×64 object crops of the scenes' training
// split (DIR/crops/{train,val}/<class>/*.png), as
// configs/segmentation/scenes-backbone.ts trains MobileNetV3 for segmentation:
// no ImageNet weights can be fetched here. The same recipe otherwise (AdamW,
// cosine, label smoothing, flips and colour jitter, a 30-minute budget).
//   arsenal train configs/detection/scenes-backbone.ts
//   arsenal train configs/detection/scenes-pretrained.ts      (FCOS from it)
import type { Config } from '../../src/tasks/index.js';
import crops from '../segmentation/scenes-backbone.js';

/** Where this recipe's best weights land (by top-1 on the val crops). */
export const RESNET18_WEIGHTS = 'work_dirs/scenes-backbone-resnet18/best.safetensors';

export default {
  ...crops,
  model: { name: 'resnet18', stem: 'imagenet' },
} satisfies Config;
