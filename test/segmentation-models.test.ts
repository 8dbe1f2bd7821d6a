// FCN and DeepLabV3 (dilated ResNet, MobileNetV3) against torchvision 0.14,
// from fixtures made once with PyTorch 1.13 / torchvision 0.14 (Debian's
// python3-torch and python3-torchvision, never a dependency of Arsenal or of
// `npm test`):
//   /usr/bin/python3 test/fixtures/models/make_deeplab_fixture.py
// (the script says how each model, its weights and BN statistics were made):
//   segmentation_reference.json   keys, order, shapes, kinds and parameter counts of the full-size
//                                 deeplabv3_resnet50 / fcn_resnet50 / deeplabv3_mobilenet_v3_large
//                                 (num_classes=5, aux_loss=True) and fcn_resnet101(num_classes=5)
//   torchvision_deeplab_tiny.safetensors        a narrow DeepLabV3 on a dilated Bottleneck ResNet (aux head included)
//   torchvision_deeplab_tiny_heads.safetensors  fcn.*, mobilenet.* (heads only) and aspp.* (a DeepLabHead alone)
//   torchvision_deeplab_tiny_io.safetensors     inputs and torchvision's eval-mode result['out'] / result['aux']
// The MobileNet model's backbone.* come from torchvision_lraspp_tiny.safetensors (make_mobilenet_fixture.py).
// Imports only from 'arsenal'.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { torch, nn, models, type Tensor } from 'arsenal';

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/models/${name}`, import.meta.url));
type Entry = [string, number[], 'p' | 'b'];
type Full = 'deeplabv3_resnet50' | 'fcn_resnet50' | 'deeplabv3_mobilenet_v3_large' | 'fcn_resnet101';
type Ref = Record<Full, { state: Entry[]; numParameters: number }>;

let ref: Ref;
let deeplab: Record<string, Tensor> = {};
let heads: Record<string, Tensor> = {};
let io: Record<string, Tensor> = {};
let lraspp: Record<string, Tensor> = {};
before(() => {
  ref = JSON.parse(readFileSync(fixture('segmentation_reference.json'), 'utf8')) as Ref;
  deeplab = torch.safetensors.loadFile(fixture('torchvision_deeplab_tiny.safetensors'));
  heads = torch.safetensors.loadFile(fixture('torchvision_deeplab_tiny_heads.safetensors'));
  io = torch.safetensors.loadFile(fixture('torchvision_deeplab_tiny_io.safetensors'));
  lraspp = torch.safetensors.loadFile(fixture('torchvision_lraspp_tiny.safetensors'));
});
after(() => {
  for (const d of [deeplab, heads, io, lraspp]) torch.dispose(d);
});

/** [key, shape, kind] in state-dict order, kind 'p' for a parameter, 'b' for a buffer (as the fixture). */
function entries(m: nn.Module): Entry[] {
  const params = new Set([...m.namedParameters()].map(([k]) => k));
  return Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape, params.has(k) ? 'p' : 'b']);
}

/** The tensors of `sd` under `prefix`, the prefix removed. */
const under = (sd: Record<string, Tensor>, prefix: string) => Object.fromEntries(Object.entries(sd).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));

/**
 * Within 1e-4 (absolute) of torchvision's values. Both sides are fp32 from the
 * same weights, so a difference can only come from the order of fp32 sums
 * (convs, dilated convs, BN, pooling, bilinear resizes: other kernels, thread
 * counts, ISAs), ~1e-6 relative on outputs below 2 in magnitude. A real
 * mistake is far above: a dilation of 1 where torchvision has 2 in one block,
 * a swapped ASPP branch or a BN statistic off by 1% moves the outputs by 1e-3
 * or more.
 */
function assertClose(got: Tensor, want: Tensor, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const worst = got.sub(want).abs().max().item();
  assert.ok(worst <= 1e-4, `${what}: max |Arsenal - torchvision| = ${worst}`);
}

/** The tiny model of the fixture: a [1, 1, 2, 2] Bottleneck ResNet at width 4, dilated as `dilate`. */
const tinyBackbone = (dilate: [boolean, boolean, boolean]) => new models.ResNetBackbone({ block: 'bottleneck', layers: [1, 1, 2, 2] }, { width: 4, replaceStrideWithDilation: dilate });

/**
 * Training mode at the top (so forward gives { out, aux }) with every BN and
 * Dropout in eval mode: deterministic, and equal to torchvision's eval-mode
 * result dict.
 */
function trainModeWithoutNoise(m: nn.Module): void {
  m.train();
  for (const x of m.modules()) if (x instanceof nn.BatchNorm2d || x instanceof nn.Dropout) x.training = false;
}

function checkOutputs(m: models.SimpleSegmentationModel, name: string, out: Tensor, aux: Tensor): void {
  torch.scope(() => torch.noGrad(() => {
    m.eval();
    const y = m.forward(io.input);
    assert.ok(y instanceof torch.Tensor, `${name}: eval mode gives a tensor`);
    assertClose(y, out, `${name} out`);
    trainModeWithoutNoise(m);
    const r = m.forward(io.input) as models.SegOutputs;
    assertClose(r.out, out, `${name} out (training mode)`);
    assertClose(r.aux, aux, `${name} aux`);
  }));
}

test("full-size deeplabv3Resnet50 / fcnResnet50 / deeplabv3MobileNetV3Large (auxLoss) and fcnResnet101 have exactly torchvision's keys, order, shapes and parameter counts", () => {
  const built: [Full, () => nn.Module][] = [
    ['deeplabv3_resnet50', () => models.deeplabv3Resnet50({ numClasses: 5, auxLoss: true })],
    ['fcn_resnet50', () => models.fcnResnet50({ numClasses: 5, auxLoss: true })],
    ['deeplabv3_mobilenet_v3_large', () => models.deeplabv3MobileNetV3Large({ numClasses: 5, auxLoss: true })],
    ['fcn_resnet101', () => models.fcnResnet101({ numClasses: 5 })],
  ];
  for (const [name, build] of built) {
    const m = build();
    assert.deepEqual(entries(m), ref[name].state, name);
    assert.equal(m.numParameters(), ref[name].numParameters, name);
    assert.deepEqual(Object.keys((m as models.SimpleSegmentationModel).stateDict({ keys: 'torchvision' })), ref[name].state.map(([k]) => k), name);
    m.dispose();
  }
});

test("the tiny DeepLabV3 loads torchvision's state dict strictly; out and aux equal torchvision's (1e-4)", () => {
  const m = new models.DeepLabV3(tinyBackbone([false, true, true]), new models.DeepLabHead(128, 5, { channels: 8 }), new models.FCNHead(64, 5));
  assert.deepEqual(m.loadStateDict(deeplab, { source: 'torchvision_deeplab_tiny.safetensors' }), { missingKeys: [], unexpectedKeys: [] });
  assert.equal(m.stateDict()['classifier.0.convs.4.2.num_batches_tracked'].item(), 3, 'buffers land too');
  checkOutputs(m, 'DeepLabV3', io.deeplab_out, io.deeplab_aux);
  // Arsenal → torchvision: the same keys and tensors (torchvision's strict load of this dict was checked by hand once).
  const back = m.stateDict({ keys: 'torchvision' });
  assert.deepEqual(Object.keys(back), Object.keys(deeplab));
  assert.ok(Object.entries(deeplab).every(([k, t]) => back[k].equal(t)));
  m.dispose();
});

test("outputStride 16: the same weights with layer4 alone dilated and ASPP rates (6, 12, 18) give torchvision's output (1e-4)", () => {
  const m = new models.DeepLabV3(tinyBackbone([false, false, true]), new models.DeepLabHead(128, 5, { channels: 8, rates: [6, 12, 18] }), new models.FCNHead(64, 5));
  m.loadStateDict(deeplab);
  assert.equal((m.backbone as models.ResNetBackbone).outputStride, 16);
  torch.scope(() => torch.noGrad(() => assertClose(m.eval().forward(io.input) as Tensor, io.deeplab16_out, 'DeepLabV3 OS16 out')));
  m.dispose();
});

test("the tiny FCN (its heads on the same backbone) equals torchvision's FCN, out and aux (1e-4)", () => {
  const m = new models.FCN(tinyBackbone([false, true, true]), new models.FCNHead(128, 5), new models.FCNHead(64, 5));
  const sd = { ...Object.fromEntries(Object.entries(under(deeplab, 'backbone.')).map(([k, t]) => [`backbone.${k}`, t])), ...under(heads, 'fcn.') };
  assert.deepEqual(m.loadStateDict(sd), { missingKeys: [], unexpectedKeys: [] });
  checkOutputs(m, 'FCN', io.fcn_out, io.fcn_aux);
  m.dispose();
});

test("deeplabv3MobileNetV3Large (widthMult 0.25, auxLoss) equals torchvision's _deeplabv3_mobilenetv3, out and aux (1e-4)", () => {
  const m = models.deeplabv3MobileNetV3Large({ numClasses: 5, widthMult: 0.25, auxLoss: true, headChannels: 8 });
  // torchvision's stage indices: out = features[16] (C5), aux = features[4] (C2, output stride 8).
  assert.deepEqual([m.outPos, m.auxPos], [16, 4]);
  const sd = { ...Object.fromEntries(Object.entries(lraspp).filter(([k]) => k.startsWith('backbone.'))), ...under(heads, 'mobilenet.') };
  assert.deepEqual(m.loadStateDict(sd), { missingKeys: [], unexpectedKeys: [] });
  checkOutputs(m, 'DeepLabV3-MobileNetV3', io.mobilenet_out, io.mobilenet_aux);
  m.dispose();
});

test("DeepLabHead alone on a 40x40 map (every ASPP rate reaches real pixels) equals torchvision's (1e-4)", () => {
  const h = new models.DeepLabHead(16, 5, { channels: 8 });
  assert.deepEqual(h.loadStateDict(under(heads, 'aspp.')), { missingKeys: [], unexpectedKeys: [] });
  const aspp = h.at(0) as models.ASPP;
  assert.deepEqual([1, 2, 3].map((i) => ((aspp.convs.at(i) as models.ASPPConv).at(0) as nn.Conv2d).dilation[0]), [12, 24, 36]);
  torch.scope(() => torch.noGrad(() => assertClose(h.eval().forward(io.aspp_input) as Tensor, io.aspp_out, 'DeepLabHead')));
  h.dispose();
});

test('training mode: { out, aux } at the input size with auxLoss (a tensor without), every parameter gets a gradient; eval mode: a tensor', () => {
  const m = models.deeplabv3Resnet18({ numClasses: 3, width: 8, auxLoss: true });
  torch.scope(() => {
    m.train();
    const r = m.forward(torch.randn(2, 3, 50, 70)) as models.SegOutputs;
    assert.deepEqual(r.out.shape, [2, 3, 50, 70]);
    assert.deepEqual(r.aux.shape, [2, 3, 50, 70]);
    r.out.square().mean().add(r.aux.square().mean()).backward();
    const none = [...m.namedParameters()].filter(([, p]) => p.grad === null).map(([n]) => n);
    assert.deepEqual(none, [], 'every parameter gets a gradient');
    m.eval();
    const y = torch.noGrad(() => m.forward(torch.randn(1, 3, 33, 47)));
    assert.ok(y instanceof torch.Tensor);
    assert.deepEqual(y.shape, [1, 3, 33, 47]);
  });
  m.zeroGrad();
  const plain = models.fcnResnet18({ numClasses: 2, width: 8 });
  torch.scope(() => {
    const y = plain.train().forward(torch.randn(2, 3, 32, 32));
    assert.ok(y instanceof torch.Tensor, 'no aux head: a tensor in training mode too');
    assert.deepEqual(y.shape, [2, 2, 32, 32]);
  });
  // ASPPPooling's BN cannot train on one value per channel (PyTorch raises too).
  assert.throws(() => torch.scope(() => m.train().forward(torch.randn(1, 3, 32, 32))), /ASPPPooling: a training batch of one image/);
  for (const x of [m, plain]) x.dispose();
});

test("replaceStrideWithDilation is torchvision's _make_layer: the first block keeps the previous dilation; BasicBlock dilates conv1 only (mmseg)", () => {
  const b = new models.ResNetBackbone(models.ARCHS.resnet50, { width: 8, replaceStrideWithDilation: [false, true, true] });
  const conv2 = (layer: nn.Sequential, i: number) => (layer.at(i) as models.Bottleneck).conv2;
  const desc = (c: nn.Conv2d) => [c.stride[0], c.dilation[0], c.padding[0]];
  assert.deepEqual([0, 1, 2, 3].map((i) => desc(conv2(b.layer2, i))), [[2, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]);
  assert.deepEqual([0, 1, 5].map((i) => desc(conv2(b.layer3, i))), [[1, 1, 1], [1, 2, 2], [1, 2, 2]]);
  assert.deepEqual([0, 1, 2].map((i) => desc(conv2(b.layer4, i))), [[1, 2, 2], [1, 4, 4], [1, 4, 4]]);
  assert.deepEqual(((b.layer4.at(0) as models.Bottleneck).downsample!.at(0) as nn.Conv2d).stride, [1, 1], 'the downsample keeps stride 1');
  assert.equal(b.outputStride, 8);
  const r18 = models.deeplabv3Resnet18({ numClasses: 2, width: 8, outputStride: 16 });
  const bb = r18.backbone as models.ResNetBackbone;
  const basic = (layer: nn.Sequential, i: number) => layer.at(i) as models.BasicBlock;
  assert.deepEqual([0, 1].map((i) => desc(basic(bb.layer3, i).conv1)), [[2, 1, 1], [1, 1, 1]]);
  assert.deepEqual([0, 1].map((i) => [desc(basic(bb.layer4, i).conv1), desc(basic(bb.layer4, i).conv2)]), [[[1, 1, 1], [1, 1, 1]], [[1, 2, 2], [1, 1, 1]]]);
  assert.equal(bb.outputStride, 16);
  const aspp = (r18.classifier as models.DeepLabHead).at(0) as models.ASPP;
  assert.deepEqual([1, 2, 3].map((i) => ((aspp.convs.at(i) as models.ASPPConv).at(0) as nn.Conv2d).dilation[0]), [6, 12, 18], "outputStride 16: the paper's rates");
  torch.scope(() => torch.noGrad(() => {
    const f = bb.eval().forwardFeatures(torch.randn(1, 3, 64, 64));
    assert.deepEqual(f.map((t) => t.shape[2]), [16, 16, 8, 4, 4]);
    const f8 = b.eval().forwardFeatures(torch.randn(1, 3, 64, 64));
    assert.deepEqual(f8.map((t) => t.shape[2]), [16, 16, 8, 8, 8]);
    assert.equal(models.resnet18().backbone.outputStride, 32);
  }));
  for (const x of [b, r18]) x.dispose();
  assert.throws(() => new models.ResNetBackbone(models.ARCHS.resnet18, { replaceStrideWithDilation: [true, false] as never }), /replaceStrideWithDilation must be 3 booleans/);
  assert.throws(() => models.deeplabv3Resnet18({ outputStride: 32 }), /outputStride must be 8 or 16, got 32/);
  assert.throws(() => models.deeplabv3MobileNetV3Large({ outputStride: 8 }), /unknown option 'outputStride'/);
  assert.throws(() => models.fcnResnet18({ headChannels: 8 }), /unknown option 'headChannels'/);
  assert.throws(() => models.deeplabv3Resnet18({ auxLoss: 'yes' as never }), /auxLoss must be a boolean/);
});

test('the registry builds every name with its options; options that do not apply are errors naming them', () => {
  for (const name of ['fcn_resnet50', 'fcn_resnet101', 'fcn_resnet18', 'deeplabv3_resnet50', 'deeplabv3_resnet101', 'deeplabv3_resnet18', 'deeplabv3_mobilenet_v3_large', 'lraspp_mobilenet_v3_large'])
    assert.ok((models.SEG_MODEL_NAMES as readonly string[]).includes(name), name);
  const m = models.buildSegmentationModel('deeplabv3_resnet18', { numClasses: 4, width: 8, outputStride: 16, auxLoss: true, inChannels: 1 }) as models.DeepLabV3;
  assert.ok(m instanceof models.DeepLabV3 && m.aux_classifier instanceof models.FCNHead);
  assert.deepEqual(m.stateDict()['backbone.conv1.weight'].shape, [8, 1, 7, 7]);
  assert.deepEqual(m.stateDict()['aux_classifier.0.weight'].shape, [8, 32, 3, 3], 'aux on layer3 (4·width channels), in/4 hidden');
  assert.equal((m.backbone as models.ResNetBackbone).outputStride, 16);
  m.dispose();
  const f = models.buildSegmentationModel('fcn_resnet18', { numClasses: 2, width: 8 });
  assert.ok(f instanceof models.FCN && f.aux_classifier === null);
  f.dispose();
  assert.throws(() => models.buildSegmentationModel('deeplabv3_mobilenet_v3_large', { numClasses: 3, width: 8 }), /option 'width' does not apply/);
  assert.throws(() => models.buildSegmentationModel('lraspp_mobilenet_v3_large', { numClasses: 3, auxLoss: true }), /option 'auxLoss' does not apply/);
  // auxLoss false is the switch off, not an option given: every model takes it (a config's `auxLoss: false`).
  const u = models.buildSegmentationModel('unet_resnet18', { numClasses: 2, width: 8, auxLoss: false });
  assert.ok(!Object.keys(u.stateDict()).some((k) => k.startsWith('aux')));
  u.dispose();
});

test('state dicts: without num_batches_tracked they load (PyTorch fills it in); a wrong shape or a stray key is an error naming it; the GradNorm hint names the last shared layer', () => {
  const m = models.deeplabv3Resnet18({ numClasses: 3, width: 8, auxLoss: true });
  const sd = m.stateDict();
  const trimmed = Object.fromEntries(Object.entries(sd).filter(([k]) => !k.endsWith('num_batches_tracked')));
  const r = m.loadStateDict(trimmed);
  assert.ok(r.missingKeys.length > 0 && r.missingKeys.every((k) => k.endsWith('num_batches_tracked')));
  assert.throws(() => m.loadStateDict({ ...sd, 'aux_classifier.9.weight': sd['aux_classifier.4.weight'] }), /unexpected keys: aux_classifier\.9\.weight/);
  const other = models.deeplabv3Resnet18({ numClasses: 4, width: 8, auxLoss: true });
  assert.throws(() => m.loadStateDict(other.stateDict()), /'classifier\.4\.weight' has shape \[4,256,1,1\] but the model expects \[3,256,1,1\]/);
  assert.throws(() => m.stateDict({ keys: 'timm' as never }), /'arsenal' or 'torchvision'/);
  // GradNorm: with an aux head the last weight both heads reach (layer3's, or features[auxPos]'s); without, the default.
  assert.equal(m.gradNormParameter(), 'backbone.layer3.1.conv2.weight');
  const mb = models.deeplabv3MobileNetV3Large({ numClasses: 2, widthMult: 0.25, auxLoss: true });
  assert.equal(mb.gradNormParameter(), 'backbone.4.block.3.0.weight');
  const plain = models.fcnResnet18({ numClasses: 2, width: 8 });
  assert.equal(plain.gradNormParameter(), undefined);
  for (const x of [m, other, mb, plain]) x.dispose();
});
