// SWA and EMA against torch.optim.swa_utils (PyTorch 1.13); numbers from
// /usr/bin/python3 test/fixtures/swa_reference.py > test/fixtures/swa_reference.json
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { torch, nn, optim } from 'arsenal';

const ref = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/swa_reference.json', import.meta.url)), 'utf8'));

function swalr(swaLr: number, anneal: number, strategy: 'cos' | 'linear', preCos = 0): number[] {
  const p = nn.parameter(torch.zeros(1));
  const opt = new optim.SGD([p], { lr: 0.1 });
  if (preCos) {
    const cos = new optim.lrScheduler.CosineAnnealingLR(opt, 10);
    for (let i = 0; i < preCos; i++) cos.step();
  }
  const s = new optim.SWALR(opt, swaLr, anneal, strategy);
  const out: number[] = [];
  for (let i = 0; i < 6; i++) { out.push(opt.paramGroups[0].lr); s.step(); }
  return out;
}

test('SWALR anneals like PyTorch (cos, linear, no annealing, after cosine)', () => {
  const cases: [string, number[]][] = [
    ['cos3', swalr(0.05, 3, 'cos')], ['linear2', swalr(0.01, 2, 'linear')], ['zero', swalr(0.02, 0, 'cos')], ['after_cos', swalr(0.05, 3, 'cos', 4)],
  ];
  // Pure JS double arithmetic against PyTorch's Python floats: the same formulas, equal to rounding.
  for (const [name, got] of cases) got.forEach((v, i) => assert.ok(Math.abs(v - ref[name][i]) < 1e-12, `${name}[${i}] ${v} != ${ref[name][i]}`));
});

test('AveragedModel keeps the equal average of the weights it sees; EMA mode lerps', () => {
  const lin = new nn.Linear(2, 1);
  const avg = new optim.AveragedModel(lin);
  const ema = new optim.AveragedModel(lin, { mode: 'ema', decay: 0.9 });
  const seen: number[][] = [];
  for (let k = 0; k < 4; k++) {
    torch.noGrad(() => lin.weight.copy_(torch.tensor([[k, 2 * k]], { dtype: 'float32' })));
    seen.push([k, 2 * k]);
    avg.updateParameters(lin);
    ema.updateParameters(lin);
  }
  assert.deepEqual((avg.module as nn.Linear).weight.toArray(), [[1.5, 3]]);
  assert.equal(avg.nAveraged, 4);
  // ema: starts at copy of first (0), then 0.9·e + 0.1·w
  let e = 0;
  for (let k = 1; k < 4; k++) e = 0.9 * e + 0.1 * k;
  assert.ok(Math.abs((ema.module as nn.Linear).weight.toArray()[0][0] - e) < 1e-6);
  assert.deepEqual(Object.keys(avg.stateDict()), ['n_averaged', 'module.weight', 'module.bias']); // PyTorch's order: own buffers, then children
});

test('updateBn recomputes BatchNorm statistics as torch.optim.swa_utils.update_bn', () => {
  const bn = new nn.BatchNorm2d(2);
  const batches = [0, 1, 2].map((k) => torch.arange(36, undefined, 1, { dtype: 'float32' }).mul((k + 1) / 7).sin().reshape(2, 2, 3, 3));
  bn.eval();
  optim.updateBn(batches, bn);
  assert.equal(bn.training, false, 'mode restored');
  assert.equal(bn.momentum, 0.1, 'momentum restored');
  // Reference statistics of values in [-1, 1]; the vectorised mean/variance reductions reorder by ISA: 1e-6 is ~16 ulp.
  bn.runningMean!.toArray().forEach((v: number, i: number) => assert.ok(Math.abs(v - ref.bn_mean[i]) < 1e-6));
  bn.runningVar!.toArray().forEach((v: number, i: number) => assert.ok(Math.abs(v - ref.bn_var[i]) < 1e-6));
});

test('ModelEma: decay, warm-up schedule, buffers follow', () => {
  const lin = new nn.Linear(1, 1, { bias: false });
  torch.noGrad(() => lin.weight.fill_(0));
  const ema = new optim.ModelEma(lin, { decay: 0.5, warmup: true });
  assert.equal(ema.currentDecay(), 0.1); // (1+0)/(10+0)
  torch.noGrad(() => lin.weight.fill_(1));
  ema.update(lin); // 0.1·0 + 0.9·1
  assert.ok(Math.abs((ema.module as nn.Linear).weight.item() - 0.9) < 1e-6);
  assert.equal(ema.currentDecay(), 2 / 11);
  const plain = new optim.ModelEma(lin, { decay: 0.75 });
  torch.noGrad(() => lin.weight.fill_(5));
  plain.update(lin); // 0.75·1 + 0.25·5
  assert.ok(Math.abs((plain.module as nn.Linear).weight.item() - 2) < 1e-6);
});
