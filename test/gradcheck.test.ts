// Gradients of the main kernels against central finite differences (float64),
// with the helper in test/helpers/gradcheck.ts, and higher-order gradients
// through torch.autograd.grad({ createGraph: true }).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, F, type Tensor } from 'arsenal';
import { gradcheck, assertGradcheck } from './helpers/gradcheck.js';

const f64 = { dtype: 'float64' as const };
const leaf = (...shape: number[]) => torch.randn(shape, { dtype: 'float64', requiresGrad: true });

type Values = Tensor | ArrayLike<number>;
const nums = (v: Values): number[] => (v instanceof torch.Tensor ? Array.from(v.contiguous().dataSync() as ArrayLike<number | bigint>, Number) : Array.from(v));

function close(actualV: Values, expectedV: Values, rtol = 1e-10, atol = 1e-12, what = 'value'): void {
  const actual = nums(actualV), expected = nums(expectedV);
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]), e = Number(expected[i]);
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${what}[${i}]: got ${a}, expected ${e}`);
  }
}

test('the gradcheck helper catches a wrong gradient', () => {
  torch.manualSeed(0);
  const x = leaf(4);
  // d/dx (x * stopgrad(x)) is x for autograd, 2x for finite differences.
  const r = gradcheck((a) => a.mul(a.detach()), [x]);
  assert.equal(r.ok, false);
  assert.equal(r.mismatches.length, 4);
  const xs = x.detach().dataSync() as Float64Array;
  for (const m of r.mismatches) {
    assert.ok(Math.abs(m.numerical - 2 * m.analytical) < 1e-6 * (1 + Math.abs(m.numerical)), JSON.stringify(m));
    assert.ok(Math.abs(m.analytical / xs[m.element]) > 0); // upstream weight times x
  }
  assert.throws(() => assertGradcheck((a) => a.mul(a.detach()), [x]), /gradcheck: 4 gradient element\(s\) differ/);
  // And accepts a right one (x^2 -> 2x).
  assert.equal(gradcheck((a) => a.mul(a), [x]).ok, true);
});

test('conv2d: bias, stride 2, padding 1, groups 2', () => {
  torch.manualSeed(1);
  const x = leaf(2, 4, 5, 5), w = leaf(6, 2, 3, 3), b = leaf(6);
  const conv = (xx: Tensor, ww: Tensor, bb: Tensor) => F.conv2d(xx, ww, bb, { stride: 2, padding: 1, groups: 2 });
  const y = conv(x, w, b);
  assert.deepEqual(y.shape, [2, 6, 3, 3]);
  const r = assertGradcheck(conv, [x, w, b]);
  // bias gradient = sum of the upstream weights over N, H, W: a closed form the check must agree with.
  const up = torch.arange(1, y.numel() + 1, 1, f64).sin().add(0.5).reshape(y.shape);
  close(r.analytical[2]!, up.sum([0, 2, 3]), 1e-10, 1e-12, 'bias grad');
  // Non-square stride/padding, no bias.
  const x2 = leaf(1, 2, 4, 6), w2 = leaf(3, 2, 2, 3);
  assertGradcheck((xx, ww) => F.conv2d(xx, ww, null, { stride: [1, 2], padding: [0, 1] }), [x2, w2]);
});

test('linear: input, weight and bias', () => {
  torch.manualSeed(2);
  const x = leaf(3, 4), w = leaf(5, 4), b = leaf(5);
  const r = assertGradcheck((xx, ww, bb) => F.linear(xx, ww, bb), [x, w, b]);
  // dL/dx = G W with G the upstream weights: cross-check the analytical gradient by a matmul.
  const G = torch.arange(1, 16, 1, f64).sin().add(0.5).reshape(3, 5);
  close(r.analytical[0]!, G.matmul(w.detach()), 1e-10, 1e-12, 'dL/dx');
  close(r.analytical[1]!, G.t().matmul(x.detach()), 1e-10, 1e-12, 'dL/dW');
  // 3-d input (batch of sequences), no bias.
  assertGradcheck((xx, ww) => F.linear(xx, ww), [leaf(2, 3, 4), w]);
});

test('batchNorm (training, weight and bias): gradients and running statistics', () => {
  torch.manualSeed(3);
  const x = leaf(4, 3, 2, 2), w = leaf(3), b = leaf(3);
  const rm = torch.zeros(3, f64), rv = torch.ones(3, f64);
  assertGradcheck((xx, ww, bb) => F.batchNorm(xx, rm, rv, { weight: ww, bias: bb, training: true }), [x, w, b]);

  // Running statistics: one step from known values, momentum 0.3.
  const rm0 = torch.tensor([0.5, -1, 2], f64), rv0 = torch.tensor([1, 2, 0.5], f64);
  const runMean = rm0.clone(), runVar = rv0.clone();
  const y = F.batchNorm(x.detach(), runMean, runVar, { weight: w.detach(), bias: b.detach(), training: true, momentum: 0.3, eps: 1e-5 });
  const mean = x.detach().mean([0, 2, 3]);
  const varU = x.detach().var([0, 2, 3]); // unbiased, as PyTorch uses for running_var
  const varB = x.detach().var([0, 2, 3], { unbiased: false });
  close(runMean, rm0.mul(0.7).add(mean.mul(0.3)), 1e-12, 1e-14, 'running_mean');
  close(runVar, rv0.mul(0.7).add(varU.mul(0.3)), 1e-12, 1e-14, 'running_var');
  // Training output uses the batch statistics (biased variance).
  const expect = x.detach().sub(mean.reshape(1, 3, 1, 1)).div(varB.add(1e-5).sqrt().reshape(1, 3, 1, 1))
    .mul(w.detach().reshape(1, 3, 1, 1)).add(b.detach().reshape(1, 3, 1, 1));
  close(y, expect, 1e-10, 1e-12, 'training output');
  // Each channel of the normalised (pre-affine) output has mean 0.
  const yn = F.batchNorm(x.detach(), null, null, { training: true });
  close(yn.mean([0, 2, 3]), [0, 0, 0], 0, 1e-12, 'normalised mean');

  // Eval mode uses (and does not change) the running statistics.
  const before = runMean.clone();
  const ye = F.batchNorm(x.detach(), runMean, runVar, { weight: w.detach(), bias: b.detach(), training: false });
  close(runMean, before, 0, 0, 'running_mean after eval');
  const expectEval = x.detach().sub(runMean.reshape(1, 3, 1, 1)).div(runVar.add(1e-5).sqrt().reshape(1, 3, 1, 1))
    .mul(w.detach().reshape(1, 3, 1, 1)).add(b.detach().reshape(1, 3, 1, 1));
  close(ye, expectEval, 1e-10, 1e-12, 'eval output');
  // and its gradient is the plain affine one
  assertGradcheck((xx, ww, bb) => F.batchNorm(xx, runMean, runVar, { weight: ww, bias: bb, training: false }), [x, w, b]);
});

test('crossEntropy: class weights, ignoreIndex and labelSmoothing', () => {
  torch.manualSeed(4);
  const logits = leaf(6, 4);
  const target = torch.tensor([0, 3, 1, 2, 3, 1]);
  const weight = torch.tensor([0.5, 2, 1, 1.5], f64);
  const opts = { weight, ignoreIndex: 3, labelSmoothing: 0.2 };
  const r = assertGradcheck((z) => F.crossEntropy(z, target, opts), [logits]);
  // Rows whose target is ignoreIndex get exactly zero gradient.
  const g = r.analytical[0]!;
  for (const row of [1, 4]) for (let c = 0; c < 4; c++) assert.equal(g[row * 4 + c], 0, `ignored row ${row} has gradient`);
  for (const row of [0, 2, 3, 5]) assert.ok([0, 1, 2, 3].some((c) => g[row * 4 + c] !== 0), `row ${row} has no gradient`);
  // Per-element losses, sum, and a segmentation-shaped input [N, C, H, W].
  assertGradcheck((z) => F.crossEntropy(z, target, { ...opts, reduction: 'none' }), [logits]);
  assertGradcheck((z) => F.crossEntropy(z, target, { ...opts, reduction: 'sum' }), [logits]);
  const seg = leaf(2, 3, 2, 2);
  const segTarget = torch.tensor([[[0, 2], [255, 1]], [[1, 255], [2, 0]]]);
  assertGradcheck((z) => F.crossEntropy(z, segTarget, { weight: torch.tensor([1, 0.5, 2], f64), ignoreIndex: 255, labelSmoothing: 0.1 }), [seg]);
});

test('autograd.grad with createGraph: derivatives of x^3', () => {
  const x = torch.tensor([-1.5, 0.5, 2], { dtype: 'float64', requiresGrad: true });
  const y = x.pow(3).sum();
  const [g] = torch.autograd.grad(y, x, { createGraph: true });
  assert.ok(g !== null && g.requiresGrad, 'first derivative must be differentiable with createGraph');
  close(g!, [3 * 2.25, 3 * 0.25, 3 * 4], 1e-14, 0, "d/dx x^3");
  const [g2] = torch.autograd.grad(g!.sum(), x, { createGraph: true });
  close(g2!, [-9, 3, 12], 1e-14, 0, 'd2/dx2 x^3');
  const [g3] = torch.autograd.grad(g2!.sum(), x);
  close(g3!, [6, 6, 6], 1e-14, 0, 'd3/dx3 x^3');
  // x.grad was never touched by autograd.grad.
  assert.equal(x.grad, null);
  // Without createGraph the gradient is a constant.
  const [h] = torch.autograd.grad(x.pow(3).sum(), x);
  assert.equal(h!.requiresGrad, false);
  // Double backward through conv2d: gradcheck the gradient function itself.
  torch.manualSeed(5);
  const w = leaf(2, 1, 2, 2);
  const inp = torch.randn([1, 1, 3, 3], f64);
  assertGradcheck((ww) => {
    const out = F.conv2d(inp, ww).pow(2).sum();
    return torch.autograd.grad(out, ww, { createGraph: true })[0]!;
  }, [w]);
});
