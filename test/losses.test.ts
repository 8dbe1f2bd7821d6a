// Losses against PyTorch 1.13 / torchvision 0.14 (sigmoid focal, box losses,
// smooth L1, weighted soft-target cross-entropy) and against their formulas
// written out in torch ops (softmax focal, Dice), to 1e-5 relative:
//   /usr/bin/python3 test/fixtures/losses_reference.py > test/fixtures/losses_reference.json
// Gradients pass finite-difference checks; class weights equal their closed
// forms; uncertainty weighting learns the larger variance for the noisier task;
// DWA follows its formula.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { torch, F, nn, optim, type Tensor } from 'arsenal';
import { classWeights } from '../src/losses/class_weights.js';
import { sigmoidFocalLoss, softmaxFocalLoss } from '../src/losses/focal.js';
import { diceLoss } from '../src/losses/dice.js';
import { iouLoss, giouLoss, diouLoss, ciouLoss } from '../src/losses/box.js';
import { MultiLoss } from '../src/losses/multi_loss.js';
import { gradcheck } from './helpers/gradcheck.js';

const REF: Record<string, number[]> = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/losses_reference.json', import.meta.url)), 'utf8'));

function seq(shape: number[], d: number, fn: 'sin' | 'cos' = 'sin', scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = torch.arange(0, n, 1, { dtype: 'float64' }).reshape(shape).div(d);
  return (fn === 'sin' ? t.sin() : t.cos()).mul(scale);
}

function check(name: string, t: Tensor): void {
  const ref = REF[name];
  assert.ok(ref, `no reference for ${name}`);
  const got = t.reshape(-1).toArray() as number[];
  assert.equal(got.length, ref.length, `${name}: ${got.length} values, reference has ${ref.length}`);
  // float64 references; 1e-5 relative covers the fp32 cases' reductions, whose order differs by ISA.
  got.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) <= 1e-5 * Math.abs(ref[i]) + 1e-9, `${name}[${i}]: ${v} vs PyTorch ${ref[i]}`));
}

const z = seq([4, 5], 3, 'sin', 3);
const tgt = seq([4, 5], 2, 'cos').gt(0.2).double();
const zc = seq([6, 4], 2, 'sin', 2.5);
const tc = torch.tensor([0, 3, 1, 2, 3, 1]);
const wc = torch.tensor([1.0, 0.5, 2.0, 1.5], { dtype: 'float64' });
const zs = seq([2, 3, 2, 3], 4, 'cos', 2);
const ts = torch.tensor([[[0, 1, 2], [2, 255, 1]], [[1, 1, 0], [255, 2, 2]]]);

test('sigmoid focal loss equals torchvision.ops.sigmoid_focal_loss', () => {
  check('sigmoid_focal_mean', sigmoidFocalLoss(z, tgt));
  check('sigmoid_focal_none', sigmoidFocalLoss(z, tgt, { alpha: 0.6, gamma: 1.5, reduction: 'none' }));
  check('sigmoid_focal_noalpha_sum', sigmoidFocalLoss(z, tgt, { alpha: -1, gamma: 2, reduction: 'sum' }));
});

test('softmax focal loss: the formula with class weights and ignoreIndex; γ = 0 is cross-entropy; soft targets', () => {
  check('softmax_focal_g2_w_ignore', softmaxFocalLoss(zc, tc, { gamma: 2, weight: wc, ignoreIndex: 1 }));
  check('softmax_focal_g0_equals_ce', softmaxFocalLoss(zc, tc, { gamma: 0, weight: wc, ignoreIndex: 1 }));
  check('softmax_focal_spatial', softmaxFocalLoss(zs, ts, { gamma: 1.5, weight: [0.5, 1, 2], ignoreIndex: 255 }));
  const ysoft = seq([6, 4], 1.7, 'cos', 2).softmax(1);
  check('softmax_focal_soft', softmaxFocalLoss(zc, ysoft, { gamma: 2, weight: wc }));
  check('ce_soft_weighted_smoothed', F.crossEntropy(zc, ysoft, { weight: wc, labelSmoothing: 0.1 }));
  assert.throws(() => softmaxFocalLoss(zc, torch.tensor([0, 9, 1, 2, 3, 1])), /class indices outside \[0, 4\)/);
  assert.throws(() => softmaxFocalLoss(zc, tc, { weight: [1, 2] }), /weight must have 4 values/);
});

test('Dice loss: MONAI semantics (per sample and class, ignore, background, squared, batch, binary)', () => {
  check('dice_multiclass', diceLoss(zs, ts.clamp(null, 2)));
  check('dice_ignore_nobg_squared', diceLoss(zs, ts, { includeBackground: false, squaredPred: true, ignoreIndex: 255 }));
  check('dice_batch_smooth1', diceLoss(zs, ts.clamp(null, 2), { smoothNr: 1, smoothDr: 1, batch: true }));
  check('dice_binary', diceLoss(seq([2, 1, 3, 3], 3, 'sin', 2), seq([2, 3, 3], 2, 'cos').gt(0).long()));
  // A perfect prediction scores ~0, the worst ~1.
  const t = torch.tensor([[[0, 1], [1, 0]]]);
  assert.ok(diceLoss(F.oneHot(t, 2).permute(0, 3, 1, 2).double().mul(40), t).item() < 1e-6);
  assert.ok(diceLoss(F.oneHot(t.rsub(1), 2).permute(0, 3, 1, 2).double().mul(40), t).item() > 0.999);
  // Classification logits [N,K]: the batch is the map.
  const zk = seq([5, 3], 2, 'sin', 2), tk = torch.tensor([0, 2, 1, 1, 0]);
  const pk = zk.softmax(1), ok = F.oneHot(tk, 3).double();
  const perClass = pk.mul(ok).sum(0).mul(2).add(1e-5).div(pk.sum(0).add(ok.sum(0)).add(1e-5)).rsub(1);
  assert.ok(Math.abs(diceLoss(zk, tk).item() - perClass.mean().item()) < 1e-12, 'batch soft Dice: per class over the batch, then the mean');
  assert.throws(() => diceLoss(zs, torch.zeros([2, 3, 3], { dtype: 'int64' })), /target must be \[N, \.\.\.spatial\] = \[2,2,3\]/);
});

test('box losses equal torchvision (GIoU, DIoU, CIoU) and IoU loss is 1 − IoU', () => {
  const b1 = torch.tensor([[0, 0, 4, 3], [1, 2, 5, 9], [2, 2, 3, 3], [0, 0, 1, 1]], { dtype: 'float64' });
  const b2 = torch.tensor([[1, 1, 5, 4], [0, 0, 6, 6], [2.5, 1, 6, 2.5], [3, 3, 4, 5]], { dtype: 'float64' });
  check('giou_none', giouLoss(b1, b2, { reduction: 'none' }));
  check('diou_none', diouLoss(b1, b2, { reduction: 'none' }));
  check('ciou_none', ciouLoss(b1, b2, { reduction: 'none' }));
  check('smooth_l1_beta05', F.smoothL1Loss(b1, b2, { beta: 0.5 }));
  // IoU of the first pair: intersection 3×2 = 6, union 12 + 12 − 6 = 18.
  assert.ok(Math.abs(iouLoss(b1.index('0:1'), b2.index('0:1')).item() - (1 - 6 / 18)) < 1e-6);
  assert.throws(() => giouLoss(b1, b2.index('0:2')), /same shape|one shape/);
});

test('loss gradients pass finite-difference checks', () => {
  const x = seq([3, 4], 2, 'sin', 1.5).requiresGrad_(true);
  const t = torch.tensor([1, 0, 3]);
  assert.ok(gradcheck((a) => softmaxFocalLoss(a, t, { gamma: 2, weight: [1, 2, 0.5, 1] }), [x]).ok, 'softmax focal');
  const y = seq([3, 4], 3, 'cos', 2).requiresGrad_(true);
  assert.ok(gradcheck((a) => sigmoidFocalLoss(a, seq([3, 4], 2).gt(0).double()), [y]).ok, 'sigmoid focal');
  const s = seq([1, 3, 2, 2], 2, 'sin', 1).requiresGrad_(true);
  assert.ok(gradcheck((a) => diceLoss(a, torch.tensor([[[0, 2], [1, 255]]]), { ignoreIndex: 255 }), [s]).ok, 'dice');
  const p = torch.tensor([[0.5, 0.2, 4.1, 3.3], [1.2, 2.1, 5.3, 8.7]], { dtype: 'float64' }).requiresGrad_(true);
  const g = torch.tensor([[1, 1, 5, 4], [0, 0, 6, 6]], { dtype: 'float64' });
  // (CIoU's α is held constant for the gradient, as in torchvision and mmdet, so its gradient is not the finite difference.)
  for (const [name, fn] of [['giou', giouLoss], ['diou', diouLoss], ['iou', iouLoss]] as const) {
    assert.ok(gradcheck((a) => fn(a, g), [p], { rtol: 1e-5, atol: 1e-7 }).ok, name);
  }
});

test('class weights from counts equal their closed forms and average 1 over the present classes', () => {
  const counts = [100, 10, 1, 0, 50];
  const norm = (w: number[]) => { const s = w.reduce((a, b) => a + b, 0); return w.map((v) => (v * 4) / s); };
  const close = (a: number[], b: number[]) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-12, `${a} vs ${b}`));
  close(classWeights(counts, 'inverse'), norm([1 / 100, 1 / 10, 1, 0, 1 / 50]));
  close(classWeights(counts, 'inverse-sqrt'), norm([0.1, 1 / Math.sqrt(10), 1, 0, 1 / Math.sqrt(50)]));
  // median frequency: f = n / 161, median of present f = (10 + 50) / 2 / 161
  const m = 30 / 161;
  close(classWeights(counts, 'median-frequency'), norm([m / (100 / 161), m / (10 / 161), m / (1 / 161), 0, m / (50 / 161)]));
  const b = 0.99;
  close(classWeights(counts, 'effective-number', { beta: b }), norm([100, 10, 1, 0, 50].map((n) => (n ? (1 - b) / (1 - b ** n) : 0))));
  for (const method of ['inverse', 'inverse-sqrt', 'median-frequency', 'effective-number'] as const) {
    const w = classWeights(counts, method);
    assert.ok(Math.abs(w.reduce((a, c) => a + c, 0) / 4 - 1) < 1e-12);
  }
  assert.throws(() => classWeights([1, -2], 'inverse'), /counts\[1\] must be a non-negative number/);
  assert.throws(() => classWeights([1, 2], 'log' as never), /method must be one of/);
});

test('uncertainty weighting learns a larger variance for the noisier task', () => {
  torch.manualSeed(0);
  const x = torch.randn(256, 4);
  const wTrue = torch.tensor([[1, -2, 0.5, 3], [-1, 0.5, 2, 1]]).float();
  const clean = x.matmul(wTrue.t());
  const yA = clean.index(':', 0).add(torch.randn(256).mul(0.1));
  const yB = clean.index(':', 1).add(torch.randn(256).mul(2.0));
  const w = nn.parameter(torch.zeros(2, 4));
  const ml = new MultiLoss<[Tensor]>([
    { name: 'A', fn: (p) => F.mseLoss(p.index(':', 0), yA) },
    { name: 'B', fn: (p) => F.mseLoss(p.index(':', 1), yB) },
  ], { weighting: 'uncertainty' });
  const opt = new optim.Adam([w, ml.logVars!], { lr: 0.05 });
  for (let i = 0; i < 400; i++) {
    torch.scope(() => {
      const { total } = ml.forward(x.matmul(w.t()));
      total.backward();
      opt.step();
      opt.zeroGrad();
    });
  }
  const [sA, sB] = ml.logVars!.toArray() as number[];
  // The optimum of ½e^{−s}L + ½s is s = log L: log(0.01) ≈ −4.6 and log(4) ≈ 1.4.
  assert.ok(sB > sA + 3, `log-variances A ${sA}, B ${sB}`);
  assert.ok(Math.abs(sB - Math.log(4)) < 0.5, `B: ${sB} vs log 4`);
  const wts = ml.weights();
  assert.ok(wts.A > 10 * wts.B);
});

test('DWA weights follow λ_i = K·exp(r_i/T) / Σ exp(r_j/T) from the last two epoch averages; fixed weighting reports each term', () => {
  const losses = [[4, 2], [2, 2], [1, 1.5]]; // epoch averages of two terms
  let epoch = 0;
  const ml = new MultiLoss<[]>([{ name: 'a', fn: () => torch.tensor(losses[epoch][0]) }, { name: 'b', weight: 2, fn: () => torch.tensor(losses[epoch][1]) }], { weighting: 'dwa', temperature: 2 });
  for (; epoch < 2; epoch++) { const r = ml.forward(); assert.equal(r.total.item(), losses[epoch][0] + 2 * losses[epoch][1]); ml.endEpoch(); }
  const ra = 2 / 4, rb = 2 / 2, ea = Math.exp(ra / 2), eb = Math.exp(rb / 2);
  const la = (2 * ea) / (ea + eb), lb = (2 * eb) / (ea + eb);
  const { total, values } = ml.forward();
  assert.ok(Math.abs(total.item() - (la * 1 + 2 * lb * 1.5)) < 1e-6);
  assert.deepEqual(values, { a: 1, b: 1.5 });
  assert.ok(Math.abs(ml.weights().a - la) < 1e-12 && Math.abs(ml.weights().b - 2 * lb) < 1e-12);
  assert.throws(() => new MultiLoss([{ name: 'a', fn: () => torch.tensor(1) }, { name: 'a', fn: () => torch.tensor(1) }]), /unique/);
});

test('GradNorm: one step follows Algorithm 1 of Chen et al. 2018 (gradient norms, targets, Adam on the weights, Σλ = K)', () => {
  // L_a = 3·ΣW + offA and L_b = 0.5·ΣW with W = 1⁴: ‖∇_W L_a‖ = 6, ‖∇_W L_b‖ = 1 whatever the offset.
  const w = nn.parameter(torch.ones(4));
  let offA = 0;
  const ml = new MultiLoss<[]>([{ name: 'a', fn: () => w.sum().mul(3).add(offA) }, { name: 'b', fn: () => w.sum().mul(0.5) }], { weighting: 'gradnorm', gradNorm: { alpha: 1.5 } });
  assert.throws(() => ml.forward(), /needs setSharedParameters/);
  ml.setSharedParameters([w]);
  // Step 1: λ = (1, 1) weighs the loss; r = 1, Ḡ = 3.5, ∂/∂λ = (sign(6 − 3.5)·6, sign(1 − 3.5)·1) = (6, −1);
  // Adam's first step moves each λ by lr·sign = 0.025; the sum stays 2.
  let r = ml.forward();
  assert.ok(Math.abs(r.total.item() - (12 + 2)) < 1e-6);
  assert.ok(Math.abs(ml.weights().a - 0.975) < 1e-9 && Math.abs(ml.weights().b - 1.025) < 1e-9, JSON.stringify(ml.weights()));
  // Step 2, same losses: λ = (0.975, 1.025) weighs the loss, G = (5.85, 1.025), the same signs: Adam moves 0.025 again.
  r = ml.forward();
  assert.ok(Math.abs(r.total.item() - (0.975 * 12 + 1.025 * 2)) < 1e-5);
  assert.ok(Math.abs(ml.weights().a - 0.95) < 1e-9 && Math.abs(ml.weights().b - 1.05) < 1e-9);
  // The restoring force: a task whose loss fell (L_a from 12 to 6, r = (2/3, 4/3)) gets a lower target, so with equal
  // gradient norms its weight falls and the slow task's rises (α 1.5), while with α = 0 equal norms are already balanced.
  const balanced = (alpha: number) => {
    const v = nn.parameter(torch.ones(4));
    let off = 0;
    const m = new MultiLoss<[]>([{ name: 'a', fn: () => v.sum().mul(3).add(off) }, { name: 'b', fn: () => v.sum().mul(3) }], { weighting: 'gradnorm', gradNorm: { alpha } });
    m.setSharedParameters([v]);
    m.forward();
    const after1 = m.weights();
    off = -6;
    m.forward();
    return [after1, m.weights()];
  };
  const [one, two] = balanced(1.5);
  assert.deepEqual(one, { a: 1, b: 1 }, 'equal norms, equal rates: G_i = Ḡ, no move (sign 0)');
  assert.ok(two.a < 1 && two.b > 1 && Math.abs(two.a + two.b - 2) < 1e-12, JSON.stringify(two));
  assert.deepEqual(balanced(0)[1], { a: 1, b: 1 });
  // Without gradient (evaluation) the weights stay; the state round-trips.
  const st = ml.stateDict();
  torch.noGrad(() => ml.forward());
  assert.deepEqual(ml.stateDict(), st);
  const copy = new MultiLoss<[]>([{ name: 'a', fn: () => w.sum() }, { name: 'b', fn: () => w.sum() }], { weighting: 'gradnorm' });
  copy.loadStateDict(st);
  assert.deepEqual(copy.weights(), ml.weights());
  assert.throws(() => copy.loadStateDict({ ...st, gradNorm: { ...st.gradNorm, weights: [1] } }), /gradNorm must be/);
  assert.throws(() => new MultiLoss([{ name: 'a', fn: () => w.sum() }], { weighting: 'gradnorm', gradNorm: { lr: 0 } }), /gradNorm\.lr must be > 0/);
});

test('GradNorm with α = 0 equalises the gradient norms of two tasks at the shared layer', () => {
  torch.manualSeed(0);
  const x = torch.randn(256, 8);
  const shared = nn.parameter(torch.randn(16, 8).mul(0.3));
  const heads = nn.parameter(torch.randn(2, 16).mul(0.3));
  const t = x.matmul(torch.randn(8, 2)).mul(torch.tensor([[1, 10]]).float()); // task b's targets 10× larger: ~10× the gradient
  const pred = () => x.matmul(shared.t()).tanh().matmul(heads.t());
  const ml = new MultiLoss<[Tensor]>([
    { name: 'a', fn: (p) => F.mseLoss(p.index(':', 0), t.index(':', 0)) },
    { name: 'b', fn: (p) => F.mseLoss(p.index(':', 1), t.index(':', 1)) },
  ], { weighting: 'gradnorm', gradNorm: { alpha: 0, lr: 0.01 } });
  ml.setSharedParameters([shared]);
  const norms = () => torch.scope(() => {
    const p = pred();
    return ['a', 'b'].map((n, i) => {
      const l = ml.terms[i].fn(p).mul(ml.weights()[n]);
      return (torch.autograd.grad(l, [shared], { retainGraph: true })[0]!).pow(2).sum().sqrt().item();
    });
  });
  const [a0, b0] = norms();
  assert.ok(b0 / a0 > 3, `before: ${a0} vs ${b0}`);
  const opt = new optim.SGD([shared, heads], { lr: 0.001 });
  for (let i = 0; i < 300; i++) {
    torch.scope(() => {
      const { total } = ml.forward(pred());
      total.backward();
      opt.step();
      opt.zeroGrad();
    });
  }
  const [a1, b1] = norms();
  assert.ok(b1 / a1 < 1.5 && b1 / a1 > 1 / 1.5, `after: ${a1} vs ${b1}, weights ${JSON.stringify(ml.weights())}`);
  assert.ok(ml.weights().a > ml.weights().b * 2, JSON.stringify(ml.weights()));
});
