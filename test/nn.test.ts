// nn.Module and layers: PyTorch's state-dict keys and order, train/eval,
// loadStateDict errors, containers, init statistics, deepCopy independence,
// channels-last, and layer outputs against their functional definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, nn, F } from 'arsenal';

class Net extends nn.Module {
  conv = new nn.Conv2d(1, 4, 3, { padding: 1, bias: false });
  bn = new nn.BatchNorm2d(4);
  blocks = new nn.ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 2)]);
  heads = new nn.ModuleDict({ cls: new nn.Linear(2, 3) });
  forward(x: torch.Tensor) {
    let h = this.bn.forward(this.conv.forward(x)).relu().mean([2, 3]);
    for (const b of this.blocks) h = b.forward(h);
    return this.heads.get('cls')!.forward(h);
  }
}

test('state dict keys and order follow PyTorch (own params, own buffers, then children)', () => {
  const n = new Net();
  assert.deepEqual(Object.keys(n.stateDict()), [
    'conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked',
    'blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'blocks.1.bias', 'heads.cls.weight', 'heads.cls.bias',
  ]);
  assert.equal(n.parameters().length, 9);
  assert.equal(n.numParameters(), 4 * 9 + 4 + 4 + 16 + 4 + 8 + 2 + 6 + 3);
});

test('loadStateDict copies values, and names the key on a shape mismatch, missing or unexpected keys', () => {
  const a = new Net(), b = new Net();
  b.loadStateDict(a.stateDict());
  assert.ok(b.conv.weight.equal(a.conv.weight));
  const sd = { ...a.stateDict() };
  sd['blocks.0.weight'] = torch.zeros(5, 4);
  assert.throws(() => b.loadStateDict(sd, { source: 'x.safetensors' }), /loadStateDict \(x\.safetensors\): 'blocks\.0\.weight' has shape \[5,4\] but the model expects \[4,4\]/);
  const missing = { ...a.stateDict() };
  delete (missing as Record<string, unknown>)['bn.running_var'];
  assert.throws(() => b.loadStateDict(missing), /missing keys: bn\.running_var/);
  assert.throws(() => b.loadStateDict({ ...a.stateDict(), extra: torch.zeros(1) }), /unexpected keys: extra/);
  const r = b.loadStateDict({ ...missing, extra: torch.zeros(1) }, { strict: false });
  assert.deepEqual(r, { missingKeys: ['bn.running_var'], unexpectedKeys: ['extra'] });
});

test('train/eval reach every submodule; BatchNorm uses batch statistics only in training', () => {
  const n = new Net();
  n.eval();
  assert.ok(n.modules().every((m) => !m.training));
  const x = torch.randn(8, 1, 5, 5);
  const y1 = n.forward(x), y2 = n.forward(x);
  assert.ok(y1.equal(y2));
  assert.deepEqual(n.bn.runningMean!.toArray(), [0, 0, 0, 0], 'eval does not update running stats');
  n.train();
  n.forward(x);
  assert.equal(n.bn.getBuffer('num_batches_tracked').item(), 1);
  assert.ok(n.bn.runningMean!.abs().sum().item() > 0);
});

test('default init matches PyTorch\'s bounds (kaiming_uniform a=√5 → U(±1/√fan_in))', () => {
  torch.manualSeed(0);
  const lin = new nn.Linear(400, 300);
  const bound = 1 / Math.sqrt(400);
  assert.ok(lin.weight.abs().max().item() <= bound + 1e-7);
  assert.ok(lin.weight.abs().max().item() > 0.95 * bound);
  const w = torch.empty(2000, 100);
  nn.init.truncNormal_(w, 0, 1, -2, 2);
  assert.ok(w.min().item() >= -2 && w.max().item() <= 2);
  assert.ok(Math.abs(w.mean().item()) < 0.02);
  // std of N(0,1) truncated to [-2, 2] is 0.8796
  assert.ok(Math.abs(w.std().item() - 0.8796) < 0.01, `std ${w.std().item()}`);
  const k = torch.empty(64, 32, 3, 3);
  nn.init.kaimingNormal_(k, { mode: 'fan_out', nonlinearity: 'relu' });
  assert.ok(Math.abs(k.std().item() - Math.sqrt(2 / (64 * 9))) < 0.005);
});

test('layers equal their functional definitions', () => {
  const x = torch.randn(2, 3, 8, 8);
  const conv = new nn.Conv2d(3, 6, 3, { stride: 2, padding: 1, groups: 3 });
  assert.ok(conv.forward(x).equal(F.conv2d(x, conv.weight, conv.bias, { stride: 2, padding: 1, groups: 3 })));
  const up = new nn.ConvTranspose2d(3, 2, 2, { stride: 2 });
  assert.deepEqual(up.forward(x).shape, [2, 2, 16, 16]);
  assert.deepEqual(new nn.Upsample({ scaleFactor: 2, mode: 'bilinear' }).forward(x).shape, [2, 3, 16, 16]);
  assert.deepEqual(new nn.MaxPool2d(2).forward(x).shape, [2, 3, 4, 4]);
  assert.deepEqual(new nn.AdaptiveAvgPool2d(1).forward(x).shape, [2, 3, 1, 1]);
  const gn = new nn.GroupNorm(3, 3);
  assert.ok(gn.forward(x).allclose(F.groupNorm(x, 3, gn.weight, gn.bias), 1e-6, 1e-6));
  const ln = new nn.LayerNorm([8, 8]);
  const m = ln.forward(x).mean([2, 3]);
  assert.ok(m.abs().max().item() < 1e-5);
  const d = new nn.Dropout(0.5);
  d.eval();
  assert.ok(d.forward(x).equal(x));
  assert.throws(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), /divisible by groups/);
  assert.throws(() => new nn.Linear(0, 2), /inFeatures must be a positive integer/);
});

test('deepCopy gives independent parameters and buffers; toMemoryFormat keeps values', () => {
  const a = new Net();
  const b = nn.deepCopy(a);
  assert.ok(b instanceof Net);
  assert.ok(b.conv.weight.equal(a.conv.weight));
  torch.noGrad(() => a.conv.weight.add_(1));
  assert.ok(!b.conv.weight.equal(a.conv.weight));
  assert.notEqual(b.bn.runningMean, a.bn.runningMean);
  const x = torch.randn(2, 1, 6, 6);
  b.eval();
  const y = b.forward(x);
  b.toMemoryFormat('channelsLast');
  assert.ok(b.conv.weight.isContiguousAs('channelsLast'));
  assert.ok(b.forward(x.contiguous('channelsLast')).allclose(y, 1e-5, 1e-6));
});
