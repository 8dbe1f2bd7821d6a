// Scheduler values against torch.optim.lr_scheduler (PyTorch 1.13), computed by
// /usr/bin/python3 test/fixtures/lr_scheduler_reference.py > test/fixtures/lr_scheduler_reference.json
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { torch, nn, optim } from 'arsenal';

const S = optim.lrScheduler;
const ref = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/lr_scheduler_reference.json', import.meta.url)), 'utf8'));

function twoGroups(kind: 'sgd' | 'adam', lrs = [0.1, 0.01], momentum = 0) {
  const ps = lrs.map(() => nn.parameter(torch.zeros(1)));
  const groups = ps.map((p, i) => ({ params: [p], lr: lrs[i] }));
  return kind === 'sgd' ? new optim.SGD(groups, { lr: lrs[0], momentum }) : new optim.Adam(groups, { lr: lrs[0] });
}

function check(name: string, opt: optim.Optimizer, sch: { step(): void }, momentum = false) {
  const want = ref[name];
  const steps = want.lr.length;
  for (let s = 0; s < steps; s++) {
    opt.paramGroups.forEach((g, i) => {
      const exp = want.lr[s][i];
      // JS doubles against Python's: the closed forms in another order of operations, a few ulp; 1e-7 is generous.
      assert.ok(Math.abs(g.lr - exp) <= 1e-9 + 1e-7 * Math.abs(exp), `${name} step ${s} group ${i}: lr ${g.lr} != ${exp}`);
      if (momentum) {
        const m = g.betas ? (g.betas as number[])[0] : (g.momentum as number);
        assert.ok(Math.abs(m - want.momentum[s][i]) < 1e-9, `${name} step ${s}: momentum ${m} != ${want.momentum[s][i]}`);
      }
    });
    sch.step();
  }
}

test('StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR equal PyTorch', () => {
  let o = twoGroups('sgd'); check('StepLR', o, new S.StepLR(o, 3, 0.5));
  o = twoGroups('sgd'); check('MultiStepLR', o, new S.MultiStepLR(o, [2, 5, 7], 0.1));
  o = twoGroups('sgd'); check('ConstantLR', o, new S.ConstantLR(o, 0.5, 4));
  o = twoGroups('sgd'); check('LinearLR', o, new S.LinearLR(o, 1 / 3, 1, 5));
  o = twoGroups('sgd'); check('ExponentialLR', o, new S.ExponentialLR(o, 0.9));
  o = twoGroups('sgd'); check('PolynomialLR', o, new S.PolynomialLR(o, 6, 2));
});

test('cosine annealing, with and without warm restarts, equals PyTorch', () => {
  let o = twoGroups('sgd'); check('CosineAnnealingLR', o, new S.CosineAnnealingLR(o, 10, 0.001));
  o = twoGroups('sgd'); check('CosineAnnealingWarmRestarts', o, new S.CosineAnnealingWarmRestarts(o, 3, 2, 0.001));
  o = twoGroups('sgd'); check('CosineAnnealingWarmRestarts1', o, new S.CosineAnnealingWarmRestarts(o, 4, 1, 0));
});

test('OneCycleLR equals PyTorch, momentum and beta1 cycling included', () => {
  let o = twoGroups('sgd', [0.1, 0.01], 0.9);
  check('OneCycleLR', o, new S.OneCycleLR(o, { maxLr: [0.1, 0.01], totalSteps: 20 }), true);
  o = twoGroups('adam', [0.1, 0.01]);
  check('OneCycleLR3', o, new S.OneCycleLR(o, { maxLr: 0.1, totalSteps: 20, threePhase: true, annealStrategy: 'linear' }), true);
});

test('SequentialLR (linear warm-up then cosine) equals PyTorch', () => {
  const o = twoGroups('sgd');
  const s = new S.SequentialLR(o, [new S.LinearLR(o, 0.1, 1, 3), new S.CosineAnnealingLR(o, 10, 0)], [3]);
  check('SequentialLR', o, s);
});

test('etaMin is scaled by a group\'s lrMult', () => {
  const p1 = nn.parameter(torch.zeros(1)), p2 = nn.parameter(torch.zeros(1));
  const o = new optim.SGD([{ params: [p1], lr: 0.1, lrMult: 1 }, { params: [p2], lr: 0.01, lrMult: 0.1 }], { lr: 0.1 });
  const s = new S.CosineAnnealingLR(o, 4, 0.001);
  for (let i = 0; i < 4; i++) s.step();
  assert.ok(Math.abs(o.paramGroups[0].lr - 0.001) < 1e-12);
  assert.ok(Math.abs(o.paramGroups[1].lr - 0.0001) < 1e-12);
});

test('scheduler state round-trips', () => {
  const o = twoGroups('sgd');
  const s = new S.CosineAnnealingLR(o, 10, 0);
  for (let i = 0; i < 4; i++) s.step();
  const lr = o.paramGroups[0].lr;
  const o2 = twoGroups('sgd');
  const s2 = new S.CosineAnnealingLR(o2, 10, 0);
  s2.loadStateDict(s.stateDict());
  assert.equal(o2.paramGroups[0].lr, lr);
  assert.throws(() => new S.StepLR(o, 0), /stepSize must be a positive integer/);
});

test("PolyLR (mmengine, mmseg's schedule): etaMin 0 is PyTorch's PolynomialLR; with etaMin, the closed form by hand", () => {
  // etaMin 0: the same lrs as PyTorch's PolynomialLR(total_iters 6, power 2) above.
  const o = twoGroups('sgd');
  check('PolynomialLR', o, new S.PolyLR(o, 6, 2));
  // lr 0.01, etaMin 1e-4, power 0.9, 4 iterations: (0.01 − 1e-4)·(1 − t/4)^0.9 + 1e-4, then etaMin after the end.
  const p = nn.parameter(torch.zeros(1));
  const o2 = new optim.SGD([p], { lr: 0.01 });
  const s = new S.PolyLR(o2, 4, 0.9, 1e-4);
  const want = [0.01, 0.0077417061, 0.0054052786, 0.0029430284, 0.0001, 0.0001]; // 0.0099·0.75^0.9 + 1e-4 = 0.0077417…
  for (const w of want) {
    assert.ok(Math.abs(o2.paramGroups[0].lr - w) < 1e-9, `${o2.paramGroups[0].lr} != ${w}`);
    s.step();
  }
  assert.throws(() => new S.PolyLR(o2, 0), /PolyLR: totalIters must be a positive integer/);
});

test("schedule: { type: 'poly' } is mmseg's default: power 0.9, eta_min 1% of the lr, per iteration", async () => {
  const { engine } = await import('arsenal');
  const p = nn.parameter(torch.zeros(1));
  const o = new optim.SGD([p], { lr: 0.01 });
  const s = engine.buildSchedule({ type: 'poly' }, o, 0.01, 2, 2)!;
  const lrs: number[] = [];
  for (let i = 0; i < 5; i++) { lrs.push(o.paramGroups[0].lr); s.step(); }
  const want = [0, 1, 2, 3, 4].map((t) => 0.0099 * (1 - Math.min(t, 4) / 4) ** 0.9 + 1e-4);
  lrs.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-12, `iteration ${i}: ${v} != ${want[i]}`));
});
