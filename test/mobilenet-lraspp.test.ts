// MobileNetV3-Large and LR-ASPP against torchvision 0.14, from fixtures made
// once with PyTorch 1.13 / torchvision 0.14 (Debian's python3-torch and
// python3-torchvision, never a dependency of Arsenal or of `npm test`):
//   /usr/bin/python3 test/fixtures/models/make_mobilenet_fixture.py
// (the script says how each model, its weights and BN statistics were made):
//   mobilenet_reference.json          keys, shapes, kinds and parameter counts of the full-size
//                                     lraspp_mobilenet_v3_large(num_classes=5, weights_backbone=None),
//                                     mobilenet_v3_large() and mobilenet_v3_large(width_mult=0.75)
//   torchvision_lraspp_tiny.safetensors   torchvision's _lraspp_mobilenetv3(mobilenet_v3_large(width_mult=0.25, dilated=True), 5)
//   torchvision_mobilenet_tiny_classifier.safetensors   classifier.* of mobilenet_v3_large(width_mult=0.25, num_classes=3)
//                                     (its features.* are the LR-ASPP's backbone.*)
//   torchvision_mobilenet_tiny_io.safetensors   'input' [1,3,64,64], 'lraspp' [1,5,64,64], 'logits' [1,3] (eval mode)
// Imports only from 'arsenal'.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { torch, nn, models, type Tensor } from 'arsenal';

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/models/${name}`, import.meta.url));
type Entry = [string, number[], 'p' | 'b'];
type Ref = Record<'lraspp_mobilenet_v3_large' | 'mobilenet_v3_large' | 'mobilenet_v3_large_w075', { state: Entry[]; numParameters: number }>;

let ref: Ref;
let seg: Record<string, Tensor> = {};
let head: Record<string, Tensor> = {};
let io: Record<string, Tensor> = {};
before(() => {
  ref = JSON.parse(readFileSync(fixture('mobilenet_reference.json'), 'utf8')) as Ref;
  seg = torch.safetensors.loadFile(fixture('torchvision_lraspp_tiny.safetensors'));
  head = torch.safetensors.loadFile(fixture('torchvision_mobilenet_tiny_classifier.safetensors'));
  io = torch.safetensors.loadFile(fixture('torchvision_mobilenet_tiny_io.safetensors'));
});
after(() => {
  for (const d of [seg, head, io]) torch.dispose(d);
});

/** [key, shape, kind] in state-dict order, kind 'p' for a parameter, 'b' for a buffer (as the fixture). */
function entries(m: nn.Module): Entry[] {
  const params = new Set([...m.namedParameters()].map(([k]) => k));
  return Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape, params.has(k) ? 'p' : 'b']);
}

/**
 * Within 1e-4 (absolute) of torchvision's values. Both sides are fp32 in eval
 * mode from the same weights, so a difference can only come from the order of
 * fp32 sums (conv, depthwise conv, BN, pooling, bilinear resize: other
 * kernels, thread counts, ISAs); through 17 blocks that is ~1e-6 relative on
 * outputs of magnitude < 3 (the largest |value| is 2.82, the logits < 2). On
 * the machine that made the fixture (libtorch 1.13 both sides) the difference
 * is 0. A real mistake is far above 1e-4: one SE bias off by 0.05 moves the
 * LR-ASPP output by 1.7e-2, the head BN's running_var off by 1% by 2.6e-3.
 */
function assertClose(got: Tensor, want: Tensor, what: string): number {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const g = got.flatten().toArray() as number[], w = want.flatten().toArray() as number[];
  let worst = 0;
  g.forEach((v, i) => {
    const d = Math.abs(v - w[i]);
    if (!(d <= worst)) worst = d;
  });
  assert.ok(worst <= 1e-4, `${what}: max |Arsenal - torchvision| = ${worst}`);
  return worst;
}

test("lrasppMobileNetV3Large({ numClasses: 5 }) has exactly torchvision's lraspp_mobilenet_v3_large(num_classes=5) keys, order, shapes and parameter count", () => {
  const m = models.lrasppMobileNetV3Large({ numClasses: 5 });
  const want = ref.lraspp_mobilenet_v3_large;
  assert.deepEqual(entries(m), want.state);
  assert.equal(m.numParameters(), want.numParameters);
  assert.deepEqual(Object.keys(m.stateDict({ keys: 'torchvision' })), want.state.map(([k]) => k));
  // torchvision's stage indices on the dilated backbone: low = features[4] (C2, 40 channels), high = features[16] (960).
  assert.deepEqual(m.backbone.stageIndices, [0, 2, 4, 7, 13, 16]);
  assert.deepEqual([m.lowPos, m.highPos], [4, 16]);
  m.dispose();
});

test("mobileNetV3Large() and widthMult 0.75 have exactly torchvision's mobilenet_v3_large() keys, order, shapes and parameter count", () => {
  for (const [name, opts] of [['mobilenet_v3_large', {}], ['mobilenet_v3_large_w075', { widthMult: 0.75 }]] as const) {
    const m = models.mobileNetV3Large(opts);
    assert.deepEqual(entries(m), ref[name].state, name);
    assert.equal(m.numParameters(), ref[name].numParameters, name);
    m.dispose();
  }
});

test("the tiny LR-ASPP loads torchvision's state dict strictly and its eval output equals torchvision's (1e-4)", () => {
  const m = models.lrasppMobileNetV3Large({ numClasses: 5, widthMult: 0.25 });
  assert.deepEqual(m.loadStateDict(seg, { source: 'torchvision_lraspp_tiny.safetensors' }), { missingKeys: [], unexpectedKeys: [] });
  assert.equal(m.stateDict()['backbone.1.block.0.1.num_batches_tracked'].item(), 3, 'buffers land too');
  m.eval();
  const worst = torch.scope(() => torch.noGrad(() => assertClose(m.forward(io.input), io.lraspp, 'LR-ASPP out')));
  assert.ok(worst < 1e-4);
  m.dispose();
});

test("the tiny MobileNetV3 classifier (not dilated) loads torchvision's weights strictly and its eval logits equal torchvision's (1e-4)", () => {
  const m = models.mobileNetV3Large({ numClasses: 3, widthMult: 0.25 });
  const sd: Record<string, Tensor> = { ...head };
  for (const [k, t] of Object.entries(seg)) if (k.startsWith('backbone.')) sd[`features.${k.slice('backbone.'.length)}`] = t;
  assert.deepEqual(m.loadStateDict(sd), { missingKeys: [], unexpectedKeys: [] });
  m.eval();
  torch.scope(() => torch.noGrad(() => assertClose(m.forward(io.input), io.logits, 'MobileNetV3 logits')));
  m.dispose();
});

test("torchvision's BN settings, block structure and dilation: eps 0.001 / momentum 0.01 in the backbone, PyTorch's defaults in the head", () => {
  const m = models.lrasppMobileNetV3Large({ numClasses: 2 });
  const bns = m.backbone.modules().filter((x): x is nn.BatchNorm2d => x instanceof nn.BatchNorm2d);
  assert.ok(bns.length > 0 && bns.every((b) => b.eps === 0.001 && b.momentum === 0.01));
  const hb = m.classifier.cbr.at(1) as nn.BatchNorm2d;
  assert.deepEqual([hb.eps, hb.momentum], [1e-5, 0.1]);
  // Block 13 starts C4: dilated, its depthwise conv keeps stride 1 and dilates by 2 (padding 4 for k=5); not dilated: stride 2.
  const dw = (f: models.MobileNetV3Features, i: number) => ((f.at(i) as models.InvertedResidual).block.at(1) as models.Conv2dNormActivation).at(0) as nn.Conv2d;
  const c = dw(m.backbone, 13);
  assert.deepEqual([c.stride, c.dilation, c.padding], [[1, 1], [2, 2], [4, 4]]);
  const plain = models.mobileNetV3Large();
  const p = dw(plain.features, 13);
  assert.deepEqual([p.stride, p.dilation, p.padding], [[2, 2], [1, 1], [2, 2]]);
  // Output strides: the dilated features 16 (4x4 on 64x64), the plain ones 32; the LR-ASPP's output is the input's size.
  torch.scope(() => torch.noGrad(() => {
    m.eval();
    plain.eval();
    const x = torch.randn(1, 3, 64, 64);
    assert.deepEqual(m.backbone.forward(x).shape, [1, 960, 4, 4]);
    assert.deepEqual(plain.features.forward(x).shape, [1, 960, 2, 2]);
    assert.deepEqual(m.forward(torch.randn(2, 3, 50, 70)).shape, [2, 2, 50, 70]);
  }));
  // makeDivisible is torchvision's _make_divisible.
  assert.deepEqual([4, 12, 16 * 0.75, 72 * 0.25, 240 / 4, 1280 * 0.75].map((v) => models.makeDivisible(v)), [8, 16, 16, 24, 64, 960]);
  for (const x of [m, plain]) x.dispose();
});

test('inChannels, training mode and bad options', () => {
  const m = models.lrasppMobileNetV3Large({ numClasses: 3, inChannels: 1, widthMult: 0.25 });
  assert.deepEqual(m.stateDict()['backbone.0.0.weight'].shape, [8, 1, 3, 3]);
  // One training step moves the weights and the BN statistics (momentum 0.01).
  const before = m.stateDict()['backbone.4.block.0.1.running_mean'].clone();
  torch.scope(() => {
    m.train();
    const y = m.forward(torch.randn(2, 1, 32, 32));
    assert.deepEqual(y.shape, [2, 3, 32, 32]);
    y.square().mean().backward();
    assert.ok(m.classifier.low_classifier.weight.grad !== null && m.backbone.parameters().every((p) => p.grad !== null), 'every parameter gets a gradient');
  });
  assert.ok(!m.stateDict()['backbone.4.block.0.1.running_mean'].equal(before));
  before.dispose();
  m.dispose();
  assert.throws(() => models.lrasppMobileNetV3Large({ numClasses: 0 }), /numClasses must be a positive integer/);
  assert.throws(() => models.lrasppMobileNetV3Large({ classes: 3 } as never), /unknown option 'classes'/);
  assert.throws(() => models.mobileNetV3Large({ widthMult: 0 }), /widthMult must be a positive number/);
  assert.throws(() => models.mobileNetV3Large({ dilated: 'yes' } as never), /dilated must be a boolean/);
  const h = models.mobileNetV3Large({ numClasses: 2, widthMult: 0.25 });
  assert.throws(() => h.forward(torch.zeros(3, 32, 32)), /expected input \[N, C, H, W\]/);
  assert.throws(() => h.stateDict({ keys: 'timm' as never }), /'arsenal' or 'torchvision'/);
  h.dispose();
});

test('nn.Hardswish / nn.Hardsigmoid are PyTorch\'s: x·relu6(x+3)/6 and relu6(x+3)/6', () => {
  torch.scope(() => {
    const xs = [-4, -3, -1.5, 0, 0.5, 3, 4];
    const x = torch.tensor(xs);
    const hs = new nn.Hardswish().forward(x).toArray() as number[];
    const hsig = new nn.Hardsigmoid().forward(x).toArray() as number[];
    const relu6 = (v: number) => Math.min(6, Math.max(0, v));
    xs.forEach((v, i) => {
      assert.ok(Math.abs(hs[i] - v * relu6(v + 3) / 6) < 1e-6, `hardswish(${v})`);
      assert.ok(Math.abs(hsig[i] - relu6(v + 3) / 6) < 1e-6, `hardsigmoid(${v})`);
    });
  });
});
