// The DeepLabV3 head (Chen et al., "Rethinking Atrous Convolution for Semantic
// Image Segmentation", 2017, §3.3: ASPP with image-level features) as
// torchvision 0.14's (torchvision/models/segmentation/deeplabv3.py), with its
// module names, so the keys are torchvision's:
//   DeepLabHead = Sequential(ASPP(in, [12, 24, 36]), conv 3x3 256→256, BN, ReLU, conv 1x1 → classes)
//   ASPP.convs  = [1x1 conv-BN-ReLU, three 3x3 ASPPConv at dilations 12, 24, 36, ASPPPooling]
//   ASPP.project = conv 1x1 (5·256 → 256), BN, ReLU, Dropout(0.5)
// The rates are the paper's for output stride 8 (torchvision uses them at any
// stride; the paper halves them at 16: pass `rates`). PyTorch's default init, as
// torchvision. `channels` (256, torchvision's fixed width) exists for small
// test models.
import { Module } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers/conv.js';
import { BatchNorm2d } from '../../nn/layers/norm.js';
import { ReLU, Dropout, AdaptiveAvgPool2d } from '../../nn/layers/activation.js';
import { Sequential, ModuleList } from '../../nn/layers/container.js';
import * as F from '../../torch/functional.js';
import { cat } from '../../torch/join.js';
import { Tensor } from '../../torch/tensor.js';

function positive(what: string, values: Record<string, number>): void {
  for (const [k, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${k} must be a positive integer, got ${String(v)}`);
  }
}

/** torchvision's ASPPConv: 3x3 conv at `dilation` (padding = dilation), BN, ReLU. */
export class ASPPConv extends Sequential {
  constructor(inChannels: number, outChannels: number, dilation: number) {
    positive('ASPPConv', { inChannels, outChannels, dilation });
    super(new Conv2d(inChannels, outChannels, 3, { padding: dilation, dilation, bias: false }), new BatchNorm2d(outChannels), new ReLU());
  }
}

/**
 * torchvision's ASPPPooling: global average pool, 1x1 conv, BN, ReLU, then
 * bilinear (align_corners false) back to the input's size. Its BN sees one
 * value per channel and image, so in training mode a batch of one image
 * cannot be normalised: PyTorch raises ("Expected more than 1 value per
 * channel when training"), and so does this (libtorch's batch_norm alone
 * would divide the running variance by n − 1 = 0). torchvision's reference
 * training drops the last incomplete batch; so does Arsenal's trainer.
 */
export class ASPPPooling extends Sequential {
  constructor(inChannels: number, outChannels: number) {
    positive('ASPPPooling', { inChannels, outChannels });
    super(new AdaptiveAvgPool2d(1), new Conv2d(inChannels, outChannels, 1, { bias: false }), new BatchNorm2d(outChannels), new ReLU());
  }
  override forward(x: Tensor): Tensor {
    if ((this.at(2) as BatchNorm2d).training && x.shape[0] === 1)
      throw new RangeError(`ASPPPooling: a training batch of one image gives its BatchNorm one value per channel (input [${x.shape.join(', ')}]); train with a batch size of at least 2`);
    const y = super.forward(x) as Tensor;
    return F.interpolate(y, { size: [x.shape[2], x.shape[3]], mode: 'bilinear', alignCorners: false });
  }
}

/** torchvision's ASPP: the branches' outputs concatenated and projected to outChannels. */
export class ASPP extends Module {
  convs: ModuleList;
  project: Sequential;
  constructor(inChannels: number, rates: readonly number[], outChannels = 256) {
    super();
    positive('ASPP', { inChannels, outChannels });
    if (!Array.isArray(rates) || rates.length === 0) throw new TypeError(`ASPP: rates must be a non-empty array of dilations, got ${JSON.stringify(rates)}`);
    this.convs = new ModuleList([
      new Sequential(new Conv2d(inChannels, outChannels, 1, { bias: false }), new BatchNorm2d(outChannels), new ReLU()),
      ...rates.map((r) => new ASPPConv(inChannels, outChannels, r)),
      new ASPPPooling(inChannels, outChannels),
    ]);
    this.project = new Sequential(
      new Conv2d((rates.length + 2) * outChannels, outChannels, 1, { bias: false }),
      new BatchNorm2d(outChannels),
      new ReLU(),
      new Dropout(0.5),
    );
  }
  forward(x: Tensor): Tensor {
    const branches = [...this.convs].map((m) => m.forward(x) as Tensor);
    return this.project.forward(cat(branches, 1)) as Tensor;
  }
}

/** torchvision's DeepLabHead: ASPP, a 3x3 conv-BN-ReLU, a 1x1 conv to the classes; output at the features' size. */
export class DeepLabHead extends Sequential {
  readonly inChannels: number;
  readonly numClasses: number;
  constructor(inChannels: number, numClasses: number, opts: { channels?: number; rates?: readonly number[] } = {}) {
    const c = opts.channels ?? 256;
    positive('DeepLabHead', { inChannels, numClasses, channels: c });
    super(
      new ASPP(inChannels, opts.rates ?? [12, 24, 36], c),
      new Conv2d(c, c, 3, { padding: 1, bias: false }),
      new BatchNorm2d(c),
      new ReLU(),
      new Conv2d(c, numClasses, 1),
    );
    this.inChannels = inChannels;
    this.numClasses = numClasses;
  }
}
