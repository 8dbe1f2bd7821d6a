// configs/detection/scenes.ts with its backbone pre-trained on the scenes'
// object crops (configs/detection/scenes-backbone.ts), fine-tuned as
// torchvision and mmdet fine-tune a detector: the backbone's BatchNorm frozen
// (FrozenBatchNorm2d; GroupNorm stays in the head), conv1 and layer1 frozen
// (torchvision's trainable_backbone_layers 3), and a tenth of the lr on the
// backbone (mmengine paramwise_cfg custom_keys {'backbone': lr_mult 0.1}:
// the ResNet and the FPN, which are both under `backbone.`, as in mmdet's
// FCOS where the FPN is the neck — say `backbone.body` to leave the FPN at
// the head's lr).
//   arsenal train configs/detection/scenes-backbone.ts --work-dir work_dirs/scenes-backbone-resnet18
//   arsenal train configs/detection/scenes-pretrained.ts
import type { Config, DetectionConfig } from '../../src/tasks/index.js';
import scenes from './scenes.js';
import { RESNET18_WEIGHTS } from './scenes-backbone.js';

export default {
  ...scenes,
  model: { ...scenes.model, normLayer: 'frozen', trainableBackboneLayers: 3, backbonePretrained: RESNET18_WEIGHTS },
  optimizer: { ...scenes.optimizer, paramwise: { customKeys: { backbone: { lrMult: 0.1 } } } },
} satisfies DetectionConfig satisfies Config;
