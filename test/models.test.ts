// ResNets against torchvision 0.14 (PyTorch 1.13): state-dict names and shapes,
// parameter counts and logits with deterministic weights; loadPretrained and
// buildModel. Reference from
//   /usr/bin/python3 test/fixtures/models/make_resnet_fixture.py > test/fixtures/models/resnet_reference.json
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torch, nn } from 'arsenal';
import { resnet18, resnet34, resnet50, ResNet, loadPretrained, buildModel } from '../src/models/index.js';

type Entry = [string, number[], 'p' | 'b'];
interface Logits { input: number[]; shape: number[]; index: number[]; value: number[]; absSum: number }
const ref = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/models/resnet_reference.json', import.meta.url)), 'utf8')) as {
  resnet18: { state: Entry[]; numParameters: number };
  resnet50: { state: Entry[]; numParameters: number };
  logits: Record<'resnet18' | 'resnet50' | 'resnet18_small', Logits>;
};

const strip = (k: string) => k.replace(/^(backbone|head)\./, '');

/** Our state dict as the fixture's [name, shape, kind] with the prefixes stripped. */
function entries(m: nn.Module): Entry[] {
  const params = new Set<unknown>(m.parameters());
  return Object.entries(m.stateDict()).map(([k, t]) => [strip(k), t.shape, params.has(t) ? 'p' : 'b']);
}

/** The fixture script's fill(): k = index in state-dict order, num_batches_tracked untouched. */
function fill(m: nn.Module): void {
  torch.noGrad(() => Object.entries(m.stateDict()).forEach(([name, t], k) => torch.scope(() => {
    if (!t.isFloatingPoint()) return;
    const n = t.numel();
    const s = torch.arange(0, n, 1, { dtype: 'float32' }).mul(0.37).add(k);
    const leaf = name.split('.').at(-1);
    let v;
    if (t.dim() >= 2) v = s.sin().mul(2 / Math.sqrt(n / t.shape[0]));
    else if (leaf === 'running_var') v = s.cos().abs().mul(0.1).add(1);
    else if (leaf === 'weight') v = s.sin().mul(0.2).add(1);
    else v = s.sin().mul(0.02);
    t.copy_(v.reshape(t.shape));
  })));
}

function sinInput(shape: number[]) {
  return torch.arange(0, shape.reduce((a, b) => a * b, 1), 1, { dtype: 'float32' }).mul(0.05).sin().reshape(shape);
}

/** Logits within 1e-4 of the reference, relative to the largest reference logit: fp32 convolutions accumulate in a
 * different order on each ISA's kernels through up to 50 layers (~1e-6 observed). */
function checkLogits(m: nn.Module, r: Logits, what: string): void {
  fill(m);
  m.eval();
  torch.scope(() => torch.noGrad(() => {
    const y = m.forward(sinInput(r.input));
    assert.deepEqual(y.shape, r.shape, `${what}: logits shape`);
    const flat = y.flatten().toArray() as number[];
    const scale = Math.max(1, ...r.value.map(Math.abs));
    r.index.forEach((i, j) => {
      assert.ok(Math.abs(flat[i] - r.value[j]) <= 1e-4 * scale, `${what}: logit ${i} is ${flat[i]}, torchvision ${r.value[j]}`);
    });
    const absSum = flat.reduce((a, b) => a + Math.abs(b), 0);
    assert.ok(Math.abs(absSum - r.absSum) <= 1e-4 * r.absSum, `${what}: sum |logits| ${absSum}, torchvision ${r.absSum}`);
  }));
}

let r50: ResNet | null = null;
after(() => r50?.dispose());

test('resnet18: state-dict names, shapes and order equal torchvision; 11,689,512 parameters', () => {
  const m = resnet18();
  assert.deepEqual(entries(m), ref.resnet18.state);
  assert.equal(m.numParameters(), ref.resnet18.numParameters);
  assert.equal(m.numParameters(), 11_689_512);
  assert.equal(m.backbone.outChannels, 512);
  m.dispose();
});

test('resnet50: state-dict names, shapes and order equal torchvision; 25,557,032 parameters', () => {
  r50 = resnet50();
  assert.deepEqual(entries(r50), ref.resnet50.state);
  assert.equal(r50.numParameters(), ref.resnet50.numParameters);
  assert.equal(r50.backbone.outChannels, 2048);
  assert.deepEqual(r50.backbone.stageChannels, [256, 512, 1024, 2048]);
});

test('resnet18 logits equal torchvision with deterministic weights ([1,3,64,64])', () => {
  const m = resnet18();
  checkLogits(m, ref.logits.resnet18, 'resnet18');
  m.dispose();
});

test('resnet50 logits equal torchvision with deterministic weights ([1,3,64,64])', () => {
  r50 ??= resnet50();
  checkLogits(r50, ref.logits.resnet50, 'resnet50');
});

test("resnet18 'small' stem logits equal torchvision's with a 3x3 conv1 and no maxpool ([2,1,28,28], 10 classes)", () => {
  const m = resnet18({ stem: 'small', inChannels: 1, numClasses: 10 });
  assert.deepEqual(m.backbone.conv1.weight.shape, [64, 1, 3, 3]);
  assert.ok(m.backbone.maxpool instanceof nn.Identity);
  checkLogits(m, ref.logits.resnet18_small, 'resnet18 small');
  m.dispose();
});

test("'small' stem shapes: [2,1,28,28] → features [2,512,4,4] → logits [2,10]; imagenet stem /32", () => {
  const m = resnet18({ stem: 'small', inChannels: 1, numClasses: 10 });
  m.eval();
  torch.scope(() => torch.noGrad(() => {
    const x = torch.randn(2, 1, 28, 28);
    assert.deepEqual(m.backbone.forward(x).shape, [2, 512, 4, 4]);
    assert.deepEqual(m.backbone.forwardFeatures(x).map((f) => f.shape), [[2, 64, 28, 28], [2, 64, 28, 28], [2, 128, 14, 14], [2, 256, 7, 7], [2, 512, 4, 4]]);
    assert.deepEqual(m.forward(x).shape, [2, 10]);
    assert.throws(() => m.forward(torch.randn(2, 3, 28, 28)), /1 input channels.*\[2, 3, 28, 28\]/);
  }));
  m.dispose();
  const w = resnet34({ width: 16, numClasses: 7 });
  assert.equal(w.backbone.outChannels, 128);
  torch.scope(() => torch.noGrad(() => {
    assert.deepEqual(w.backbone.forward(torch.randn(1, 3, 64, 64)).shape, [1, 128, 2, 2]);
    assert.deepEqual(w.forward(torch.randn(1, 3, 64, 64)).shape, [1, 7]);
  }));
  w.dispose();
});

test('init as torchvision: conv Kaiming normal (fan_out, relu), BN 1/0, zeroInitResidual zeroes the last BN of each block', () => {
  const m = resnet18();
  torch.scope(() => {
    const w = m.backbone.layer3.at(0) as unknown as { conv2: nn.Conv2d; bn2: nn.BatchNorm2d };
    // conv2 of layer3: [256, 256, 3, 3], fan_out = 256 * 9 → std sqrt(2 / 2304) ≈ 0.02946
    const std = w.conv2.weight.std().item();
    assert.ok(Math.abs(std - Math.sqrt(2 / (256 * 9))) < 0.02 * Math.sqrt(2 / (256 * 9)), `conv std ${std}`);
    assert.ok(Math.abs(w.conv2.weight.mean().item()) < 1e-3);
    assert.equal(w.bn2.weight!.sum().item(), 256);
    assert.equal(w.bn2.bias!.abs().sum().item(), 0);
    // fc keeps Linear's default: U(±1/√512)
    assert.ok(m.head.fc.weight.abs().max().item() <= 1 / Math.sqrt(512));
  });
  m.dispose();
  const z = resnet50({ zeroInitResidual: true, width: 8, numClasses: 3 });
  const sd = z.stateDict();
  let zeroed = 0;
  for (const [k, t] of Object.entries(sd)) {
    if (!k.endsWith('.weight') || t.dim() !== 1) continue;
    const s = torch.scope(() => t.abs().sum().item());
    if (/layer\d\.\d+\.bn3\.weight$/.test(k)) { assert.equal(s, 0, k); zeroed++; } else assert.ok(s > 0, k);
  }
  assert.equal(zeroed, 16);
  z.dispose();
});

test('training step: backward reaches every parameter through the in-place residual add; BN statistics update', () => {
  for (const m of [resnet18({ stem: 'small', inChannels: 1, numClasses: 4, width: 8 }), resnet50({ numClasses: 4, width: 8 })]) {
    m.train();
    torch.scope(() => {
      const x = torch.randn(2, m.backbone.conv1.inChannels, 32, 32);
      m.forward(x).logSoftmax(1).mean().backward();
    });
    for (const [k, p] of m.namedParameters()) assert.ok(p.grad && p.grad.shape.join() === p.shape.join(), `${k} has no gradient`);
    assert.ok(torch.scope(() => m.backbone.layer4.parameters().some((p) => p.grad!.abs().sum().item() > 0)));
    assert.equal(m.backbone.bn1.getBuffer('num_batches_tracked').item(), 1);
    m.dispose();
  }
});

test('dropRate: dropout before fc in training only', () => {
  const m = resnet18({ stem: 'small', width: 8, numClasses: 4, dropRate: 0.5 });
  torch.scope(() => torch.noGrad(() => {
    const feats = torch.ones(2, 64, 2, 2);
    const bias = m.head.fc.bias!;
    m.eval();
    const a = m.head.forward(feats), b = m.head.forward(feats);
    assert.ok(a.equal(b));
    m.train();
    // with p = 0.5 over 64 features, two draws (or either equalling eval) are all but impossible
    const c = m.head.forward(feats), d = m.head.forward(feats);
    assert.ok(!c.equal(d) && !c.equal(a));
    assert.deepEqual(bias.shape, [4]);
  }));
  m.dispose();
  assert.throws(() => resnet18({ dropRate: 1 }), /dropRate/);
});

test('bad options: unknown keys and impossible values name themselves', () => {
  assert.throws(() => resnet18({ numClass: 10 } as never), /unknown option 'numClass'/);
  assert.throws(() => resnet18({ stem: 'tiny' as never }), /stem must be 'imagenet' or 'small'.*'tiny'/);
  assert.throws(() => resnet18({ numClasses: 0 }), /numClasses must be a positive integer, got 0/);
  assert.throws(() => resnet18({ width: 2.5 }), /width must be a positive integer/);
});

let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'arsenal-models-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

/** A model's state dict with torchvision's keys (prefixes stripped). */
function torchvisionKeyed(m: nn.Module): Record<string, torch.Tensor> {
  return Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [strip(k), t]));
}

test('loadPretrained: torchvision keys, new classifier size skipped and reported, backbone copied', () => {
  const src = resnet18({ stem: 'small', numClasses: 10, width: 16 });
  fill(src); // every tensor differs from a fresh model's, running stats included
  torch.noGrad(() => (src.backbone.bn1.getBuffer('num_batches_tracked')).fill_(7));
  const file = join(dir, 'r18-tv.safetensors');
  torch.safetensors.saveFile(torchvisionKeyed(src), file);

  const dst = resnet18({ stem: 'small', numClasses: 5, width: 16 });
  const fcBefore = dst.head.fc.weight.clone();
  const res = loadPretrained(dst, file);
  assert.deepEqual(res.skipped.sort(), ['fc.bias', 'fc.weight']);
  assert.deepEqual(res.missing, []);
  const want = Object.keys(src.stateDict()).filter((k) => k.startsWith('backbone.'));
  assert.deepEqual(res.loaded.sort(), want.sort());
  const s = src.stateDict(), d = dst.stateDict();
  for (const k of want) assert.ok(d[k].equal(s[k]), `${k} was not copied`);
  assert.equal(dst.backbone.bn1.getBuffer('num_batches_tracked').item(), 7);
  assert.ok(dst.head.fc.weight.equal(fcBefore), 'the new head must stay as initialised');
  assert.equal(dst.parameters().filter((p) => !p.requiresGrad).length, 0, 'parameters still require grad');

  // Arsenal keys (backbone./head.) and the same classifier size: everything loads.
  const file2 = join(dir, 'r18-arsenal.safetensors');
  torch.safetensors.saveFile(src.stateDict(), file2);
  const same = resnet18({ stem: 'small', numClasses: 10, width: 16 });
  const res2 = loadPretrained(same, file2);
  assert.equal(res2.loaded.length, Object.keys(s).length);
  assert.deepEqual([res2.skipped, res2.missing], [[], []]);
  assert.ok(same.head.fc.weight.equal(src.head.fc.weight));

  // buildModel with pretrained
  const built = buildModel({ name: 'resnet18', stem: 'small', width: 16, numClasses: 3, pretrained: file }) as ResNet;
  assert.ok(built.backbone.layer4.stateDict()['1.conv2.weight'].equal(src.backbone.layer4.stateDict()['1.conv2.weight']));
  assert.deepEqual(built.head.fc.weight.shape, [3, 128]);
  for (const m of [src, dst, same, built]) m.dispose();
  fcBefore.dispose();
});

test('loadPretrained: a wrong backbone shape is an Error naming the key, both shapes and the file; nothing is copied', () => {
  const m = resnet18({ stem: 'small', numClasses: 10, width: 8 });
  const sd = torchvisionKeyed(m);
  const bad = torch.zeros(8, 8, 1, 1);
  const file = join(dir, 'bad-shape.safetensors');
  torch.safetensors.saveFile({ ...sd, 'layer1.0.conv1.weight': bad }, file);
  const dst = resnet18({ stem: 'small', numClasses: 10, width: 8 });
  const before = dst.backbone.conv1.weight.clone();
  assert.throws(() => loadPretrained(dst, file), (e: Error) =>
    /'layer1\.0\.conv1\.weight'/.test(e.message) && e.message.includes('[8, 8, 1, 1]') && e.message.includes('[8, 8, 3, 3]') && e.message.includes(file));
  assert.ok(dst.backbone.conv1.weight.equal(before), 'no tensor copied before the error');
  for (const x of [m, dst]) x.dispose();
  before.dispose();
  bad.dispose();
});

test('loadPretrained: missing file, missing and unexpected keys (strict and not)', () => {
  const m = resnet18({ stem: 'small', numClasses: 10, width: 8 });
  const missingFile = join(dir, 'nope', 'r18.safetensors');
  assert.throws(() => loadPretrained(m, missingFile), (e: Error) => e.message.includes(missingFile));

  const sd = torchvisionKeyed(m);
  delete sd['layer2.1.bn2.running_var'];
  delete sd['bn1.num_batches_tracked']; // absent from old torchvision checkpoints: allowed
  const extra = torch.zeros(3);
  const file = join(dir, 'partial.safetensors');
  torch.safetensors.saveFile({ ...sd, 'aux.weight': extra }, file);
  assert.throws(() => loadPretrained(m, file), (e: Error) =>
    e.message.includes('backbone.layer2.1.bn2.running_var') && e.message.includes('aux.weight') && !e.message.includes('num_batches_tracked') && e.message.includes(file));
  const res = loadPretrained(m, file, { strict: false });
  assert.deepEqual(res.missing, ['backbone.layer2.1.bn2.running_var']);
  assert.deepEqual(res.skipped, ['aux.weight']);
  m.dispose();
  extra.dispose();
});

test('buildModel: names, unknown names and option keys', () => {
  const m = buildModel({ name: 'resnet34', numClasses: 2, width: 8 }) as ResNet;
  assert.ok(m instanceof ResNet);
  assert.equal(m.backbone.layer3.length, 6);
  assert.deepEqual(m.head.fc.weight.shape, [2, 64]);
  m.dispose();
  assert.throws(() => buildModel({ name: 'resnet101' as never }), (e: Error) =>
    e.message.includes("'resnet101'") && ['resnet18', 'resnet34', 'resnet50'].every((n) => e.message.includes(n)));
  assert.throws(() => buildModel({ name: 'resnet18', numClass: 10 } as never), /unknown option 'numClass'/);
  assert.throws(() => buildModel({ name: 'resnet18', pretrained: join(dir, 'absent.safetensors') }), /absent\.safetensors/);
});
