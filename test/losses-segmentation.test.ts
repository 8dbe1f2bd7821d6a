// Segmentation losses against reference numbers: segCrossEntropy (mmseg's and
// PyTorch's normalisers, class weights with ignoreIndex), the softmax Dice with
// ignored pixels, and Lovász-softmax. References computed once in float64 with
// Debian's python3-torch 1.13 (`/usr/bin/python3 ref.py`, the script below);
// the losses here run in float32, so the tolerance is 1e-5 relative: float32
// softmax/log/sum rounding over 30 pixels is ~1e-7 relative, and the reduction
// order differs by ISA (the same tolerance as test/losses.test.ts).
//
//   import torch, torch.nn.functional as F
//   N, K, H, W = 2, 4, 3, 5
//   logits = (torch.arange(N * K * H * W, dtype=torch.float64).reshape(N, K, H, W) / 3).sin() * 3
//   lab = [(7 * i + i // 4) % (K + 1) for i in range(N * H * W)]
//   tgt = torch.tensor([255 if c == K else c for c in lab]).reshape(N, H, W)
//   w = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=torch.float64)
//   # mmseg 1.x cross_entropy: F.cross_entropy(weight=class_weight, reduction='none', ignore_index),
//   # then weight_reduce_loss: avg_non_ignore=False -> loss.mean() (all N*H*W pixels);
//   # True -> loss.sum() / (#non-ignored + float32 eps)
//   per_w = F.cross_entropy(logits, tgt, weight=w, ignore_index=255, reduction='none')
//   per = F.cross_entropy(logits, tgt, ignore_index=255, reduction='none')
//   valid = (tgt != 255).sum().item()
//   eps = torch.finfo(torch.float32).eps
//   out = {
//     'pytorch_w': F.cross_entropy(logits, tgt, weight=w, ignore_index=255).item(),
//     'pytorch': F.cross_entropy(logits, tgt, ignore_index=255).item(),
//     'mmseg_w': per_w.mean().item(),
//     'mmseg_w_nonignore': (per_w.sum() / (valid + eps)).item(),
//     'mmseg': per.mean().item(),
//     'mmseg_nonignore': (per.sum() / (valid + eps)).item(),
//   }
//   # soft Dice (MONAI DiceLoss, softmax, smooth 1e-5), ignored pixels out of both sums
//   valid_m = (tgt != 255).unsqueeze(1).double()
//   oh = F.one_hot(tgt.where(tgt != 255, torch.tensor(0)), K).permute(0, 3, 1, 2).double() * valid_m
//   p = logits.softmax(1) * valid_m
//   inter = (p * oh).sum((2, 3)); card = p.sum((2, 3)) + oh.sum((2, 3))
//   out["dice"] = (1 - (2 * inter + 1e-5) / (card + 1e-5)).mean().item()
//   inter = (p * oh).sum((0, 2, 3)); card = p.sum((0, 2, 3)) + oh.sum((0, 2, 3))
//   out["dice_batch"] = (1 - (2 * inter + 1e-5) / (card + 1e-5)).mean().item()
//   # Lovasz-softmax (Berman et al. 2018, lovasz_losses.py), reimplemented
//   def lovasz_grad(gt_sorted):
//       gts = gt_sorted.sum()
//       intersection = gts - gt_sorted.cumsum(0)
//       union = gts + (1 - gt_sorted).cumsum(0)
//       jaccard = 1. - intersection / union
//       if len(gt_sorted) > 1:
//           jaccard[1:] = jaccard[1:] - jaccard[:-1]
//       return jaccard
//   def lovasz_flat(probas, labels, classes):
//       losses = []
//       for c in range(probas.size(1)):
//           fg = (labels == c).double()
//           if classes == 'present' and fg.sum() == 0:
//               continue
//           errors = (fg - probas[:, c]).abs()
//           errors_sorted, perm = torch.sort(errors, 0, descending=True)
//           losses.append(torch.dot(errors_sorted, lovasz_grad(fg[perm])))
//       return sum(losses) / len(losses) if losses else torch.tensor(0.)
//   def flatten(probas, labels, ignore=255):
//       probas = probas.permute(0, 2, 3, 1).reshape(-1, probas.size(1))
//       labels = labels.reshape(-1)
//       return probas[labels != ignore], labels[labels != ignore]
//   def lovasz_softmax(probas, labels, classes='present', per_image=False):
//       if per_image:
//           ls = [lovasz_flat(*flatten(p[None], l[None]), classes) for p, l in zip(probas, labels)]
//           return sum(ls) / len(ls)
//       return lovasz_flat(*flatten(probas, labels), classes)
//   probs = logits.softmax(1)
//   no3 = tgt.clone(); no3[no3 == 3] = 255; no3[0][no3[0] == 2] = 255  # class 3 nowhere, class 2 only in image 1
//   for cls in ['present', 'all']:
//       for pi in [False, True]:
//           sfx = f'{cls}_{"image" if pi else "batch"}'
//           out[f'lovasz_{sfx}'] = lovasz_softmax(probs, tgt, cls, pi).item()
//           out[f'lovasz_no3_{sfx}'] = lovasz_softmax(probs, no3, cls, pi).item()
//   for k, v in out.items(): print(f'  {k}: {v!r},')
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, F, losses, type Tensor } from 'arsenal';
import { segCrossEntropy, segCrossEntropyNormaliser } from '../src/losses/seg_cross_entropy.js';
import { lovaszSoftmax } from '../src/losses/lovasz.js';
import { diceLoss } from '../src/losses/dice.js';
import { gradcheck } from './helpers/gradcheck.js';

const REF = {
  pytorch_w: 3.137551523988158,
  pytorch: 2.846386362332878,
  mmseg_w: 4.026524455784803,
  mmseg_w_nonignore: 5.033155544731049,
  mmseg: 2.2771090898663022,
  mmseg_nonignore: 2.846386348194724,
  dice: 0.8154728140244037,
  dice_batch: 0.798371651494229,
  lovasz_present_batch: 0.8444170192204904,
  lovasz_no3_present_batch: 0.8811142655998218,
  lovasz_present_image: 0.8525828610612574,
  lovasz_no3_present_image: 0.8840299327286718,
  lovasz_all_batch: 0.8444170192204904,
  lovasz_no3_all_batch: 0.8955911612767504,
  lovasz_all_image: 0.8525828610612574,
  lovasz_no3_all_image: 0.8476499153043247,
};

const N = 2, K = 4, H = 3, W = 5;
const W_CLASS = [0.5, 2.0, 1.0, 3.0];
const logits64 = torch.arange(0, N * K * H * W, 1, { dtype: 'float64' }).reshape(N, K, H, W).div(3).sin().mul(3);
const logits = logits64.float();
const labels = Array.from({ length: N * H * W }, (_, i) => (7 * i + Math.floor(i / 4)) % (K + 1)).map((c) => (c === K ? 255 : c));
const tgt = torch.tensor(labels, { dtype: 'int64' }).reshape(N, H, W);
const no3Labels = labels.map((c, i) => (c === 3 || (c === 2 && i < H * W) ? 255 : c));
const no3 = torch.tensor(no3Labels, { dtype: 'int64' }).reshape(N, H, W);

function close(got: number, ref: number, what: string): void {
  assert.ok(Math.abs(got - ref) <= 1e-5 * Math.abs(ref), `${what}: ${got} vs reference ${ref}`);
}

test('segCrossEntropy: mmseg (default) and PyTorch normalisers equal the references, weights and ignoreIndex together', () => {
  close(segCrossEntropy(logits, tgt).item(), REF.mmseg, 'mmseg default (avg_non_ignore=False)');
  close(segCrossEntropy(logits, tgt, { avgNonIgnore: true }).item(), REF.mmseg_nonignore, 'mmseg avg_non_ignore=True');
  close(segCrossEntropy(logits, tgt, { weight: W_CLASS }).item(), REF.mmseg_w, 'mmseg, class weights');
  close(segCrossEntropy(logits, tgt, { weight: torch.tensor(W_CLASS), avgNonIgnore: true }).item(), REF.mmseg_w_nonignore, 'mmseg, class weights, avg_non_ignore');
  close(segCrossEntropy(logits, tgt, { normaliser: 'pytorch' }).item(), REF.pytorch, 'pytorch mean');
  close(segCrossEntropy(logits, tgt, { normaliser: 'pytorch', weight: W_CLASS }).item(), REF.pytorch_w, 'pytorch weighted mean');
  // float64 in, float64 out, to float64 rounding.
  assert.ok(Math.abs(segCrossEntropy(logits64, tgt, { weight: W_CLASS }).item() - REF.mmseg_w) < 1e-12);
  // Without ignored pixels and weights, all three normalisers are the plain mean.
  const full = torch.where(tgt.eq(255), 1, tgt).long();
  const plain = F.crossEntropy(logits, full).item();
  for (const o of [{}, { avgNonIgnore: true }, { normaliser: 'pytorch' as const }]) close(segCrossEntropy(logits, full, o).item(), plain, JSON.stringify(o));
  // Exported from the losses namespace.
  assert.equal(losses.segCrossEntropy, segCrossEntropy);
  assert.equal(losses.lovaszSoftmax, lovaszSoftmax);
});

test('segCrossEntropy with weights and ignoreIndex equals the hand formula', () => {
  // ℓ_i = −w_{y_i} log softmax(z_i)_{y_i}, written out per pixel in JS over the float64 log-probabilities.
  const logp = logits64.logSoftmax(1).reshape(-1).toArray() as number[]; // [N,K,H,W] flattened
  let sum = 0, count = 0, wsum = 0;
  labels.forEach((y, i) => {
    if (y === 255) return;
    const b = Math.floor(i / (H * W)), s = i % (H * W);
    sum += -W_CLASS[y] * logp[(b * K + y) * H * W + s];
    count += 1; wsum += W_CLASS[y];
  });
  const eps = 2 ** -23;
  const o = { weight: W_CLASS };
  close(segCrossEntropy(logits, tgt, o).item(), sum / (N * H * W), 'Σℓ / NHW');
  close(segCrossEntropy(logits, tgt, { ...o, avgNonIgnore: true }).item(), sum / (count + eps), 'Σℓ / #non-ignored');
  close(segCrossEntropy(logits, tgt, { ...o, normaliser: 'pytorch' }).item(), sum / wsum, 'Σℓ / Σw_y');
  close(segCrossEntropy(logits, tgt, { ...o, reduction: 'sum' }).item(), sum, 'sum');
  const none = segCrossEntropy(logits, tgt, { ...o, reduction: 'none' });
  assert.deepEqual(none.shape, [N, H, W]);
  assert.ok(none.maskedSelect(tgt.eq(255)).abs().max().item() === 0, 'ignored pixels lose 0');
  // The exported normaliser is the mean's denominator (for averaging over processes).
  for (const extra of [{}, { avgNonIgnore: true }, { normaliser: 'pytorch' as const }]) {
    const oo = { ...o, ...extra };
    close(segCrossEntropy(logits, tgt, { ...oo, reduction: 'sum' }).div(segCrossEntropyNormaliser(logits, tgt, oo)).item(), segCrossEntropy(logits, tgt, oo).item(), `normaliser ${JSON.stringify(extra)}`);
  }
  // Gradients flow and are 0 at ignored pixels.
  const x = logits.detach().requiresGrad_(true);
  segCrossEntropy(x, tgt, o).backward();
  const g = x.grad!;
  assert.ok(g.isfinite().all().item());
  assert.equal(g.mul(tgt.eq(255).unsqueeze(1)).abs().max().item(), 0);
});

test('segCrossEntropy: an all-ignored batch gives 0 with mmseg, NaN with PyTorch (as they do)', () => {
  const all = torch.full([N, H, W], 255, { dtype: 'int64' });
  assert.equal(segCrossEntropy(logits, all, { weight: W_CLASS }).item(), 0);
  assert.equal(segCrossEntropy(logits, all, { weight: W_CLASS, avgNonIgnore: true }).item(), 0);
  assert.ok(Number.isNaN(segCrossEntropy(logits, all, { normaliser: 'pytorch' }).item()));
});

test('segCrossEntropy: bad input names the argument', () => {
  assert.throws(() => segCrossEntropy(logits.reshape(N, K, H * W), tgt), /logits must be \[N, K, H, W\]/);
  assert.throws(() => segCrossEntropy(logits, tgt.reshape(N, H * W)), /target must be \[N, H, W\] = \[2,3,5\]/);
  assert.throws(() => segCrossEntropy(logits, tgt.float()), /target must be int64/);
  assert.throws(() => segCrossEntropy(logits, torch.where(tgt.eq(255), 7, tgt).long()), /target has class indices outside \[0, 4\) that are not ignoreIndex \(255\)/);
  assert.throws(() => segCrossEntropy(logits, tgt, { ignoreIndex: -100 }), /not ignoreIndex \(-100\)/);
  assert.throws(() => segCrossEntropy(logits, tgt, { weight: [1, 2] }), /weight must be \[K\] = \[4\]/);
  assert.throws(() => segCrossEntropy(logits, tgt, { weight: [1, 2, -1, 1] }), /weight\[2\] must be a finite number >= 0/);
  assert.throws(() => segCrossEntropy(logits, tgt, { normaliser: 'mean' as never }), /normaliser must be 'mmseg' or 'pytorch'/);
  assert.throws(() => segCrossEntropy(logits, tgt, { normaliser: 'pytorch', avgNonIgnore: true }), /avgNonIgnore is mmseg's option/);
  assert.throws(() => segCrossEntropy(logits, tgt, { reduction: 'avg' as never }), /reduction must be/);
});

test('softmax Dice with ignoreIndex on [N,K,H,W]: the reference, and ignored pixels change nothing', () => {
  close(diceLoss(logits, tgt, { ignoreIndex: 255 }).item(), REF.dice, 'dice per sample');
  close(diceLoss(logits, tgt, { ignoreIndex: 255, batch: true }).item(), REF.dice_batch, 'dice batch');
  // Any logits at ignored pixels give the same loss.
  const ign = tgt.eq(255).unsqueeze(1);
  const scrambled = torch.where(ign, logits.mul(-7).add(5), logits);
  close(diceLoss(scrambled, tgt, { ignoreIndex: 255 }).item(), REF.dice, 'dice, ignored logits changed');
  // And no gradient reaches them.
  const x = logits.detach().requiresGrad_(true);
  diceLoss(x, tgt, { ignoreIndex: 255 }).backward();
  assert.equal(x.grad!.mul(ign).abs().max().item(), 0);
});

test('lovaszSoftmax equals the reference lovasz_softmax (present/all, batch/per image)', () => {
  for (const classes of ['present', 'all'] as const) {
    for (const perImage of [false, true]) {
      const sfx = `${classes}_${perImage ? 'image' : 'batch'}` as const;
      close(lovaszSoftmax(logits, tgt, { classes, perImage }).item(), REF[`lovasz_${sfx}`], `lovasz ${sfx}`);
      close(lovaszSoftmax(logits, no3, { classes, perImage }).item(), REF[`lovasz_no3_${sfx}`], `lovasz no3 ${sfx}`);
      // Probabilities in, the same value.
      close(lovaszSoftmax(logits.softmax(1), no3, { classes, perImage, input: 'probs' }).item(), REF[`lovasz_no3_${sfx}`], `lovasz probs ${sfx}`);
    }
  }
  assert.ok(Math.abs(lovaszSoftmax(logits64, tgt).item() - REF.lovasz_present_batch) < 1e-12, 'float64 to float64 rounding');
});

test('lovaszSoftmax: one-hot probabilities score 0, ignored pixels change nothing, gradients flow', () => {
  const safe = torch.where(tgt.eq(255), 0, tgt).long();
  const onehot = F.oneHot(safe, K).permute(0, 3, 1, 2).float();
  for (const classes of ['present', 'all'] as const) {
    for (const perImage of [false, true]) assert.equal(lovaszSoftmax(onehot, tgt, { input: 'probs', classes, perImage }).item(), 0);
  }
  // Logits (or probabilities) at ignored pixels don't move the loss.
  const ign = tgt.eq(255).unsqueeze(1);
  const scrambled = torch.where(ign, logits.mul(-7).add(5), logits);
  for (const perImage of [false, true]) {
    close(lovaszSoftmax(scrambled, tgt, { perImage }).item(), REF[`lovasz_present_${perImage ? 'image' : 'batch'}`], 'scrambled ignored logits');
  }
  // An all-ignored batch scores 0.
  assert.equal(lovaszSoftmax(logits, torch.full([N, H, W], 255, { dtype: 'int64' })).item(), 0);
  // Backward: finite, 0 at ignored pixels, and the finite-difference check in float64.
  const x = logits.detach().requiresGrad_(true);
  lovaszSoftmax(x, tgt).backward();
  assert.ok(x.grad!.isfinite().all().item());
  assert.ok(x.grad!.abs().sum().item() > 0);
  assert.equal(x.grad!.mul(ign).abs().max().item(), 0);
  const small = logits64.narrow(0, 0, 1).narrow(3, 0, 3).detach().requiresGrad_(true);
  const ts = tgt.narrow(0, 0, 1).narrow(2, 0, 3);
  assert.ok(gradcheck((a: Tensor) => lovaszSoftmax(a, ts, { classes: 'all' }), [small]).ok, 'lovasz gradcheck');
});

test('lovaszSoftmax: bad input names the argument', () => {
  assert.throws(() => lovaszSoftmax(logits.reshape(N, K, H * W), tgt), /input must be \[N, K, H, W\]/);
  assert.throws(() => lovaszSoftmax(logits, tgt.reshape(N, H * W)), /target must be \[N, H, W\] = \[2,3,5\]/);
  assert.throws(() => lovaszSoftmax(logits, tgt.float()), /target must be integer class indices/);
  assert.throws(() => lovaszSoftmax(logits, torch.where(tgt.eq(255), 4, tgt).long()), /target has class indices outside \[0, 4\) that are not ignoreIndex \(255\)/);
  assert.throws(() => lovaszSoftmax(logits, tgt, { classes: 'some' as never }), /classes must be 'present' or 'all'/);
  assert.throws(() => lovaszSoftmax(logits, tgt, { input: 'probs' }), /input 'probs' must lie in \[0, 1\]/);
  assert.throws(() => lovaszSoftmax(logits.narrow(1, 0, 1), tgt.clamp(null, 0)), /K >= 2/);
});
