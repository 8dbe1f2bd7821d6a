// Optimizer updates against torch.optim (PyTorch 1.13), numbers from
// /usr/bin/python3 test/fixtures/optim_reference.py > test/fixtures/optim_reference.json
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { torch, nn, optim } from 'arsenal';

const ref = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/optim_reference.json', import.meta.url)), 'utf8'));

function run(make: (ps: nn.Parameter[]) => optim.Optimizer): number[][] {
  const p = nn.parameter(torch.arange(6, undefined, 1, { dtype: 'float64' }).div(3).sin().reshape(2, 3));
  const q = nn.parameter(torch.arange(3, undefined, 1, { dtype: 'float64' }).cos());
  const opt = make([p, q]);
  for (let k = 0; k < 5; k++) {
    opt.zeroGrad();
    torch.scope(() => {
      const c = torch.arange(6, undefined, 1, { dtype: 'float64' }).div(5).add(k).cos().reshape(2, 3);
      const loss = p.mul(p).mul(c).sum().add(q.mul(q).mul(c.index(0)).sum());
      loss.backward();
    });
    opt.step();
  }
  return [p.flatten().toArray(), q.toArray()];
}

// float64 parameters and element-wise updates only (no reductions): the kernels' order cannot matter, 1e-10 is rounding.
function close(name: string, got: number[][], want: number[][]) {
  got.forEach((g, i) => g.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) <= 1e-12 + 1e-10 * Math.abs(want[i][j]), `${name}[${i}][${j}]: ${v} != ${want[i][j]}`)));
}

test('SGD (plain, momentum + dampening + decay, Nesterov) equals torch.optim.SGD', () => {
  close('sgd', run((ps) => new optim.SGD(ps, { lr: 0.1 })), ref.sgd);
  close('sgd_momentum_wd', run((ps) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 })), ref.sgd_momentum_wd);
  close('sgd_nesterov', run((ps) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 })), ref.sgd_nesterov);
});

test('Adam (with L2 decay and amsgrad) and AdamW equal torch.optim', () => {
  close('adam', run((ps) => new optim.Adam(ps, { lr: 0.01 })), ref.adam);
  close('adam_wd_amsgrad', run((ps) => new optim.Adam(ps, { lr: 0.01, weightDecay: 0.1, amsgrad: true })), ref.adam_wd_amsgrad);
  close('adamw', run((ps) => new optim.AdamW(ps, { lr: 0.01, betas: [0.8, 0.99], weightDecay: 0.05 })), ref.adamw);
});

test('optimizer state dict round-trips and continues identically', () => {
  const mk = () => {
    const p = nn.parameter(torch.tensor([1.0, -2.0, 3.0], { dtype: 'float64' }));
    return { p, opt: new optim.Adam([p], { lr: 0.1 }) };
  };
  const stepOnce = (p: nn.Parameter, opt: optim.Optimizer) => {
    opt.zeroGrad();
    torch.scope(() => p.pow(3).sum().backward());
    opt.step();
  };
  const a = mk(), b = mk();
  for (let i = 0; i < 3; i++) stepOnce(a.p, a.opt);
  torch.noGrad(() => b.p.copy_(a.p));
  b.opt.loadStateDict(a.opt.stateDict());
  stepOnce(a.p, a.opt);
  stepOnce(b.p, b.opt);
  assert.deepEqual(b.p.toArray(), a.p.toArray());
});

test('paramwise rules: lower LR for the backbone, no decay on norms and biases, composed', () => {
  class Net extends nn.Module {
    backbone = new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2));
    head = new nn.Linear(2, 3);
    forward(x: torch.Tensor) { return x; }
  }
  const { groups, summary } = optim.paramGroups(new Net(), { lr: 0.1, weightDecay: 1e-4 }, {
    customKeys: { backbone: { lrMult: 0.1 } }, normDecayMult: 0, biasDecayMult: 0,
  });
  const find = (name: string) => summary.find((s) => s.name === name)!;
  assert.equal(find('backbone').lr, 0.1 * 0.1);
  assert.equal(find('backbone').weightDecay, 1e-4);
  assert.equal(find('backbone/norm').weightDecay, 0); // mmengine #846: the norm rule survives the custom key
  assert.equal(find('backbone/norm').lr, 0.1 * 0.1);
  assert.equal(find('backbone/bias').weightDecay, 0);
  assert.equal(find('default').lr, 0.1);
  assert.equal(find('default/bias').weightDecay, 0);
  assert.equal(groups.reduce((n, g) => n + g.params.length, 0), 6);
  const opt = new optim.SGD(groups, { lr: 0.1, momentum: 0.9 });
  assert.equal(opt.paramGroups.length, groups.length);
  assert.throws(() => optim.paramGroups(new Net(), { lr: 0.1, weightDecay: 0 }, { normDecay: 0 } as any), /unknown option 'normDecay'/);
});

test('clipGradNorm scales gradients to the max norm and returns the total norm', () => {
  const p = nn.parameter(torch.tensor([3, 4], { dtype: 'float32' })); // JS cannot tell 3.0 from 3: say float
  torch.scope(() => p.mul(p).sum().div(2).backward()); // grad = p = [3, 4], norm 5
  const total = optim.clipGradNorm([p], 1);
  assert.ok(Math.abs(total - 5) < 1e-6);
  const g = p.grad!.toArray();
  assert.ok(Math.abs(g[0] - 0.6) < 1e-5 && Math.abs(g[1] - 0.8) < 1e-5);
});

test('an option given as undefined keeps its default', () => {
  const p = nn.parameter(torch.zeros(2));
  const adam = new optim.AdamW([p], { lr: 1e-3, betas: undefined, weightDecay: undefined });
  assert.deepEqual(adam.paramGroups[0].betas, [0.9, 0.999]);
  assert.equal(adam.paramGroups[0].weightDecay, 1e-2);
  const sgd = new optim.SGD([nn.parameter(torch.zeros(2))], { lr: 0.1, momentum: undefined });
  assert.equal(sgd.paramGroups[0].momentum, 0);
});
