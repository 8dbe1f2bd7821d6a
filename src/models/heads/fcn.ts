// The FCN head (Long, Shelhamer & Darrell, "Fully Convolutional Networks for
// Semantic Segmentation", CVPR 2015) as torchvision 0.14's FCNHead
// (torchvision/models/segmentation/fcn.py): conv 3x3 to in/4 channels (no
// bias), BN, ReLU, Dropout(0.1), conv 1x1 to the classes. A Sequential, so its
// keys are torchvision's: `0.weight`, `1.{weight,bias,running_mean,…}`,
// `4.weight`, `4.bias`. torchvision's FCN uses it as its classifier and every
// torchvision segmentation model as its auxiliary classifier. PyTorch's default
// init (torchvision does not re-initialise the heads).
import { Conv2d } from '../../nn/layers/conv.js';
import { BatchNorm2d } from '../../nn/layers/norm.js';
import { ReLU, Dropout } from '../../nn/layers/activation.js';
import { Sequential } from '../../nn/layers/container.js';

export class FCNHead extends Sequential {
  readonly inChannels: number;
  readonly numClasses: number;
  constructor(inChannels: number, numClasses: number) {
    for (const [k, v] of Object.entries({ inChannels, numClasses })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`FCNHead: ${k} must be a positive integer, got ${String(v)}`);
    }
    const inter = Math.floor(inChannels / 4);
    if (inter < 1) throw new RangeError(`FCNHead: inChannels must be at least 4 (the hidden conv has inChannels / 4 channels), got ${inChannels}`);
    super(
      new Conv2d(inChannels, inter, 3, { padding: 1, bias: false }),
      new BatchNorm2d(inter),
      new ReLU(),
      new Dropout(0.1),
      new Conv2d(inter, numClasses, 1),
    );
    this.inChannels = inChannels;
    this.numClasses = numClasses;
  }
}
