// The FPN neck, the Semantic FPN and the ResNet U-Net. The neck against
// torchvision 0.14, from fixtures made once with PyTorch 1.13 / torchvision
// 0.14 (Debian's python3-torch and python3-torchvision, never a dependency of
// Arsenal or of `npm test`):
//   /usr/bin/python3 test/fixtures/models/make_fpn_fixture.py
//   torchvision_fpn_tiny.safetensors        FeaturePyramidNetwork([16, 32, 64, 128], 32, LastLevelMaxPool()) state dict
//   torchvision_fpn_p6p7_tiny.safetensors   the same with LastLevelP6P7(128, 32)
//   torchvision_fpn_tiny_io.safetensors     c2..c5 [2, C, h, w] (odd sizes), both FPNs' outputs
// The segmentation models: their registry names, shapes, key layout, the
// encoder taking a classifier's weights, a gradient at every parameter, and a
// config of each kind training through the Trainer. Imports only from 'arsenal'.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { encode } from 'fast-png';
import { torch, nn, models, data, tasks, Trainer, validateConfig, type Tensor } from 'arsenal';

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/models/${name}`, import.meta.url));
const made: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-unetfpn-')); made.push(d); return d; };

let fpnSd: Record<string, Tensor> = {};
let p6p7Sd: Record<string, Tensor> = {};
let io: Record<string, Tensor> = {};
before(() => {
  fpnSd = torch.safetensors.loadFile(fixture('torchvision_fpn_tiny.safetensors'));
  p6p7Sd = torch.safetensors.loadFile(fixture('torchvision_fpn_p6p7_tiny.safetensors'));
  io = torch.safetensors.loadFile(fixture('torchvision_fpn_tiny_io.safetensors'));
});
after(() => {
  for (const d of [fpnSd, p6p7Sd, io]) torch.dispose(d);
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/**
 * Within 1e-4 (absolute) of torchvision's values: both sides are fp32 from the
 * same weights, so only the order of fp32 sums differs (conv kernels, thread
 * counts, ISAs), ~1e-6 on outputs of magnitude < 10. A real mistake is far
 * larger: a bias in the wrong level, a missing top-down term or a bilinear
 * instead of a nearest upsampling moves outputs by 1e-2 or more.
 */
function assertClose(got: Tensor, want: Tensor, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const worst = torch.scope(() => got.sub(want).abs().max().item());
  assert.ok(worst <= 1e-4, `${what}: max |Arsenal - torchvision| = ${worst}`);
}

const C = () => ['c2', 'c3', 'c4', 'c5'].map((k) => io[k]);

test("FeaturePyramidNetwork loads torchvision's state dict strictly (its keys, in its order) and its outputs equal torchvision's, with LastLevelMaxPool and LastLevelP6P7", () => {
  const fpn = new models.FeaturePyramidNetwork([16, 32, 64, 128], 32, { extraBlocks: new models.LastLevelMaxPool() });
  assert.deepEqual(Object.keys(fpn.stateDict()), Object.keys(fpnSd), "torchvision's keys and order");
  assert.deepEqual(fpn.loadStateDict(fpnSd), { missingKeys: [], unexpectedKeys: [] });
  assert.deepEqual(fpn.outputNames(), ['0', '1', '2', '3', 'pool']);
  torch.scope(() => torch.noGrad(() => {
    const out = fpn.forward(C());
    assert.equal(out.length, 5);
    ['0', '1', '2', '3', 'pool'].forEach((k, i) => assertClose(out[i], io[`fpn.${k}`], `P${k}`));
  }));

  const p = new models.FeaturePyramidNetwork([16, 32, 64, 128], 32, { extraBlocks: new models.LastLevelP6P7(128, 32) });
  assert.deepEqual(Object.keys(p.stateDict()), Object.keys(p6p7Sd));
  assert.deepEqual(p.loadStateDict(p6p7Sd), { missingKeys: [], unexpectedKeys: [] });
  assert.equal((p.extra_blocks as models.LastLevelP6P7).useP5, false, 'P6 from C5 when in != out channels');
  torch.scope(() => torch.noGrad(() => {
    const out = p.forward(C());
    ['0', '1', '2', '3', 'p6', 'p7'].forEach((k, i) => assertClose(out[i], io[`p6p7.${k}`], `p6p7 ${k}`));
  }));
  for (const m of [fpn, p]) m.dispose();
});

test("FeaturePyramidNetwork: torchvision's init (kaiming_uniform_(a=1), zero bias), no extras by default, bad input named", () => {
  const fpn = new models.FeaturePyramidNetwork([64, 128], 256);
  const sd = fpn.stateDict();
  assert.deepEqual(Object.keys(sd), ['inner_blocks.0.0.weight', 'inner_blocks.0.0.bias', 'inner_blocks.1.0.weight', 'inner_blocks.1.0.bias',
    'layer_blocks.0.0.weight', 'layer_blocks.0.0.bias', 'layer_blocks.1.0.weight', 'layer_blocks.1.0.bias']);
  // kaiming_uniform_(a=1): gain 1, bound √3/√fan_in; the 3x3 convs' fan_in is 256·9.
  const w = sd['layer_blocks.1.0.weight'];
  const bound = Math.sqrt(3 / (256 * 9));
  const [mx, sdv] = torch.scope(() => [w.abs().max().item(), w.std().item()]);
  assert.ok(mx <= bound && mx > 0.95 * bound, `max |w| ${mx} vs bound ${bound}`);
  assert.ok(Math.abs(sdv - bound / Math.sqrt(3)) < 0.02 * bound, `std ${sdv}`);
  for (const k of Object.keys(sd).filter((k) => k.endsWith('.bias'))) assert.equal(torch.scope(() => sd[k].abs().sum().item()), 0, k);
  torch.scope(() => {
    assert.equal(fpn.forward([torch.randn(1, 64, 8, 8), torch.randn(1, 128, 4, 4)]).length, 2);
    assert.throws(() => fpn.forward([torch.randn(1, 64, 8, 8)]), /expected a list of 2 feature maps/);
    assert.throws(() => fpn.forward([torch.randn(1, 64, 8, 8), torch.randn(1, 96, 4, 4)]), /feature map 1 must be \[N, 128, H, W\], got \[1, 96, 4, 4\]/);
  });
  assert.throws(() => new models.FeaturePyramidNetwork([64, 0], 256), /inChannelsList\[1\] must be a positive integer/);
  assert.throws(() => new models.FeaturePyramidNetwork([64], 256, { extraBlocks: new nn.ReLU() as never }), /extraBlocks must be an ExtraFPNBlock/);
  assert.throws(() => new models.FeaturePyramidNetwork([64], 256, { extra: 1 } as never), /unknown option 'extra'/);
  fpn.dispose();
});

const NAMES = ['unet_resnet18', 'unet_resnet34', 'fpn_resnet18', 'fpn_resnet50'] as const;

test('the registry builds unet_resnet18/34 and fpn_resnet18/50: logits [N, K, H, W] at the input size; a U-Net refuses H, W not divisible by 32', () => {
  for (const name of NAMES) assert.ok(models.SEG_MODEL_NAMES.includes(name), name);
  for (const name of NAMES) {
    const m = models.buildSegmentationModel(name, { numClasses: 3, width: 8 });
    m.eval();
    torch.scope(() => torch.noGrad(() => {
      assert.deepEqual(m.forward(torch.randn(2, 3, 64, 96)).shape, [2, 3, 64, 96], name);
      if (name.startsWith('fpn')) assert.deepEqual(m.forward(torch.randn(1, 3, 50, 70)).shape, [1, 3, 50, 70], `${name} at 50x70`);
      else assert.throws(() => m.forward(torch.randn(1, 3, 50, 70)), /divisible by 32, got input \[1, 3, 50, 70\] \(50x70\); resize or pad the images to 64x96/);
    }));
    m.dispose();
  }
  const one = models.buildSegmentationModel('unet_resnet18', { numClasses: 2, inChannels: 1, width: 8 });
  assert.deepEqual(one.stateDict()['backbone.conv1.weight'].shape, [8, 1, 7, 7]);
  assert.throws(() => torch.scope(() => one.forward(torch.randn(1, 3, 32, 32))), /expected 1 input channels/);
  one.dispose();
  assert.throws(() => models.buildSegmentationModel('unet_resnet18', { numClasses: 2, widthMult: 0.5 }), /option 'widthMult' does not apply \(it takes numClasses, inChannels, width\)/);
  assert.throws(() => models.buildSegmentationModel('fpn_resnet18', { numClasses: 0 }), /numClasses must be a positive integer/);
});

test("the U-Net's layout is smp's Unet on torchvision's ResNet: skips at /2../16, decoder channels 256..16, a 3x3 head", () => {
  const m = models.buildSegmentationModel('unet_resnet18', { numClasses: 5, width: 8 }) as models.UNet;
  const sd = m.stateDict();
  const shape = (k: string) => sd[k]?.shape;
  // ResNet-18 at width 8: stem 8, layer1..4 8, 16, 32, 64. Block i: in = previous (or layer4) + skip.
  assert.deepEqual(shape('decoder.blocks.0.conv1.0.weight'), [256, 64 + 32, 3, 3]);
  assert.deepEqual(shape('decoder.blocks.1.conv1.0.weight'), [128, 256 + 16, 3, 3]);
  assert.deepEqual(shape('decoder.blocks.2.conv1.0.weight'), [64, 128 + 8, 3, 3]);
  assert.deepEqual(shape('decoder.blocks.3.conv1.0.weight'), [32, 64 + 8, 3, 3], 'the stem (before the max-pool) is the /2 skip');
  assert.deepEqual(shape('decoder.blocks.4.conv1.0.weight'), [16, 32, 3, 3], 'no skip at /1');
  assert.deepEqual(shape('decoder.blocks.4.conv2.1.running_var'), [16]);
  assert.equal(sd['decoder.blocks.0.conv1.0.bias'], undefined, 'no conv bias before BN');
  assert.deepEqual(shape('segmentation_head.0.weight'), [5, 16, 3, 3]);
  assert.deepEqual(Object.keys(sd).slice(-2), ['segmentation_head.0.weight', 'segmentation_head.0.bias']);
  torch.scope(() => torch.noGrad(() => {
    m.eval();
    assert.deepEqual(m.encode(torch.randn(1, 3, 64, 32)).map((t) => t.shape), [[1, 8, 32, 16], [1, 8, 16, 8], [1, 16, 8, 4], [1, 32, 4, 2], [1, 64, 2, 1]]);
  }));
  m.dispose();
  const big = models.unetResNet34({ numClasses: 1 });
  assert.deepEqual(big.stateDict()['decoder.blocks.0.conv1.0.weight'].shape, [256, 512 + 256, 3, 3]);
  big.dispose();
});

test("the Semantic FPN's layout is mmseg's fpn: FPN neck 256, FPNHead 128 with 1, 1, 2, 3 ConvModules per level, conv_seg last", () => {
  const m = models.buildSegmentationModel('fpn_resnet50', { numClasses: 4, width: 8 }) as models.SemanticFPN;
  const sd = m.stateDict();
  assert.deepEqual(sd['neck.inner_blocks.0.0.weight'].shape, [256, 32, 1, 1], 'ResNet-50 layer1 at width 8: 32 channels');
  assert.deepEqual(sd['neck.inner_blocks.3.0.weight'].shape, [256, 256, 1, 1]);
  assert.deepEqual(sd['neck.layer_blocks.3.0.weight'].shape, [256, 256, 3, 3]);
  const convs = Object.keys(sd).filter((k) => /^decode_head\.scale_heads\.\d+\.\d+\.conv\.weight$/.test(k));
  assert.deepEqual(convs.map((k) => k.split('.').slice(2, 4).join('.')), ['0.0', '1.0', '2.0', '2.2', '3.0', '3.2', '3.4'], 'a ConvModule, then an Upsample, per step of 2');
  assert.deepEqual(sd['decode_head.scale_heads.3.2.conv.weight'].shape, [128, 128, 3, 3]);
  assert.deepEqual(sd['decode_head.scale_heads.0.0.conv.weight'].shape, [128, 256, 3, 3]);
  assert.deepEqual(sd['decode_head.scale_heads.1.0.bn.running_mean'].shape, [128]);
  assert.equal(sd['decode_head.scale_heads.0.0.conv.bias'], undefined);
  assert.deepEqual(Object.keys(sd).slice(-2), ['decode_head.conv_seg.weight', 'decode_head.conv_seg.bias']);
  assert.deepEqual(sd['decode_head.conv_seg.weight'].shape, [4, 128, 1, 1]);
  assert.equal(m.decode_head.dropout?.p, 0.1);
  torch.scope(() => torch.noGrad(() => {
    m.eval();
    // The head's output is at stride 4, before the resize to the input.
    const x = torch.randn(1, 3, 64, 96);
    const feats = m.backbone.forwardFeatures(x).slice(1);
    assert.deepEqual(m.decode_head.forward(m.neck.forward(feats)).shape, [1, 4, 16, 24]);
    // Eval mode: Dropout2d is off, so the forward is deterministic.
    assert.ok(m.forward(x).equal(m.forward(x)));
  }));
  m.dispose();
  assert.throws(() => new models.FPNHead({ inChannels: [8, 8], featureStrides: [8, 4], numClasses: 2 }), /the first the smallest/);
  assert.throws(() => new models.FPNHead({ inChannels: [8, 8], featureStrides: [4], numClasses: 2 }), /one stride per input level/);
});

test("the encoder loads a classification ResNet's weights (Arsenal's keys and torchvision's) with loadPretrained, strict false: every backbone key, the fc skipped", () => {
  const cls = models.resnet18({ numClasses: 10, width: 8 });
  const dir = tmp();
  torch.safetensors.saveFile(cls.stateDict(), join(dir, 'arsenal.safetensors'));
  torch.safetensors.saveFile(cls.stateDict({ keys: 'torchvision' }), join(dir, 'torchvision.safetensors'));
  for (const name of ['unet_resnet18', 'fpn_resnet18'] as const) {
    for (const file of ['arsenal.safetensors', 'torchvision.safetensors']) {
      const m = models.buildSegmentationModel(name, { numClasses: 3, width: 8 });
      const backboneKeys = Object.keys(m.stateDict()).filter((k) => k.startsWith('backbone.'));
      assert.deepEqual(backboneKeys, Object.keys(cls.stateDict()).filter((k) => k.startsWith('backbone.')), `${name}: the encoder's keys are the classifier's`);
      const r = models.loadPretrained(m, join(dir, file), { strict: false });
      assert.deepEqual([...r.loaded].sort(), [...backboneKeys].sort(), `${name} ← ${file}`);
      assert.deepEqual(r.skipped.sort(), file === 'arsenal.safetensors' ? ['head.fc.bias', 'head.fc.weight'] : ['fc.bias', 'fc.weight']);
      assert.ok(r.missing.length > 0 && r.missing.every((k) => !k.startsWith('backbone.')), 'only the decoder is left as initialised');
      const own = m.stateDict(), src = cls.stateDict();
      for (const k of backboneKeys) assert.ok(own[k].equal(src[k]), k);
      assert.throws(() => models.loadPretrained(m, join(dir, file)), /does not fit the model/);
      m.dispose();
    }
  }
  cls.dispose();
});

test('a gradient reaches every parameter of every model after one backward (no dead branch)', () => {
  for (const name of NAMES) {
    const m = models.buildSegmentationModel(name, { numClasses: 3, width: 8 });
    m.train();
    torch.scope(() => {
      const y = m.forward(torch.randn(2, 3, 64, 64));
      y.mul(torch.randn(...y.shape)).sum().backward();
      const dead = [...m.namedParameters()].filter(([, p]) => p.grad === null || p.grad.abs().sum().item() === 0).map(([k]) => k);
      assert.deepEqual(dead, [], `${name}: parameters without a gradient`);
    });
    m.dispose();
  }
});

// A tiny mmseg folder: 4 training images (one batch of 4: one step per epoch), 2 test images, 32x32.
const S = 32, CLASSES = ['background', 'red', 'blue'];
async function writeSplit(root: string, split: string, n: number, seed: number): Promise<void> {
  const g = new data.Rng(seed);
  mkdirSync(join(root, 'img_dir', split), { recursive: true });
  mkdirSync(join(root, 'ann_dir', split), { recursive: true });
  for (let i = 0; i < n; i++) {
    const rgb = Buffer.alloc(S * S * 3), mask = Buffer.alloc(S * S);
    for (let p = 0; p < S * S * 3; p++) rgb[p] = g.int(60, 140);
    const cls = 1 + (i % 2), x0 = g.int(0, 16), y0 = g.int(0, 16);
    for (let y = y0; y < y0 + 12; y++) for (let x = x0; x < x0 + 12; x++) {
      const p = y * S + x;
      mask[p] = cls;
      rgb[p * 3] = cls === 1 ? 230 : 20; rgb[p * 3 + 1] = 30; rgb[p * 3 + 2] = cls === 1 ? 20 : 230;
    }
    await sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).png().toFile(join(root, 'img_dir', split, `${i}.png`));
    writeFileSync(join(root, 'ann_dir', split, `${i}.png`), encode({ width: S, height: S, data: mask, channels: 1, depth: 8 }));
  }
}

test("segmentation configs with model.name 'unet_resnet18' and 'fpn_resnet18' (model.width 8) train a step through the Trainer", async () => {
  const root = tmp();
  await writeSplit(root, 'train', 4, 1);
  await writeSplit(root, 'val', 2, 2);
  const config = (model: tasks.SegmentationConfig['model']): tasks.SegmentationConfig => ({
    task: 'segmentation',
    seed: 3,
    data: { dataset: 'mmseg', root, classes: CLASSES, batchSize: 4, mean: [0.4, 0.4, 0.4], std: [0.25, 0.25, 0.25] },
    model,
    optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9 },
    loss: { terms: [{ type: 'CrossEntropyLoss' }] },
    train: { epochs: 1, amp: 'fp32' },
  });
  assert.throws(() => validateConfig(config({ name: 'unet_resnet18', width: 0 })), /config\.model\.width/);
  for (const name of ['unet_resnet18', 'fpn_resnet18'] as const) {
    const cfg = config({ name, width: 8 });
    validateConfig(cfg);
    let steps = 0, before: Tensor | null = null, moved = false;
    const watch = {
      name: 'watch',
      beforeRun(t: Trainer) { before = t.model.stateDict()['backbone.conv1.weight'].clone(); },
      afterStep(t: Trainer, s: { loss: number }) {
        steps++;
        assert.ok(Number.isFinite(s.loss), `${name}: loss ${s.loss}`);
        moved = !t.model.stateDict()['backbone.conv1.weight'].equal(before!);
      },
    };
    const r = await new Trainer(cfg, { workDir: tmp(), quiet: true, hooks: [watch] }).fit();
    assert.equal(steps, 1, name);
    assert.ok(moved, `${name}: the encoder's weights moved`);
    assert.ok(r.metrics.mIoU >= 0 && r.metrics.mIoU <= 1, `${name}: mIoU ${r.metrics.mIoU}`);
    (before as Tensor | null)?.dispose();
  }
});

test("nn.Dropout2d (FPNHead's dropout before conv_seg) drops whole channels and scales the rest by 1/(1-p); off in eval mode", () => {
  const d = new nn.Dropout2d(0.5);
  torch.scope(() => {
    const x = torch.ones(4, 64, 3, 3);
    const y = d.forward(x);
    const perChannel = y.reshape(4 * 64, 9);
    const mn = perChannel.amin(1).toArray() as number[], mx = perChannel.amax(1).toArray() as number[];
    assert.ok(mn.every((v, i) => v === mx[i] && (v === 0 || v === 2)), 'each channel is all 0 or all 1/(1-p)');
    const kept = mn.filter((v) => v === 2).length;
    assert.ok(kept > 0 && kept < 256, `${kept} of 256 channels kept`);
    d.eval();
    assert.ok(d.forward(x).equal(x));
  });
  assert.throws(() => new nn.Dropout2d(1.5), /Dropout2d: p must be in \[0, 1\]/);
});
