// U-Net (Ronneberger et al., "U-Net: Convolutional Networks for Biomedical
// Image Segmentation", MICCAI 2015) on torchvision's ResNet as the encoder, the
// "ResNet U-Net" of segmentation_models_pytorch 0.3 (smp.Unet:
// decoders/unet/decoder.py UnetDecoder / DecoderBlock, base/heads.py
// SegmentationHead, base/initialization.py): five decoder blocks of nearest x2
// upsampling, concatenation with the encoder's feature at that stride (the
// stem's ReLU output at /2, layer1..layer3 at /4../16; none at /1), and two
// Conv2dReLU (3x3 conv without bias, BN, ReLU); channels (256, 128, 64, 32,
// 16); a 3x3 conv to the classes at the input's resolution.
//
// Names: smp's decoder.blocks.<i>.conv1.0 (conv) / .conv1.1 (BN), conv2.*, and
// segmentation_head.0; the encoder is torchvision's ResNet under backbone.
// (smp calls it encoder.), the keys of Arsenal's ResNet classifier, so a
// classification checkpoint (Arsenal's or torchvision's keys) loads into it
// with loadPretrained(model, file, { strict: false }).
import { Module } from '../../nn/module.js';
import { Conv2d } from '../../nn/layers/conv.js';
import { BatchNorm2d } from '../../nn/layers/norm.js';
import { ReLU } from '../../nn/layers/activation.js';
import { ModuleList, Sequential } from '../../nn/layers/container.js';
import * as init from '../../nn/init.js';
import * as F from '../../torch/functional.js';
import { cat } from '../../torch/join.js';
import { Tensor } from '../../torch/tensor.js';
import { ARCHS, ResNetBackbone, type ResNetArch } from '../backbones/resnet.js';

/** smp's Conv2dReLU with batch norm: Sequential(conv 3x3 no bias, BN, ReLU). */
function conv2dReLU(inC: number, outC: number): Sequential {
  return new Sequential(new Conv2d(inC, outC, 3, { padding: 1, bias: false }), new BatchNorm2d(outC), new ReLU());
}

/** smp's DecoderBlock (no attention): nearest x2, concat the skip (if any), conv1, conv2. */
export class DecoderBlock extends Module {
  conv1: Sequential;
  conv2: Sequential;
  constructor(inChannels: number, skipChannels: number, outChannels: number) {
    super();
    this.conv1 = conv2dReLU(inChannels + skipChannels, outChannels);
    this.conv2 = conv2dReLU(outChannels, outChannels);
  }
  forward(x: Tensor, skip: Tensor | null = null): Tensor {
    x = F.interpolate(x, { scaleFactor: 2, mode: 'nearest' });
    if (skip) x = cat([x, skip], 1);
    return this.conv2.forward(this.conv1.forward(x)) as Tensor;
  }
}

/**
 * smp's UnetDecoder without center block or attention. `encoderChannels`:
 * the channels of the features at strides 2, 4, 8, 16, 32 (highest resolution
 * first); block i takes the deepest feature (or the previous block's output)
 * and the skip at the next finer stride (none for the last block, at /1).
 */
export class UnetDecoder extends Module {
  blocks: ModuleList;
  constructor(encoderChannels: readonly number[], decoderChannels: readonly number[]) {
    super();
    if (decoderChannels.length !== encoderChannels.length)
      throw new RangeError(`UnetDecoder: decoderChannels must have one entry per encoder stage (${encoderChannels.length}), got ${JSON.stringify(decoderChannels)}`);
    const rev = [...encoderChannels].reverse();
    const inCh = [rev[0], ...decoderChannels.slice(0, -1)];
    const skipCh = [...rev.slice(1), 0];
    this.blocks = new ModuleList(decoderChannels.map((out, i) => new DecoderBlock(inCh[i], skipCh[i], out)));
  }
  /** `features` at strides 2..32, highest resolution first. */
  forward(features: Tensor[]): Tensor {
    const rev = [...features].reverse();
    let x = rev[0];
    const skips = rev.slice(1);
    [...this.blocks].forEach((b, i) => { x = (b as DecoderBlock).forward(x, skips[i] ?? null); });
    return x;
  }
}

export interface UNetOptions {
  /** Classes, background included. */
  numClasses: number;
  /** Input channels. Default 3. */
  inChannels?: number;
  /** The ResNet's base width (64). */
  width?: number;
  /** Output channels of the five decoder blocks (smp decoder_channels; (256, 128, 64, 32, 16)). */
  decoderChannels?: readonly number[];
}

export const UNET_OPTION_KEYS = ['numClasses', 'inChannels', 'width', 'decoderChannels'] as const;

/** The input's height and width must be multiples of this (the encoder's output stride), as smp's check_input_shape. */
export const UNET_DIVISOR = 32;

/**
 * A U-Net on torchvision's ResNet: forward(x) → logits [N, numClasses, H, W].
 * H and W must be divisible by 32 (smp and mmseg refuse other sizes too; the
 * error names the input and the padded size): nothing is padded.
 * Init as smp's: decoder convs kaiming_uniform_ (fan_in, relu), BN 1/0; the
 * head xavier_uniform_, zero bias; the encoder keeps torchvision's init.
 */
export class UNet extends Module {
  backbone: ResNetBackbone;
  decoder: UnetDecoder;
  segmentation_head: Sequential;

  constructor(arch: ResNetArch, opts: UNetOptions) {
    super();
    if (typeof opts !== 'object' || opts === null) throw new TypeError('UNet: options must be an object');
    for (const k of Object.keys(opts)) {
      if (!(UNET_OPTION_KEYS as readonly string[]).includes(k)) throw new TypeError(`UNet: unknown option '${k}' (valid: ${UNET_OPTION_KEYS.join(', ')})`);
    }
    const { numClasses } = opts;
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`UNet: numClasses must be a positive integer, got ${String(numClasses)}`);
    const dec = opts.decoderChannels ?? [256, 128, 64, 32, 16];
    if (!Array.isArray(dec) || dec.length !== 5 || dec.some((c) => !Number.isInteger(c) || c < 1))
      throw new RangeError(`UNet: decoderChannels must be 5 positive integers, got ${JSON.stringify(dec)}`);
    this.backbone = new ResNetBackbone(arch, { inChannels: opts.inChannels ?? 3, width: opts.width ?? 64 });
    const w = this.backbone.conv1.outChannels;
    this.decoder = new UnetDecoder([w, ...this.backbone.stageChannels], dec);
    this.segmentation_head = new Sequential(new Conv2d(dec[dec.length - 1], numClasses, 3, { padding: 1 }));
    for (const m of this.decoder.modules()) {
      if (m instanceof Conv2d) {
        init.kaimingUniform_(m.weight, { mode: 'fan_in', nonlinearity: 'relu' });
        if (m.bias) init.zeros_(m.bias);
      }
    }
    const head = this.segmentation_head.at(0) as Conv2d;
    init.xavierUniform_(head.weight);
    init.zeros_(head.bias!);
  }

  /** The encoder's features at strides 2 (the stem's ReLU, before the max-pool), 4, 8, 16, 32, as smp's ResNetEncoder. */
  encode(x: Tensor): Tensor[] {
    const b = this.backbone;
    const s2 = b.relu.forward(b.bn1.forward(b.conv1.forward(x)));
    const s4 = b.layer1.forward(b.maxpool.forward(s2)) as Tensor;
    const s8 = b.layer2.forward(s4) as Tensor;
    const s16 = b.layer3.forward(s8) as Tensor;
    return [s2, s4, s8, s16, b.layer4.forward(s16) as Tensor];
  }

  forward(x: Tensor): Tensor {
    if (x.dim() !== 4) throw new RangeError(`UNet: expected input [N, C, H, W], got [${x.shape.join(', ')}]`);
    if (x.shape[1] !== this.backbone.conv1.inChannels) throw new RangeError(`UNet: expected ${this.backbone.conv1.inChannels} input channels, got input [${x.shape.join(', ')}]`);
    const [h, w] = [x.shape[2], x.shape[3]];
    if (h % UNET_DIVISOR !== 0 || w % UNET_DIVISOR !== 0) {
      const up = (v: number) => Math.ceil(v / UNET_DIVISOR) * UNET_DIVISOR;
      throw new RangeError(`UNet: input height and width must be divisible by ${UNET_DIVISOR}, got input [${x.shape.join(', ')}] (${h}x${w}); resize or pad the images to ${up(h)}x${up(w)}`);
    }
    return this.segmentation_head.forward(this.decoder.forward(this.encode(x))) as Tensor;
  }
}

/** smp.Unet('resnet18') with torchvision's ResNet-18 under backbone. */
export function unetResNet18(opts: UNetOptions): UNet { return new UNet(ARCHS.resnet18, opts); }
/** smp.Unet('resnet34') (smp's default encoder). */
export function unetResNet34(opts: UNetOptions): UNet { return new UNet(ARCHS.resnet34, opts); }
