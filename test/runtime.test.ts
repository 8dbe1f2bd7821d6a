// Process-wide runtime: RNG and its state, grad mode, autocast, build info,
// threads, reading data out of tensors, and torch.tensor's dtype inference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torch, F, Tensor } from 'arsenal';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function bits(t: Tensor): string {
  const a = t.dataSync();
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

// ---- RNG ----------------------------------------------------------------------------------------------

/** One draw from each random source, as exact bytes. */
function draws(): string[] {
  return torch.scope(() => [
    bits(torch.randn(5, 7)),
    bits(torch.rand(3, 4)),
    bits(torch.randint(0, 1000, [20])),
    bits(torch.randint(10, [6])),
    bits(torch.randperm(50)),
    bits(F.dropout(torch.ones(200), 0.5, true)),
    bits(torch.empty(8).normal_(2, 3)),
    bits(torch.empty(8).uniform_(-1, 1)),
    bits(torch.randnLike(torch.zeros(2, 2))),
  ]);
}

test('manualSeed(42) makes randn, rand, randint, randperm and dropout repeat exactly', () => {
  torch.manualSeed(42);
  const a = draws();
  const a2 = draws(); // the stream moves on without a reseed
  torch.manualSeed(42);
  const b = draws();
  torch.manualSeed(43);
  const c = draws();
  assert.deepEqual(b, a);
  for (let i = 0; i < a.length; i++) {
    assert.notEqual(a2[i], a[i], `draw ${i} repeated without reseeding`);
    assert.notEqual(c[i], a[i], `draw ${i} is the same for seeds 42 and 43`);
  }
  assert.equal(torch.initialSeed(), 42 + 1);
});

test('manualSeed(42) gives the same numbers as PyTorch 1.13 (torch.manual_seed(42))', () => {
  torch.manualSeed(42);
  assert.equal(torch.initialSeed(), 42);
  torch.scope(() => {
    // Python: torch.manual_seed(42); torch.randn(3); torch.rand(3); torch.randint(0, 100, (5,)); torch.randperm(8)
    assert.deepEqual(torch.randn(3).toArray(), [0.33669036626815796, 0.12880940735340118, 0.23446236550807953]);
    assert.deepEqual(torch.rand(3).toArray(), [0.9407714605331421, 0.13318592309951782, 0.9345980882644653]);
    assert.deepEqual(torch.randint(0, 100, [5]).toArray(), [14, 10, 54, 31, 72]);
    assert.deepEqual(torch.randperm(8).toArray(), [3, 7, 5, 4, 2, 1, 0, 6]);
  });
});

test('dropout: p=0 and eval mode are the identity; the kept values are scaled by 1/(1-p)', () => {
  torch.scope(() => {
    torch.manualSeed(0);
    const x = torch.ones(1000);
    const y = F.dropout(x, 0.25, true).toArray() as number[];
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    const zeros = y.filter((v) => v === 0).length;
    assert.ok(zeros > 180 && zeros < 320, `${zeros} of 1000 dropped at p=0.25`);
    assert.deepEqual(F.dropout(x, 0.25, false).toArray(), x.toArray());
    assert.deepEqual(F.dropout(x, 0, true).toArray(), x.toArray());
    assert.throws(() => F.dropout(x, 1.5), /dropout/);
  });
});

test('getRngState / setRngState restore the stream', () => {
  torch.manualSeed(7);
  torch.scope(() => torch.randn(10)); // move away from the seed point
  const state = torch.keep(torch.getRngState());
  assert.equal(state.dtype, 'uint8');
  assert.ok(state.numel() > 0);
  const first = draws();
  const moved = draws();
  assert.notDeepEqual(moved, first);
  torch.setRngState(state);
  assert.deepEqual(draws(), first, 'the stream resumed from the saved state');
  // The state is a copy: drawing does not change it.
  torch.setRngState(state);
  assert.deepEqual(draws(), first);
  // A wrong state is a JS error (not a crash), and the generator still works.
  torch.scope(() => {
    assert.throws(() => torch.setRngState(torch.zeros(10, { dtype: 'uint8' })), /setRngState/);
    assert.throws(() => torch.setRngState(torch.zeros(10)), /setRngState|uint8/);
  });
  state.dispose();
  assert.throws(() => torch.setRngState(state), /disposed/);
  assert.equal(draws().length, 9);
});

// ---- grad mode ------------------------------------------------------------------------------------------

test('noGrad disables gradient recording inside and restores after return and after a throw', () => {
  torch.scope(() => {
    const x = torch.ones(3, { requiresGrad: true });
    assert.equal(torch.isGradEnabled(), true);
    const y = torch.noGrad(() => {
      assert.equal(torch.isGradEnabled(), false);
      return x.mul(2);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    assert.equal(torch.isGradEnabled(), true);
    const z = x.mul(2);
    assert.equal(z.requiresGrad, true);
    assert.match(z.gradFn ?? '', /^MulBackward/);

    assert.throws(() => torch.noGrad(() => { throw new Error('inside noGrad'); }), /inside noGrad/);
    assert.equal(torch.isGradEnabled(), true, 'restored after a throw');
    // a native error inside noGrad restores too
    assert.throws(() => torch.noGrad(() => x.matmul(torch.ones(5, 5))));
    assert.equal(torch.isGradEnabled(), true);

    // enableGrad inside noGrad records; nesting restores each level
    torch.noGrad(() => {
      const w = torch.enableGrad(() => {
        assert.equal(torch.isGradEnabled(), true);
        return x.add(1);
      });
      assert.equal(w.requiresGrad, true);
      assert.equal(torch.isGradEnabled(), false);
    });
    assert.equal(torch.isGradEnabled(), true);

    // in-place updates of a leaf under noGrad (what optimizers do)
    torch.noGrad(() => x.sub_(0.5));
    assert.deepEqual(x.toArray(), [0.5, 0.5, 0.5]);
    assert.equal(x.isLeaf, true);

    // setGradEnabled returns the previous mode
    assert.equal(torch.setGradEnabled(false), true);
    assert.equal(torch.setGradEnabled(true), false);
  });
});

test('noGrad refuses a function that returns a Promise and leaves grad mode on', () => {
  assert.throws(() => torch.noGrad((async () => 1) as () => unknown), /Promise/);
  assert.equal(torch.isGradEnabled(), true);
});

// ---- autocast --------------------------------------------------------------------------------------------

test('autocast(cpu, bfloat16): linear and matmul run in bfloat16 inside, float32 outside', () => {
  torch.scope(() => {
    const x = torch.randn(4, 8);
    const w = torch.randn(3, 8);
    const b = torch.randn(3);
    const outside = () => [F.linear(x, w, b).dtype, x.matmul(w.t()).dtype];
    assert.deepEqual(outside(), ['float32', 'float32']);
    assert.equal(torch.isAutocastEnabled(), false);
    const [inside, ref] = torch.autocast({ deviceType: 'cpu', dtype: 'bfloat16' }, () => {
      assert.equal(torch.isAutocastEnabled(), true);
      const y = F.linear(x, w, b);
      return [[y.dtype, x.matmul(w.t()).dtype, x.mm(w.t()).dtype], y.float()];
    }) as [string[], Tensor];
    assert.deepEqual(inside, ['bfloat16', 'bfloat16', 'bfloat16']);
    assert.deepEqual(outside(), ['float32', 'float32']);
    assert.equal(torch.isAutocastEnabled(), false);
    // The values are the float32 ones to bfloat16 precision: 8 significant bits on inputs and output, |y| ≲ 10 for
    // 8 products of randn, so errors stay under ~0.05 whatever the kernels.
    const exact = F.linear(x, w, b);
    const err = ref.sub(exact).abs().max().item();
    assert.ok(err > 0 && err < 0.1, `bf16 linear differs from fp32 by ${err}`);
    // the default options are cpu + bfloat16
    assert.equal(torch.autocast({}, () => F.linear(x, w).dtype), 'bfloat16');
  });
});

// oneDNN has no bf16 convolution below AVX-512 (e.g. under ONEDNN_MAX_CPU_ISA=AVX2): skipped where the probe says so.
const bf16 = torch.bf16Support();
test('autocast(cpu, bfloat16): conv2d runs in bfloat16 inside, float32 outside', { skip: !bf16.available && `bf16 not available: ${bf16.reason}` }, () => {
  torch.scope(() => {
    const img = torch.randn(1, 2, 6, 6);
    const k = torch.randn(4, 2, 3, 3);
    assert.equal(F.conv2d(img, k).dtype, 'float32');
    const [dtype, y] = torch.autocast({ dtype: 'bfloat16' }, () => {
      const o = F.conv2d(img, k, null, { padding: 1 });
      return [o.dtype, o.float()];
    }) as [string, Tensor];
    assert.equal(dtype, 'bfloat16');
    assert.equal(F.conv2d(img, k).dtype, 'float32');
    // 18 products of randn per output, 8 significant bits: well under 0.2 off the fp32 result on any kernel.
    const err = y.sub(F.conv2d(img, k, null, { padding: 1 })).abs().max().item();
    assert.ok(err > 0 && err < 0.2, `bf16 conv2d differs from fp32 by ${err}`);
  });
});

test('autocast nests (enabled:false inside turns it off) and restores after a throw', () => {
  torch.scope(() => {
    const x = torch.randn(2, 4);
    const w = torch.randn(3, 4);
    torch.autocast({ dtype: 'bfloat16' }, () => {
      assert.equal(F.linear(x, w).dtype, 'bfloat16');
      const inner = torch.autocast({ enabled: false }, () => {
        assert.equal(torch.isAutocastEnabled(), false);
        return F.linear(x, w).dtype;
      });
      assert.equal(inner, 'float32');
      assert.equal(torch.isAutocastEnabled(), true);
      assert.equal(F.linear(x, w).dtype, 'bfloat16', 'outer autocast restored after the inner one');
      torch.autocast({}, () => assert.equal(F.linear(x, w).dtype, 'bfloat16'));
      assert.equal(F.linear(x, w).dtype, 'bfloat16');
    });
    assert.equal(torch.isAutocastEnabled(), false);
    assert.throws(() => torch.autocast({}, () => { throw new Error('inside autocast'); }), /inside autocast/);
    assert.equal(torch.isAutocastEnabled(), false);
    assert.equal(F.linear(x, w).dtype, 'float32');
    // a native error inside restores too
    assert.throws(() => torch.autocast({}, () => x.matmul(x)));
    assert.equal(torch.isAutocastEnabled(), false);
    assert.throws(() => torch.autocast({ deviceType: 'cuda' as 'cpu' }, () => 1), /deviceType/);
    assert.equal(torch.isAutocastEnabled(), false);
  });
});

test('gradients flow to float32 weights through autocast', () => {
  torch.scope(() => {
    torch.manualSeed(1);
    const x = torch.randn(5, 8);
    const w = torch.randn(3, 8, { requiresGrad: true });
    const bias = torch.zeros(3, { requiresGrad: true });
    const loss = torch.autocast({ dtype: 'bfloat16' }, () => {
      const y = F.linear(x, w, bias);
      assert.equal(y.dtype, 'bfloat16');
      return y.float().sum();
    });
    loss.backward();
    const gw = w.grad!;
    const gb = bias.grad!;
    assert.equal(gw.dtype, 'float32', 'the weight gradient is float32 like the weight');
    assert.deepEqual(gw.shape, [3, 8]);
    assert.equal(gb.dtype, 'float32');
    assert.deepEqual(gb.toArray(), [5, 5, 5]);
    // d(sum(x w^T))/dw = column sums of x for every row, to bf16 precision (x rounded to 8 significant bits, 5 terms
    // of |x| ≲ 3: errors ≲ 0.05 on any kernel)
    const want = x.sum(0).unsqueeze(0).expand(3, 8);
    const err = gw.sub(want).abs().max().item();
    assert.ok(err < 0.1, `gradient error ${err}`);
  });
});

test('autocast with float16 on CPU is a JS error or runs disabled; it never aborts the process', () => {
  const code = `
    import { torch, F } from 'arsenal';
    let out;
    try { out = torch.autocast({ dtype: 'float16' }, () => F.linear(torch.ones(2, 2), torch.ones(2, 2)).dtype); }
    catch (e) { out = 'error: ' + e.message; }
    console.log(JSON.stringify({ out, enabled: torch.isAutocastEnabled(), after: F.linear(torch.ones(2, 2), torch.ones(2, 2)).dtype }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, `the process was killed by ${r.signal}: ${r.stderr.split('\n').slice(0, 2).join(' ')}`);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(res.out === 'float32' || res.out === 'float16' || /^error: .*(float16|bfloat16|Half|BFloat16)/i.test(res.out), res.out);
  assert.equal(res.enabled, false);
  assert.equal(res.after, 'float32');
});

// ---- info and threads -------------------------------------------------------------------------------------

test('torch.info() describes the libtorch found', () => {
  const i = torch.info();
  assert.match(i.libtorch, /^\d+\.\d+\.\d+/);
  const [maj, min] = i.libtorch.split('.').map(Number);
  assert.ok(maj > 1 || (maj === 1 && min >= 13), `libtorch ${i.libtorch} (Arsenal needs 1.13+; Debian ships 1.13)`);
  assert.ok(Number.isInteger(i.threads) && i.threads >= 1);
  assert.ok(Number.isInteger(i.interopThreads) && i.interopThreads >= 1);
  assert.equal(i.threads, torch.getNumThreads());
  assert.equal(typeof i.bf16, 'boolean');
  assert.equal(i.bf16, torch.bf16Support().available);
  assert.ok(i.bf16Reason.length > 0);
  assert.equal(typeof i.cuda, 'boolean');
  assert.equal(typeof i.mkldnn, 'boolean');
  assert.equal(typeof i.blas, 'string');
  assert.ok(i.blas.length > 0);
  assert.equal(typeof i.cpuCapability, 'string');
});

test('setNumThreads / getNumThreads round-trip; bad counts are refused', () => {
  const before = torch.getNumThreads();
  try {
    torch.setNumThreads(1);
    assert.equal(torch.getNumThreads(), 1);
    assert.equal(torch.info().threads, 1);
    torch.setNumThreads(2);
    assert.equal(torch.getNumThreads(), 2);
    // a matmul still works (and agrees) with a different thread count
    const [a, b] = torch.scope(() => {
      torch.manualSeed(3);
      const x = torch.randn(64, 64);
      torch.setNumThreads(1);
      const one = x.matmul(x);
      torch.setNumThreads(2);
      return [one, x.matmul(x)];
    });
    // BLAS splits the sum by thread count: fp32 reordering of 64-term sums, far inside 1e-5.
    assert.ok(a.allclose(b, 1e-5, 1e-5));
    torch.dispose([a, b]);
    assert.throws(() => torch.setNumThreads(0), /positive/);
    assert.throws(() => torch.setNumThreads(-2), /positive/);
    assert.throws(() => torch.setNumThreads(1.5), /positive/);
    assert.equal(torch.getNumThreads(), 2);
  } finally {
    torch.setNumThreads(before);
  }
  assert.equal(torch.getNumThreads(), before);
});

// ---- data out of tensors ------------------------------------------------------------------------------------

test('dataSync copies; dataView shares memory both ways', () => {
  torch.scope(() => {
    const t = torch.zeros(4);
    const copy = t.dataSync() as Float32Array;
    const view = t.dataView() as Float32Array;
    assert.ok(copy instanceof Float32Array && view instanceof Float32Array);
    t.fill_(3);
    assert.deepEqual(Array.from(copy), [0, 0, 0, 0], 'the copy does not see later writes');
    assert.deepEqual(Array.from(view), [3, 3, 3, 3], 'the view sees fill_');
    view[1] = 9;
    assert.deepEqual(t.toArray(), [3, 9, 3, 3], 'a write through the view shows in the tensor');
    copy[2] = 5;
    assert.deepEqual(t.toArray(), [3, 9, 3, 3], 'a write to the copy does not');
    // a contiguous view with a storage offset
    const u = torch.arange(6).to('float32');
    assert.deepEqual(Array.from(u.narrow(0, 2, 3).dataView() as Float32Array), [2, 3, 4]);
    assert.deepEqual(Array.from(u.narrow(0, 2, 3).dataSync() as Float32Array), [2, 3, 4]);
    // non-contiguous: dataSync gives row-major values, dataView refuses
    const m = torch.arange(6).to('float32').reshape(2, 3).t();
    assert.deepEqual(Array.from(m.dataSync() as Float32Array), [0, 3, 1, 4, 2, 5]);
    assert.throws(() => m.dataView(), /contiguous/);
    // typed arrays follow the dtype
    assert.ok(torch.zeros(2, { dtype: 'int64' }).dataSync() instanceof BigInt64Array);
    assert.ok(torch.zeros(2, { dtype: 'float64' }).dataSync() instanceof Float64Array);
    assert.ok(torch.zeros(2, { dtype: 'uint8' }).dataSync() instanceof Uint8Array);
    assert.deepEqual(Array.from(torch.tensor([1.5, -2], { dtype: 'bfloat16' }).dataSync() as Uint16Array), [0x3fc0, 0xc000], 'bf16 as raw bits');
    assert.deepEqual(Array.from(torch.tensor([1.5, -2], { dtype: 'float16' }).dataSync() as Uint16Array), [0x3e00, 0xc000], 'f16 as raw bits');
  });
});

test('a dataView keeps its storage alive after the tensor is disposed', async () => {
  const t = torch.full([1024], 7);
  const view = t.dataView() as Float32Array;
  t.dispose();
  const others = Array.from({ length: 32 }, () => torch.full([1024], -1));
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setImmediate(r));
  assert.ok(view.every((v) => v === 7));
  torch.dispose(others);
});

test('item() and toArray() for int64, bool and bfloat16 (and the rest)', () => {
  torch.scope(() => {
    const i = torch.tensor([[1, -2], [3, 2 ** 40]]);
    assert.equal(i.dtype, 'int64');
    assert.deepEqual(i.toArray(), [[1, -2], [3, 2 ** 40]]);
    assert.equal(i.sum().item(), 2 + 2 ** 40);
    assert.equal(typeof i.sum().item(), 'number');
    const b = torch.tensor([[true, false], [false, true]]);
    assert.deepEqual(b.toArray(), [[true, false], [false, true]]);
    assert.equal(b.index(0, 0).item(), true);
    assert.equal(b.index(0, 1).item(), false);
    assert.equal(b.any().item(), true);
    const h = torch.tensor([1e-3, 1 / 3, -2.5], { dtype: 'bfloat16' });
    assert.equal(h.dtype, 'bfloat16');
    assert.deepEqual(h.toArray(), [0.00099945068359375, 0.333984375, -2.5]);
    assert.equal(h.index(1).item(), 0.333984375);
    const f16 = torch.tensor([1 / 3, 65504], { dtype: 'float16' });
    assert.deepEqual(f16.toArray(), [0.333251953125, 65504]);
    assert.equal(torch.tensor(2.5).item(), 2.5);
    assert.equal(torch.tensor(2.5).toArray(), 2.5, 'a 0-d tensor gives a plain number');
    assert.deepEqual(torch.zeros(0, 3).toArray(), []);
    assert.deepEqual(torch.zeros(2, 0).toArray(), [[], []]);
    assert.throws(() => torch.ones(3).item(), /one element|1 element|numel|a Tensor with 3 elements/i);
  });
});

// ---- torch.tensor dtype inference ---------------------------------------------------------------------------

test('torch.tensor infers dtypes like PyTorch: ints -> int64, fractions -> float32, booleans -> bool', () => {
  torch.scope(() => {
    const cases: [unknown, string, number[]][] = [
      [[1, 2, 3], 'int64', [3]],
      [[[1, 2], [3, 4]], 'int64', [2, 2]],
      [7, 'int64', []],
      [[1, 2.5], 'float32', [2]],
      [[0.5], 'float32', [1]],
      [2.5, 'float32', []],
      [[true, false], 'bool', [2]],
      [true, 'bool', []],
      [[], 'float32', [0]],
      [new Float32Array([1, 2]), 'float32', [2]],
      [new Float64Array([1]), 'float64', [1]],
      [new Int32Array([1, 2, 3]), 'int32', [3]],
      [new Int16Array([1]), 'int16', [1]],
      [new Int8Array([1]), 'int8', [1]],
      [new Uint8Array([1, 2]), 'uint8', [2]],
      [new BigInt64Array([1n]), 'int64', [1]],
    ];
    for (const [data, dtype, shape] of cases) {
      const t = torch.tensor(data as number[]);
      assert.equal(t.dtype, dtype, `dtype of ${String(data)}`);
      assert.deepEqual(t.shape, shape, `shape of ${String(data)}`);
    }
    // values survive
    assert.deepEqual(torch.tensor([[1, 2], [3, 4]]).toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual(torch.tensor([0.5, -1.25]).toArray(), [0.5, -1.25]);
    assert.deepEqual(torch.tensor(new BigInt64Array([2n ** 62n])).dataSync(), new BigInt64Array([2n ** 62n]));
    // an explicit dtype wins; typed arrays can be converted and reshaped
    assert.equal(torch.tensor([1, 2], { dtype: 'float32' }).dtype, 'float32');
    assert.equal(torch.tensor([1.7, -1.7], { dtype: 'int32' }).dtype, 'int32');
    assert.deepEqual(torch.tensor(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] }).toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual(torch.tensor(new Int32Array([1, 2]), { dtype: 'float64' }).toArray(), [1, 2]);
    assert.equal(torch.tensor(new Int32Array([1, 2]), { dtype: 'float64' }).dtype, 'float64');
    // the data is copied: changing the source array later does not change the tensor
    const src = new Float32Array([1, 2]);
    const t = torch.tensor(src);
    src[0] = 100;
    assert.deepEqual(t.toArray(), [1, 2]);
    // bad input
    assert.throws(() => torch.tensor([[1, 2], [3]]), /ragged/);
    assert.throws(() => torch.tensor(['a'] as unknown as number[]), /tensor/);
    assert.throws(() => torch.tensor(new Uint16Array([1])), /Uint16Array/);
    assert.equal(torch.tensor(new Uint16Array([0x3f80]), { dtype: 'bfloat16' }).item(), 1);
  });
});

test('torch.tensor never silently wraps integers outside the int64-safe range', () => {
  torch.scope(() => {
    let t: Tensor | undefined;
    try {
      t = torch.tensor([1e20]);
    } catch {
      return; // refusing is acceptable
    }
    const v = t.toArray()[0] as number;
    assert.ok(Math.abs(v / 1e20 - 1) < 1e-6, `torch.tensor([1e20]) holds ${v} (${t.dtype})`);
  });
});

test('torch.tensor with mixed booleans and numbers is numeric, as in PyTorch', () => {
  torch.scope(() => {
    // Python: torch.tensor([True, 2]) -> tensor([1, 2]) (int64)
    const t = torch.tensor([true, 2] as unknown as number[]);
    assert.equal(t.dtype, 'int64');
    assert.deepEqual(t.toArray(), [1, 2]);
  });
});
