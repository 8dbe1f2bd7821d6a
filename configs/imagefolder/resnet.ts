// Any folder of images, one sub-folder per class:
//   arsenal train configs/imagefolder/resnet.ts --set data.root=DIR
// with DIR/train/<class>/*.png|jpg and DIR/test/<class>/*. Images are resized
// to 64×64 RGB; ResNet-18 with the ImageNet stem, AdamW, cosine, flips.
// Start from torchvision's ImageNet weights with --set model.pretrained=resnet18.safetensors
// (saved in Python with safetensors.torch.save_file(torchvision.models.resnet18(weights=...).state_dict(), ...)).
import type { Config } from '../../src/tasks/index.js';

export default {
  task: 'classification',
  seed: 42,
  data: { dataset: 'imagefolder', root: 'data/imagefolder', batchSize: 32, imageSize: [64, 64], channels: 3, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  model: { name: 'resnet18', stem: 'imagenet' },
  optimizer: { type: 'AdamW', lr: 1e-3, weightDecay: 0.05, paramwise: { normDecayMult: 0, biasDecayMult: 0, customKeys: { backbone: { lrMult: 1 } } } },
  schedule: { type: 'cosine', warmupEpochs: 1, warmupStartFactor: 0.1 },
  augment: { train: [{ type: 'RandomFlip', prob: 0.5 }] },
  loss: { labelSmoothing: 0.1 },
  train: { epochs: 10, amp: 'auto' },
} satisfies Config;
