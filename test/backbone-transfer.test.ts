// A classifier's backbone into a segmentation model (model.backbonePretrained,
// src/models/backbone_transfer.ts) and the backbone's lower lr (paramwise
// customKeys backbone lrMult 0.1). torchvision's names come from a fixture made
// once with PyTorch 1.13 / torchvision 0.14:
//   /usr/bin/python3 test/fixtures/models/make_backbone_transfer_fixture.py
// (backbone_transfer_reference.json: the [key, shape] list of
// mobilenet_v3_large(num_classes=12), the backbone.* of
// lraspp_mobilenet_v3_large(num_classes=12), and whether the classifier's state
// dict loads strictly into the dilated MobileNetV3).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { torch, nn, models, tasks, data, engine, Trainer, validateConfig, type Tensor } from 'arsenal';
import type { ClassificationConfig } from 'arsenal';
import type { SegmentationConfig } from '../src/tasks/index.js';
import scenesBackbone, { fineTuneBackbone, BACKBONE_WEIGHTS } from '../configs/segmentation/scenes-backbone.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/models/${name}`, import.meta.url));
type Ref = { mobilenet_v3_large_12: [string, number[]][]; lraspp_backbone_12: [string, number[]][]; dilated_loads: boolean };
const ref = JSON.parse(readFileSync(fixture('backbone_transfer_reference.json'), 'utf8')) as Ref;

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'arsenal-bb-')); made.push(d); return d; };

const CLASSES = ['background', 'a', 'b'];
const INFO = { classes: CLASSES, classCounts: [1, 1, 1], inChannels: 3 };
const segConfig = (model: Partial<SegmentationConfig['model']> = {}, optimizer: Partial<SegmentationConfig['optimizer']> = {}): SegmentationConfig => {
  const cfg = {
    task: 'segmentation',
    data: { dataset: 'mmseg', root: '/nowhere', classes: CLASSES, batchSize: 2 },
    model: { name: 'lraspp_mobilenet_v3_large', widthMult: 0.25, ...model },
    optimizer: { type: 'SGD', lr: 0.01, momentum: 0.9, ...optimizer },
    schedule: { type: 'poly', power: 0.9 },
    train: { epochs: 1 },
  } satisfies SegmentationConfig;
  validateConfig(cfg);
  return cfg;
};

/** Every tensor of the module set to fresh random values (integers to 7), so a tensor copied from the wrong place, or not copied, shows. */
function randomise(m: nn.Module): void {
  torch.noGrad(() => {
    for (const t of Object.values(m.stateDict())) {
      if (t.dtype === 'float32') torch.scope(() => { t.copy_(torch.randnLike(t)); });
      else t.fill_(7);
    }
  });
}

/** A classifier's tensors saved to a file; the dict's keys, for the checks. */
function save(sd: Record<string, Tensor>, name: string): string {
  const file = join(tmp(), name);
  torch.safetensors.saveFile(sd, file);
  return file;
}

function assertBackboneEquals(model: nn.Module, sd: Record<string, Tensor>, map: (k: string) => string | null): number {
  const own = model.stateDict();
  let n = 0;
  for (const [k, t] of Object.entries(sd)) {
    const target = map(k);
    if (target === null) continue;
    assert.ok(target in own, `${target} in the model`);
    assert.ok(own[target].equal(t), `${target} equals the classifier's ${k}`);
    n++;
  }
  assert.equal(n, Object.keys(own).filter((k) => k.startsWith('backbone.')).length, 'every backbone tensor compared');
  return n;
}

test("buildModel('mobilenet_v3_large') has torchvision's mobilenet_v3_large(num_classes=12) keys and shapes; features.* map onto lraspp_mobilenet_v3_large's backbone.* exactly", () => {
  const m = models.buildModel({ name: 'mobilenet_v3_large', numClasses: 12 });
  assert.deepEqual(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape]), ref.mobilenet_v3_large_12);
  // torchvision's dropout 0.2 by default; dropRate sets it.
  assert.equal(((m as models.MobileNetV3).classifier.children()[2] as nn.Dropout).p, 0.2);
  m.dispose();
  const d = models.buildModel({ name: 'mobilenet_v3_large', numClasses: 12, widthMult: 0.25, dropRate: 0.1 }) as models.MobileNetV3;
  assert.equal((d.classifier.children()[2] as nn.Dropout).p, 0.1);
  d.dispose();
  assert.throws(() => models.buildModel({ name: 'mobilenet_v3_large', stem: 'small' }), /unknown option 'stem' for 'mobilenet_v3_large'/);
  assert.throws(() => models.buildModel({ name: 'resnet18', widthMult: 0.5 }), /unknown option 'widthMult' for 'resnet18'/);

  // The mapping on torchvision's own names: classifier.* dropped, features.<i> → backbone.<i>, nothing else.
  const keys = ref.mobilenet_v3_large_12.map(([k]) => k);
  assert.equal(models.backboneNaming(keys), 'mobilenet');
  const map = models.backboneKeyMap(keys);
  const shapes = new Map(ref.mobilenet_v3_large_12);
  const mapped = [...map].filter(([, t]) => typeof t === 'string').map(([k, t]) => [t, shapes.get(k)]);
  assert.deepEqual(mapped, ref.lraspp_backbone_12);
  assert.deepEqual([...map].filter(([, t]) => t === null).map(([k]) => k), ['classifier.0.weight', 'classifier.0.bias', 'classifier.3.weight', 'classifier.3.bias']);
  assert.equal(ref.dilated_loads, true, "torchvision's dilated MobileNetV3 takes the classifier's state dict as it is");
});

test('backbonePretrained: a mobilenet_v3_large classifier (widthMult 0.25) → lraspp_mobilenet_v3_large: every backbone tensor identical, one log line', () => {
  const cls = models.buildModel({ name: 'mobilenet_v3_large', numClasses: 12, widthMult: 0.25 });
  randomise(cls);
  const sd = cls.stateDict();
  const file = save(sd, 'mnv3.safetensors');
  const seg = tasks.segmentation;
  const lines: string[] = [];
  const model = seg.buildModel(segConfig({ backbonePretrained: file }), INFO, (l) => lines.push(l));
  const n = assertBackboneEquals(model, sd, (k) => (k.startsWith('features.') ? `backbone.${k.slice(9)}` : null));
  assert.equal(n, 308);
  assert.deepEqual(lines, [`backbonePretrained ${file}: loaded 308 backbone tensors (MobileNetV3 classifier keys (features.* → backbone.*, classifier.* dropped)); dropped 4 classifier tensors (classifier.0.bias, classifier.0.weight, classifier.3.bias, classifier.3.weight)`]);
  // The loaded model runs (dilated: the same weights at output stride 16).
  model.eval();
  const out = torch.scope(() => torch.noGrad(() => model.forward(torch.randn(1, 3, 32, 32)).shape));
  assert.deepEqual(out, [1, 3, 32, 32]);
  // pretrained (a whole segmentation model) and backbonePretrained exclude each other.
  assert.throws(() => seg.buildModel(segConfig({ backbonePretrained: file, pretrained: file }), INFO), /model\.pretrained .* model\.backbonePretrained .* exclude each other/);
  for (const m of [cls, model]) m.dispose();
});

test('scripts/backbone-file.mjs: the classifier head dropped, weights as float16, norms and biases float32; the file loads as backbonePretrained (the halves cast back)', () => {
  const cls = models.buildModel({ name: 'mobilenet_v3_large', numClasses: 12, widthMult: 0.25 });
  randomise(cls);
  const sd = cls.stateDict();
  const input = save(sd, 'mnv3.safetensors');
  const output = join(tmp(), 'backbone.safetensors');
  const r = spawnSync(process.execPath, [join(root, 'scripts/backbone-file.mjs'), input, output, '--note', 'made by the test'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /308 backbone tensors \(4 classifier tensors dropped\)/);
  const { tensors: out, metadata } = torch.safetensors.loadFileWithMetadata(output);
  assert.deepEqual(metadata, { source: input, note: 'made by the test' });
  assert.deepEqual(Object.keys(out).sort(), Object.keys(sd).filter((k) => k.startsWith('features.')).sort());
  for (const [k, t] of Object.entries(out)) {
    const want = sd[k].dtype === 'float32' && sd[k].dim() >= 2 ? 'float16' : sd[k].dtype;
    assert.equal(t.dtype, want, k);
  }
  const model = tasks.segmentation.buildModel(segConfig({ backbonePretrained: output }), INFO);
  const n = assertBackboneEquals(model, Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, t.dim() >= 2 && t.dtype === 'float32' ? t.half().float() : t])),
    (k) => (k.startsWith('features.') ? `backbone.${k.slice(9)}` : null));
  assert.equal(n, 308);
  assert.equal(model.stateDict()['backbone.0.0.weight'].dtype, 'float32');
  const bad = spawnSync(process.execPath, [join(root, 'scripts/backbone-file.mjs'), join(tmp(), 'none.safetensors'), output], { cwd: root, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /no such file '.*none\.safetensors'/);
  for (const m of [cls, model]) m.dispose();
});

/** A stand-in for a ResNet-backboned segmentation model: Arsenal's ResNetBackbone under 'backbone', a 1x1 conv head. */
class ResNetSeg extends nn.Module {
  backbone = new models.ResNetBackbone(models.ARCHS.resnet18, { width: 8 });
  classifier = new nn.Conv2d(64, 3, 1);
  forward(x: Tensor): Tensor { return this.classifier.forward(this.backbone.forward(x)); }
}

test('loadBackbone: a ResNet-18 classifier (Arsenal\'s keys, or torchvision\'s without num_batches_tracked) → a ResNetBackbone under backbone.*: every tensor identical, fc dropped', () => {
  const cls = models.resnet18({ width: 8, numClasses: 12 });
  randomise(cls);
  // Arsenal's keys: backbone.* as they are, head.* dropped.
  const a = cls.stateDict();
  const segA = new ResNetSeg();
  const rA = models.loadBackbone(segA, save(a, 'r18-arsenal.safetensors'));
  assert.equal(rA.naming, 'arsenal');
  assert.deepEqual(rA.dropped, ['head.fc.bias', 'head.fc.weight'], 'in the file\'s (sorted) order');
  assert.equal(assertBackboneEquals(segA, a, (k) => (k.startsWith('backbone.') ? k : null)), rA.loaded.length);
  // torchvision's flat keys: conv1…layer4 → backbone.*, fc.* dropped; num_batches_tracked may be absent (kept as it was).
  const tv = Object.fromEntries(Object.entries(cls.stateDict({ keys: 'torchvision' })).filter(([k]) => !k.endsWith('num_batches_tracked')));
  const segT = new ResNetSeg();
  const rT = models.loadBackbone(segT, tv);
  assert.equal(rT.naming, 'torchvision');
  assert.deepEqual(rT.dropped, ['fc.weight', 'fc.bias']);
  const own = segT.stateDict();
  for (const [k, t] of Object.entries(tv)) if (!k.startsWith('fc.')) assert.ok(own[`backbone.${k}`].equal(t), k);
  assert.equal(own['backbone.bn1.num_batches_tracked'].item(), 0);
  assert.equal(rT.loaded.length, rA.loaded.length - Object.keys(a).filter((k) => k.endsWith('num_batches_tracked')).length);
  for (const m of [cls, segA, segT]) m.dispose();
});

test('backbonePretrained is strict: a missing, mis-shaped or unexpected key is an error naming it, and nothing is copied', () => {
  const cls = models.buildModel({ name: 'mobilenet_v3_large', numClasses: 12, widthMult: 0.25 });
  randomise(cls);
  const sd = cls.stateDict();
  const model = tasks.segmentation.buildModel(segConfig(), INFO);
  const before = model.stateDict()['backbone.0.0.weight'].clone();
  const unchanged = () => assert.ok(model.stateDict()['backbone.0.0.weight'].equal(before), 'nothing copied');

  const { ['features.3.block.1.0.weight']: _gone, ...missing } = sd;
  assert.throws(() => models.loadBackbone(model, save(missing, 'missing.safetensors')), /backbone keys not in the file: backbone\.3\.block\.1\.0\.weight/);
  unchanged();

  const bad = torch.zeros(8, 8, 1, 1);
  const file = save({ ...sd, 'features.5.block.0.0.weight': bad }, 'shape.safetensors');
  assert.throws(() => models.loadBackbone(model, file), (e: Error) =>
    e.message.includes("'features.5.block.0.0.weight' has shape [8, 8, 1, 1]") && e.message.includes("'backbone.5.block.0.0.weight' is [32, 16, 1, 1]") && e.message.includes(file));
  unchanged();

  const extra = torch.zeros(3);
  assert.throws(() => models.loadBackbone(model, { ...sd, 'features.17.weight': extra, 'aux.weight': extra }), /file keys not in the backbone: features\.17\.weight, aux\.weight/);
  unchanged();

  // Another width: every conv's shape differs; the first one met is named.
  const wide = models.buildModel({ name: 'mobilenet_v3_large', numClasses: 12, widthMult: 1 });
  assert.throws(() => models.loadBackbone(model, wide.stateDict()), /'features\.0\.0\.weight' has shape \[16, 3, 3, 3\] in the state dict but the model's 'backbone\.0\.0\.weight' is \[8, 3, 3, 3\]/);
  // A ResNet classifier into a MobileNet backbone: every key named as missing or unexpected.
  const r18 = models.resnet18({ width: 8 });
  assert.throws(() => models.loadBackbone(model, r18.stateDict()), /read as Arsenal's ResNet keys .*backbone keys not in the file: backbone\.0\.0\.weight.*file keys not in the backbone: backbone\.conv1\.weight/);
  unchanged();

  assert.throws(() => models.loadBackbone(model, join(tmp(), 'absent.safetensors')), /backbonePretrained: no such file '.*absent\.safetensors'/);
  assert.throws(() => models.loadBackbone(new nn.Conv2d(3, 3, 1), sd), /the model has no 'backbone\.' tensors/);
  for (const m of [cls, model, wide, r18]) m.dispose();
  for (const t of [before, bad, extra]) t.dispose();
});

test("paramwise customKeys { backbone: { lrMult: 0.1 } } on a segmentation config: every backbone parameter at lr × 0.1, the head at lr, kept through the poly schedule", () => {
  const cfg = segConfig({}, { paramwise: { customKeys: { backbone: { lrMult: 0.1 } } } });
  const model = tasks.segmentation.buildModel(cfg, INFO);
  const { optimizer, groups } = engine.buildOptimizer(cfg.optimizer, model, null);
  const lrOf = new Map<Tensor, number>();
  for (const g of optimizer.paramGroups) for (const p of g.params) lrOf.set(p, g.lr);
  const named = [...model.namedParameters()];
  assert.ok(named.some(([n]) => !n.startsWith('backbone.')), 'the model has a head');
  for (const [n, p] of named) assert.equal(lrOf.get(p), n.startsWith('backbone.') ? 0.001 : 0.01, n);
  for (const g of groups) assert.equal(g.lrMult, g.name.startsWith('backbone') ? 0.1 : 1, g.name);
  const sched = engine.buildSchedule(cfg.schedule, optimizer, cfg.optimizer.lr, 1, 10)!;
  for (let i = 0; i < 5; i++) sched.step();
  const [bb, head] = ['backbone', 'default'].map((n) => optimizer.paramGroups.find((g) => g.name === n)!);
  assert.ok(head.lr < 0.01 && Math.abs(bb.lr / head.lr - 0.1) < 1e-9, `${bb.lr} / ${head.lr}`);
  model.dispose();
});

test('the recipes: scenes-backbone.ts is a mobilenet_v3_large classification; fineTuneBackbone and the --set lines give a segmentation recipe backbonePretrained and lrMult 0.1', async () => {
  const c = await engine.loadConfig('configs/segmentation/scenes-backbone.ts');
  assert.equal(c.task, 'classification');
  assert.equal(c.model.name, 'mobilenet_v3_large');
  await assert.rejects(tasks.buildDatasets({ dataset: 'fashion-mnist', batchSize: 1, testSplit: 'val' }), /data\.trainSplit \/ data\.testSplit are imagefolder sub-folders/);
  const voc = await engine.loadConfig('configs/segmentation/lraspp-voc.ts', [`model.backbonePretrained=${BACKBONE_WEIGHTS}`, 'optimizer.paramwise.customKeys.backbone.lrMult=0.1']);
  assert.equal(voc.task, 'segmentation');
  const fine = fineTuneBackbone(voc as SegmentationConfig);
  validateConfig(fine);
  for (const f of [voc, fine] as SegmentationConfig[]) {
    assert.equal(f.model.backbonePretrained, BACKBONE_WEIGHTS);
    assert.deepEqual(f.optimizer.paramwise?.customKeys, { backbone: { lrMult: 0.1 } });
  }
  assert.equal(fineTuneBackbone(segConfig({}, { paramwise: { normDecayMult: 0, customKeys: { backbone: { decayMult: 0.5 } } } }), 'x.safetensors', 0.2).optimizer.paramwise?.customKeys?.backbone?.lrMult, 0.2);
  assert.deepEqual(fineTuneBackbone(segConfig({}, { paramwise: { normDecayMult: 0, customKeys: { backbone: { decayMult: 0.5 } } } })).optimizer.paramwise, { normDecayMult: 0, customKeys: { backbone: { decayMult: 0.5, lrMult: 0.1 } } });
});

test('end to end: scenes-backbone.ts (one tiny epoch on an ImageFolder with a val split) → its best.safetensors as backbonePretrained', async () => {
  const root = tmp();
  const g = new data.Rng(3);
  for (const split of ['train', 'val']) for (const [ci, cls] of ['disc', 'square'].entries()) {
    mkdirSync(join(root, split, cls), { recursive: true });
    for (let i = 0; i < 4; i++) {
      const px = Buffer.alloc(16 * 16 * 3);
      for (let p = 0; p < px.length; p++) px[p] = g.int(0, 255) >> (ci + 1);
      await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(join(root, split, cls, `${i}.png`));
    }
  }
  const cfg: ClassificationConfig = {
    ...scenesBackbone,
    data: { ...scenesBackbone.data, root, imageSize: [16, 16], batchSize: 4 },
    model: { ...scenesBackbone.model, widthMult: 0.25 },
    train: { epochs: 1, amp: 'fp32' },
  };
  validateConfig(cfg);
  const workDir = tmp();
  await new Trainer(cfg, { workDir, quiet: true }).fit();
  const best = join(workDir, 'best.safetensors');
  const sd = torch.safetensors.loadFile(best);
  assert.deepEqual(sd['classifier.3.weight'].shape, [2, 1280 / 4]);
  const lines: string[] = [];
  const model = tasks.segmentation.buildModel(fineTuneBackbone(segConfig(), best), INFO, (l) => lines.push(l));
  assertBackboneEquals(model, sd, (k) => (k.startsWith('features.') ? `backbone.${k.slice(9)}` : null));
  assert.match(lines[0], /loaded 308 backbone tensors/);
  model.dispose();
  torch.dispose(sd);
});
