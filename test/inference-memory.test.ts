// Inference frees each activation as it goes (nn.forwardChain: Sequential.forward,
// MobileNetV3Features.forwardAt), as PyTorch frees a tensor when its last
// reference goes; without it a forward's every activation lived until the
// caller's scope closed, which made LR-ASPP's eval forward 1.6x torchvision's
// (bench/seg-step.ts). With grad enabled the chain is the plain loop.
// Imports only from 'arsenal'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { torch, nn, models, type Tensor } from 'arsenal';

const MB = 1 << 20;

/** x + 1, a fresh tensor of x's size; records the live tensors and bytes it saw. */
class AddOne extends nn.Module {
  seen: { tensors: number; bytes: number }[] = [];
  forward(x: Tensor): Tensor {
    const m = torch.memory();
    this.seen.push({ tensors: m.tensors, bytes: m.bytes });
    return x.add(1);
  }
}

/** Returns its own kept parameter, whatever its input. */
class Const extends nn.Module {
  w = nn.parameter(torch.full([4], 3));
  forward(): Tensor { return this.w; }
}

test('a scope that returns an enclosing scope\'s tensor does not keep it from being freed there', () => {
  const live = torch.memory().tensors;
  let a: Tensor | null = null;
  torch.scope(() => {
    a = torch.zeros([2]);
    const b = torch.scope(() => a);
    assert.equal(b, a);
    return null;
  });
  assert.equal(a!.isDisposed, true);
  assert.equal(torch.memory().tensors, live);
});

test('Sequential under noGrad frees each intermediate once the next module has returned; with grad it keeps them', () => {
  const n = 12;
  const x = torch.zeros([MB / 4]).keep(); // 1 MB
  for (const grad of [false, true]) {
    const mods = Array.from({ length: n }, () => new AddOne());
    const seq = new nn.Sequential(...mods);
    const base = torch.memory().bytes;
    const y = torch.scope(() => {
      const run = () => seq.forward(x) as Tensor;
      const out = grad ? run() : torch.noGrad(run);
      return [out.sum().item(), out.isDisposed];
    });
    assert.deepEqual(y, [n * MB / 4, false]);
    const lastSaw = mods[n - 1].seen[0].bytes - base;
    if (grad) assert.ok(lastSaw >= (n - 1) * MB, `with grad the last module saw ${lastSaw / MB} MB of activations`);
    else assert.ok(lastSaw <= 2 * MB, `under noGrad the last module saw ${lastSaw / MB} MB of activations (at most its input and one more)`);
  }
  x.dispose();
});

test('forwardChain under noGrad keeps the input, the outputs asked for, an Identity\'s and a Dropout\'s pass-through, and kept tensors', () => {
  const x = torch.arange(0, 4).float().keep();
  const c = new Const();
  const live = torch.memory().tensors;
  const mods = [new AddOne(), new nn.Identity(), new AddOne(), new nn.Dropout(0.5).eval(), c, new AddOne(), new AddOne()];
  torch.noGrad(() => torch.scope(() => {
    const [a, b, k, last] = nn.forwardChain(mods, x, [1, 3, 4, 6]) as Tensor[];
    assert.equal(x.isDisposed, false);
    assert.deepEqual([...a.dataSync()], [1, 2, 3, 4]); // module 1 (Identity) passed module 0's output on
    assert.deepEqual([...b.dataSync()], [2, 3, 4, 5]);
    assert.equal(k, c.w);
    assert.deepEqual([...last.dataSync()], [5, 5, 5, 5]);
    assert.equal(c.w.isDisposed, false);
    const y = nn.forwardChain(mods, x) as Tensor;
    assert.deepEqual([...y.dataSync()], [5, 5, 5, 5]);
    return null;
  }));
  assert.equal(c.w.isDisposed, false);
  assert.equal(torch.memory().tensors, live); // nothing of the chain outlives the scope
  c.dispose();
  x.dispose();
});

test('LR-ASPP eval under noGrad: the same output as with grad enabled, no autograd record, no tensor left behind', () => {
  torch.manualSeed(0);
  const m = models.lrasppMobileNetV3Large({ widthMult: 0.25, numClasses: 5 }).eval();
  const x = torch.randn([2, 3, 64, 64]).keep();
  const live = torch.memory().tensors;
  torch.scope(() => {
    const ref = m.forward(x) as Tensor;
    assert.equal(ref.requiresGrad, true);
    const out = torch.noGrad(() => m.forward(x) as Tensor);
    assert.equal(out.requiresGrad, false);
    assert.deepEqual(out.shape, [2, 5, 64, 64]);
    assert.equal(out.sub(ref).abs().max().item(), 0);
    return null;
  });
  assert.equal(torch.memory().tensors, live);
  m.dispose();
  x.dispose();
});
