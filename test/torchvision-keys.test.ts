// ResNet state dicts with torchvision's keys, both ways, against a tiny real
// torchvision ResNet (BasicBlock, [1, 1, 1, 1], widths 8..64, 3 classes) made
// once with PyTorch 1.13 / torchvision 0.14:
//   /usr/bin/python3 test/fixtures/models/make_torchvision_fixture.py
// (the script says how the model and its BN statistics were made). Imports
// only from 'arsenal'.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torch, models, type Tensor } from 'arsenal';

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/models/${name}`, import.meta.url));
const TINY = { block: 'basic', layers: [1, 1, 1, 1] } as const;
const tiny = () => new models.ResNet(TINY, { width: 8, numClasses: 3 });

let dir = '';
let sd: Record<string, Tensor> = {};
let io: Record<string, Tensor> = {};
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'arsenal-tv-'));
  sd = torch.safetensors.loadFile(fixture('torchvision_resnet_tiny.safetensors'));
  io = torch.safetensors.loadFile(fixture('torchvision_resnet_tiny_io.safetensors'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  torch.dispose(sd);
  torch.dispose(io);
});

/** Logits of a model in eval mode on the fixture's input. */
function logits(m: models.ResNet): number[] {
  m.eval();
  return torch.scope(() => torch.noGrad(() => m.forward(io.input).flatten().toArray() as number[]));
}

/** Within 1e-4 of torchvision's logits, relative to the largest: fp32 reductions (conv, BN, mean) reorder across ISAs and thread counts. */
function assertTorchvisionLogits(got: number[]): void {
  const want = io.logits.flatten().toArray() as number[];
  assert.equal(got.length, want.length);
  const scale = Math.max(1, ...want.map(Math.abs));
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-4 * scale, `logit ${i}: ${v}, torchvision ${want[i]}`));
}

test("loadStateDict takes torchvision's keys: the tiny ResNet's logits equal torchvision's", () => {
  const m = tiny();
  const r = m.loadStateDict(sd, { source: 'torchvision_resnet_tiny.safetensors' });
  assert.deepEqual(r, { missingKeys: [], unexpectedKeys: [] });
  assert.equal(m.backbone.layer3.stateDict()['0.bn2.num_batches_tracked'].item(), 3, 'buffers land too');
  assertTorchvisionLogits(logits(m));
  m.dispose();
});

test("stateDict({ keys: 'torchvision' }) written to safetensors has torchvision's keys, order, shapes and dtypes (what its strict load checks)", () => {
  const m = tiny();
  m.loadStateDict(sd);
  const file = join(dir, 'arsenal-to-torchvision.safetensors');
  torch.safetensors.saveFile(m.stateDict({ keys: 'torchvision' }), file);
  const back = torch.safetensors.loadFile(file);
  const desc = (d: Record<string, Tensor>) => Object.entries(d).map(([k, t]) => `${k} ${t.dtype} [${t.shape.join(',')}]`);
  // The file's key set, shapes and dtypes (a safetensors file has no key order); the dict's key order is torchvision's too.
  assert.deepEqual(desc(back).sort(), desc(sd).sort());
  assert.deepEqual(desc(m.stateDict({ keys: 'torchvision' })), desc(sd));
  for (const [k, t] of Object.entries(back)) assert.ok(t.equal(sd[k]), `${k}: values round-trip`);
  torch.dispose(back);
  // The live tensors under other names, not copies; the default naming is Arsenal's.
  assert.equal(m.stateDict({ keys: 'torchvision' })['fc.weight'], m.head.fc.weight);
  assert.deepEqual(Object.keys(m.stateDict()).slice(0, 2), ['backbone.conv1.weight', 'backbone.bn1.weight']);
  assert.deepEqual(Object.keys(m.stateDict({ keys: 'arsenal' })), Object.keys(m.stateDict()));
  assert.throws(() => m.stateDict({ keys: 'timm' as never }), (e: Error) => e.message.includes("'arsenal' or 'torchvision'") && e.message.includes('timm'));
  m.dispose();
});

test("resnet18/resnet50().stateDict({ keys: 'torchvision' }) has exactly torchvision's resnet18()/resnet50() keys, order and shapes", () => {
  type Entry = [string, number[], string];
  const ref = JSON.parse(readFileSync(fixture('resnet_reference.json'), 'utf8')) as Record<'resnet18' | 'resnet50', { state: Entry[] }>;
  for (const [name, build] of [['resnet18', models.resnet18], ['resnet50', models.resnet50]] as const) {
    const m = build();
    const got = Object.entries(m.stateDict({ keys: 'torchvision' })).map(([k, t]) => [k, t.shape]);
    assert.deepEqual(got, ref[name].state.map(([k, shape]) => [k, shape]), name);
    m.dispose();
  }
});

test("Arsenal's own prefixed keys still load, and give the same logits", () => {
  const a = tiny();
  a.loadStateDict(sd);
  const b = tiny();
  assert.deepEqual(b.loadStateDict(a.stateDict()), { missingKeys: [], unexpectedKeys: [] });
  assertTorchvisionLogits(logits(b));
  for (const m of [a, b]) m.dispose();
});

test('a missing, unexpected or wrongly shaped torchvision key is an Error naming it; nothing is copied', () => {
  const m = tiny();
  const before = m.backbone.conv1.weight.clone();
  const { 'layer2.0.bn1.running_var': _dropped, ...missing } = sd;
  assert.throws(() => m.loadStateDict(missing, { source: 'tv.safetensors' }), (e: Error) =>
    e.message.includes('missing keys: layer2.0.bn1.running_var') && e.message.includes('tv.safetensors') && !e.message.includes('backbone.'));
  const extra = torch.zeros(3);
  assert.throws(() => m.loadStateDict({ ...sd, 'aux.weight': extra }), (e: Error) => e.message.includes('unexpected keys: aux.weight'));
  const bad = torch.zeros(16, 8, 1, 1);
  assert.throws(() => m.loadStateDict({ ...sd, 'layer2.0.conv1.weight': bad }), (e: Error) =>
    e.message.includes("'layer2.0.conv1.weight'") && e.message.includes('[16,8,1,1]') && e.message.includes('[16,8,3,3]'));
  assert.ok(m.backbone.conv1.weight.equal(before), 'a failed load copies nothing');
  // Not strict: what fits is loaded, the rest reported in the dict's own naming.
  const r = m.loadStateDict({ ...missing, 'aux.weight': extra }, { strict: false });
  assert.deepEqual(r, { missingKeys: ['layer2.0.bn1.running_var'], unexpectedKeys: ['aux.weight'] });
  assert.ok(m.backbone.conv1.weight.equal(sd['conv1.weight']));
  // Arsenal's keys: the same errors, in Arsenal's naming.
  const own = tiny().stateDict();
  delete own['head.fc.bias'];
  assert.throws(() => m.loadStateDict(own), (e: Error) => e.message.includes('missing keys: head.fc.bias'));
  for (const t of [before, extra, bad]) t.dispose();
  m.dispose();
});

test("torchvision's ImageNet checkpoints have no num_batches_tracked: allowed, as PyTorch allows it; a mix of namings is refused", () => {
  const m = tiny();
  const noCount = Object.fromEntries(Object.entries(sd).filter(([k]) => !k.endsWith('num_batches_tracked')));
  const r = m.loadStateDict(noCount);
  assert.ok(r.missingKeys.length > 0 && r.missingKeys.every((k) => k.endsWith('.num_batches_tracked')));
  assertTorchvisionLogits(logits(m));
  const { 'fc.weight': w, ...rest } = sd;
  assert.throws(() => m.loadStateDict({ ...rest, 'head.fc.weight': w }), (e: Error) => e.message.includes("mixes Arsenal's keys ('head.fc.weight')"));
  assert.throws(() => m.loadStateDict(null as never), (e: Error) => e.message.includes('expected a state dict'));
  m.dispose();
});
