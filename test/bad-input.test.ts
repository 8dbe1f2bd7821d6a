// Bad input: every mistake a caller can make with the core API is a JS Error
// whose message names what was wrong, and the process lives on (docs/architecture.md §2,
// §9). The last test checks that ordinary work still runs afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { torch, F, type Tensor } from 'arsenal';

// Deliberately ill-typed calls go through `any`.
const loose = (x: unknown): any => x;

test('wrong type: a string where a tensor is expected', () => {
  const t = torch.ones(2, 3);
  assert.throws(() => t.add(loose('x')), /add: expected a Tensor or a number, got string x/);
  assert.throws(() => t.matmul(loose('x')), /matmul: expected a Tensor, got string x/);
  assert.throws(() => F.conv2d(loose('x'), torch.ones(1, 1, 1, 1)), /conv2d input: expected a Tensor, got string x/);
  assert.throws(() => F.relu(loose({ h: t.h, _flags: 0 })), /relu input: expected a Tensor, got an object/);
  assert.throws(() => torch.ops.callOp('aten::add.Tensor', 'x', t), /aten::add\.Tensor: argument 'self' \(Tensor\) expected a tensor, got string/);
  assert.throws(() => torch.cat(loose(t)), /cat: expected an array of tensors/);
  assert.throws(() => t.clamp(loose('a')), /aten::clamp: argument 'min' \(Scalar\?\) expected a number, got string/);
});

test('wrong type: a tensor where an int is expected', () => {
  const t = torch.ones(2, 3);
  assert.throws(() => t.select(loose(t), 0), /aten::select\.int: argument 'dim' \(int\) expected an integer, got object/);
  assert.throws(() => t.sum(loose(t)), /aten::sum\.dim_IntList: argument 'dim' \(int\[\]\?\) expected an array of integers, got object/);
  assert.throws(() => t.reshape(loose(t)), /aten::reshape: argument 'shape' .*expected an integer, got object/);
  assert.throws(() => F.conv2d(torch.ones(1, 2, 5, 5), torch.ones(2, 2, 3, 3), null, { groups: loose(t) }), /aten::conv2d: argument 'groups' \(int\) expected an integer/);
});

test('torch.ops.callOp: a tensor where an int or a Scalar is expected', () => {
  const t = torch.ones(2, 3);
  const u = torch.full([2], 7);
  assert.throws(() => torch.ops.callOp('aten::select.int', t, u, 0), /argument 'dim' \(int\) expected an integer/);
  assert.throws(() => torch.ops.callOp('aten::mul.Scalar', t, u), /argument 'other' \(Scalar\) expected a number/);
  // and a bare number is not a tensor
  assert.throws(() => torch.ops.callOp('aten::neg', u.h), /argument 'self' \(Tensor\) expected a tensor, got number/);
});

test('wrong type: a float (or NaN, bool, null) where an int is expected', () => {
  const t = torch.ones(2, 3);
  assert.throws(() => t.select(0, 1.5), /aten::select\.int: argument 'index' .*expected an integer, got 1\.5/);
  assert.throws(() => t.select(0, NaN), /argument 'index' .*expected an integer, got nan/i);
  assert.throws(() => t.select(0, loose(true)), /argument 'index' \(int\) expected an integer, got boolean/);
  assert.throws(() => t.select(0, loose(null)), /argument 'index' \(int\) expected an integer, got null/);
  assert.throws(() => t.reshape(2.5, 2), /aten::reshape: argument 'shape' .*expected an integer, got 2\.5/);
  assert.throws(() => t.topk(1.5), /aten::topk: argument 'k' .*expected an integer, got 1\.5/);
  assert.throws(() => F.conv2d(torch.ones(1, 2, 5, 5), torch.ones(2, 2, 3, 3), null, { stride: 1.5 }), /aten::conv2d: argument 'stride' .*expected an integer, got 1\.5/);
  assert.throws(() => torch.zeros(2.5), /zeros: size must be non-negative integers, got number 2\.5/);
  assert.throws(() => torch.randn(2, loose('x')), /randn: size must be non-negative integers, got string x/);
  assert.throws(() => torch.ops.callOp('aten::select.int', t, 0, 1.5), /argument 'index' .*expected an integer, got 1\.5/);
});

test('wrong shapes', () => {
  assert.throws(() => torch.ones(2, 3).matmul(torch.ones(4, 2)), /aten::matmul: mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x2\)/);
  assert.throws(() => F.conv2d(torch.ones(1, 3, 5, 5), torch.ones(4, 2, 3, 3)),
    /aten::conv2d: .*weight of size \[4, 2, 3, 3\], expected input\[1, 3, 5, 5\] to have 2 channels, but got 3 channels/);
  assert.throws(() => torch.ones(2, 3).view(4, 2), /aten::view: shape '\[4, 2\]' is invalid for input of size 6/);
  assert.throws(() => torch.cat([torch.ones(2, 3), torch.ones(3, 2)]), /aten::cat: Sizes of tensors must match except in dimension 0/);
  assert.throws(() => F.linear(torch.ones(2, 3), torch.ones(4, 5)), /aten::linear: .*(2x3 and 5x4)/);
  assert.throws(() => torch.ones(2, 3).item(), /aten::item: a Tensor with 6 elements cannot be converted to Scalar/);
});

test('a disposed tensor: after dispose() and after its scope ended', () => {
  const t = torch.ones(2, 3);
  const d = torch.ones(2, 3);
  d.dispose();
  assert.equal(d.isDisposed, true);
  assert.throws(() => d.add(1), /aten::add\.Scalar: argument 'self' is a disposed tensor/);
  assert.throws(() => t.add(d), /aten::add\.Tensor: argument 'other' is a disposed tensor/);
  assert.throws(() => F.relu(d), /relu input: the tensor was disposed/);
  assert.throws(() => t.matmul(d), /matmul: the tensor was disposed/);
  assert.throws(() => d.shape, /shape: the tensor was disposed/);
  assert.throws(() => d.toArray(), /the tensor was disposed/);
  assert.throws(() => d.item(), /aten::item: argument 'self' is a disposed tensor/);
  assert.equal(String(d), 'Tensor(<disposed>)');

  let escaped: Tensor | undefined;
  const kept = torch.scope(() => {
    escaped = torch.ones(3); // not returned, not kept: freed when the scope ends
    return torch.ones(4);
  });
  assert.equal(escaped!.isDisposed, true);
  assert.equal(kept.isDisposed, false);
  assert.throws(() => escaped!.mul(2), /aten::mul\.Scalar: argument 'self' is a disposed tensor/);
  assert.throws(() => torch.ops.callOp('aten::neg', escaped), /aten::neg: argument 'self' \(Tensor\) is a disposed tensor/);
  assert.throws(() => F.softmax(escaped!, 0), /softmax input: the tensor was disposed/);
  assert.deepEqual(kept.toArray(), [1, 1, 1, 1]);
});

test('torch.ops.callOp: missing argument and unknown operator', () => {
  const t = torch.ones(2);
  assert.throws(() => torch.ops.callOp('aten::add.Tensor', t), /aten::add\.Tensor: missing argument 'other' \(Tensor\)/);
  assert.throws(() => torch.ops.callOp('aten::nope'), /unknown operator 'aten::nope'/);
  assert.throws(() => torch.ops.callOp('aten::add.NoSuchOverload', t, t), /unknown operator 'aten::add\.NoSuchOverload'/);
  assert.throws(() => torch.ops.callOp(loose(5)), /opLookup: expected an operator name/);
  // the same operator still works with its arguments
  assert.deepEqual(torch.ops.callOp('aten::add.Tensor', t, t).toArray(), [2, 2]);
});

test('bad dtype name', () => {
  const dtypeMsg = /unknown dtype 'float33': expected one of uint8, .*float32/;
  assert.throws(() => torch.zeros(2, { dtype: loose('float33') }), dtypeMsg);
  assert.throws(() => torch.ones(2).to(loose('float33')), dtypeMsg);
  assert.throws(() => torch.arange(0, 3, 1, { dtype: loose('float33') }), dtypeMsg);
  // aliases are not errors
  assert.equal(torch.zeros(2, { dtype: loose('double') }).dtype, 'float64');
});

test('bad dtype name in torch.tensor(nested array)', () => {
  assert.throws(() => torch.tensor([1, 2], { dtype: loose('int128') }), /unknown dtype 'int128'/);
});

test('ragged or non-numeric nested arrays to torch.tensor', () => {
  assert.throws(() => torch.tensor([[1, 2], [3]]), /tensor: ragged nested array: expected length 2 at depth 1/);
  assert.throws(() => torch.tensor(loose([[1, 2], 3])), /tensor: ragged nested array: expected length 2 at depth 1, got number 3/);
  assert.throws(() => torch.tensor(loose([[1], [2, 3]])), /tensor: ragged nested array: expected length 1 at depth 1/);
  assert.throws(() => torch.tensor(loose([['a']])), /tensor: ragged or non-numeric data \(expected a number at depth 2, got string a\)/);
});

test('out-of-range indices: indexSelect, gather, index', () => {
  const t = torch.ones(2, 3);
  assert.throws(() => t.indexSelect(1, torch.tensor([0, 5])), /aten::index_select: .*(out of .*bounds|out of range).*(5|id=5)/i);
  assert.throws(() => t.indexSelect(1, torch.tensor([-1])), /aten::index_select: .*(out of .*bounds|out of range)/i);
  assert.throws(() => t.indexSelect(1, torch.tensor([0.5])), /aten::index_select: .*Expected dtype int32 or int64 for index/);
  assert.throws(() => t.gather(1, torch.tensor([[0, 7, 1], [0, 0, 0]])), /aten::gather: index 7 is out of bounds for dimension 1 with size 3/);
  assert.throws(() => t.gather(1, torch.tensor([[-1], [0]])), /aten::gather: index -1 is out of bounds for dimension 1 with size 3/);
  assert.throws(() => t.index(5), /select\(\): index 5 out of range for tensor of size \[2, 3\] at dimension 0/);
  assert.throws(() => t.index(torch.tensor([3])), /aten::index\.Tensor: index 3 is out of bounds for dimension 0 with size 2/);
  assert.throws(() => t.index(0, 0, 0), /index: too many indices \(3\) for a 2-d tensor/);
  assert.throws(() => t.index('a:b'), /index: bad slice 'a:b'/);
  assert.throws(() => F.crossEntropy(torch.ones(2, 3), torch.tensor([0, 5])), /aten::cross_entropy_loss: Target 5 is out of bounds/);
});

test('in-place op on a leaf that requires grad', () => {
  const leaf = torch.ones(2, { requiresGrad: true });
  const msg = /a leaf Variable that requires grad is being used in an in-place operation/;
  assert.throws(() => leaf.add_(1), msg);
  assert.throws(() => leaf.mul_(torch.ones(2)), msg);
  assert.throws(() => leaf.zero_(), msg);
  assert.throws(() => leaf.copy_(torch.zeros(2)), msg);
  assert.throws(() => leaf.indexPut_([0], 5), /a view of a leaf Variable that requires grad is being used in an in-place operation/);
  assert.deepEqual(leaf.detach().toArray(), [1, 1], 'a refused in-place op must not have written');
  // the sanctioned way (what optimizers do) works
  torch.noGrad(() => leaf.add_(1));
  assert.deepEqual(leaf.detach().toArray(), [2, 2]);
  assert.throws(() => torch.ones(2, { dtype: 'int64', requiresGrad: true }), /Only Tensors of floating point and complex dtype can require gradients/);
});

test('backward on a non-scalar without a gradient; other autograd misuse', () => {
  const x = torch.ones(2, { requiresGrad: true });
  assert.throws(() => x.mul(2).backward(), /backward: grad can be implicitly created only for scalar outputs/);
  assert.throws(() => x.mul(2).backward(torch.ones(3)), /backward: invalid gradient at index 0 - got \[3\] but expected shape compatible with \[2\]/);
  assert.throws(() => torch.ones(2).sum().backward(), /element 0 of tensors does not require grad and does not have a grad_fn/);
  const y = x.mul(x).sum();
  y.backward();
  assert.throws(() => y.backward(), /Trying to backward through the graph a second time/);
  assert.throws(() => torch.autograd.grad(torch.ones(2).sum(), torch.ones(2)), /autograd\.grad: element 0 of tensors does not require grad/);
  // with a gradient, a non-scalar backward works
  const z = torch.ones(2, { requiresGrad: true });
  z.mul(3).backward(torch.tensor([1, 2]).float());
  assert.deepEqual(z.grad!.toArray(), [3, 6]);
});

test('assigning a .grad of the wrong shape is refused', () => {
  const x = torch.ones(2, { requiresGrad: true });
  assert.throws(() => { x.grad = torch.ones(3); }, /grad.*(size|shape)/i);
});

test('double dispose is a no-op and never frees a reused handle', () => {
  const before = torch.memory().tensors;
  const a = torch.ones(5);
  assert.equal(torch.memory().tensors, before + 1);
  a.dispose();
  assert.equal(torch.memory().tensors, before);
  a.dispose(); // no throw
  torch.dispose(a);
  assert.equal(torch.memory().tensors, before);
  // a new tensor may take the freed slot; a stale dispose must not free it
  const b = torch.full([3], 4);
  a.dispose();
  assert.equal(b.isDisposed, false);
  assert.deepEqual(b.toArray(), [4, 4, 4]);
  b.dispose();
  assert.equal(torch.memory().tensors, before);
});

test('dispose inside a scope, then the scope ends', () => {
  const before = torch.memory().tensors;
  const out = torch.scope(() => {
    const a = torch.ones(3);
    const b = a.mul(2);
    a.dispose();
    a.dispose();
    const c = b.add(1);
    b.dispose();
    return c; // the scope must skip a and b and keep c
  });
  assert.deepEqual(out.toArray(), [3, 3, 3]);
  assert.equal(torch.memory().tensors, before + 1);
  // disposing the returned tensor inside a nested scope, then both scopes end
  torch.scope(() => {
    const inner = torch.scope(() => torch.ones(2));
    inner.dispose();
  });
  out.dispose();
  assert.equal(torch.memory().tensors, before);
});

test('torch.scope refuses an async function (and a non-function)', () => {
  const before = torch.memory().tensors;
  assert.throws(() => torch.scope(loose(async () => torch.ones(2))), /torch\.scope: fn returned a Promise; scopes are synchronous/);
  assert.throws(() => torch.scope(loose(() => ({ then() {} }))), /torch\.scope: fn returned a Promise/);
  assert.throws(() => torch.scope(loose(5)), /torch\.scope: expected a function/);
  assert.equal(torch.inScope(), false, 'a refused scope must be closed');
  assert.equal(torch.memory().tensors, before, 'tensors made before the refusal are freed');
  // a throwing fn closes its scope too
  assert.throws(() => torch.scope(() => { torch.ones(2); throw new Error('boom'); }), /boom/);
  assert.equal(torch.inScope(), false);
  assert.equal(torch.memory().tensors, before);
});

test('setNumThreads(0) and manualSeed(-1)', () => {
  const threads = torch.getNumThreads();
  try {
    assert.throws(() => torch.setNumThreads(0), /setNumThreads: expected a positive integer/);
    assert.throws(() => torch.setNumThreads(-1), /setNumThreads: expected a positive integer/);
    assert.throws(() => torch.setNumThreads(loose('2')), /setNumThreads: expected a positive integer/);
    assert.equal(torch.getNumThreads(), threads);
  } finally {
    torch.setNumThreads(threads);
  }
  assert.throws(() => torch.manualSeed(-1), /manualSeed: expected a non-negative integer seed.*got -1/);
  assert.throws(() => torch.manualSeed(1.5), /manualSeed: expected a non-negative integer seed/);
  assert.throws(() => torch.manualSeed(loose('x')), /manualSeed: expected a non-negative integer seed/);
  torch.manualSeed(7);
  assert.equal(torch.initialSeed(), 7);
});

test('setNumThreads(1.5) is refused', () => {
  const threads = torch.getNumThreads();
  try {
    assert.throws(() => torch.setNumThreads(1.5), /setNumThreads: expected a positive integer/);
    assert.equal(torch.getNumThreads(), threads);
  } finally {
    torch.setNumThreads(threads);
  }
});

test('safetensors.loadFile: missing file, garbage, corrupt header, truncated data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arsenal-bad-input-'));
  try {
    const missing = join(dir, 'nope.safetensors');
    assert.throws(() => torch.safetensors.loadFile(missing), /safetensors: cannot read '.*nope\.safetensors': ENOENT/);
    assert.throws(() => torch.safetensors.loadFile(dir), /safetensors: cannot read '.*': EISDIR/);

    const garbage = join(dir, 'garbage.safetensors');
    writeFileSync(garbage, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09]));
    assert.throws(() => torch.safetensors.loadFile(garbage), /garbage\.safetensors: not a safetensors file \(header length \d+ exceeds the file\)/);

    const tiny = join(dir, 'tiny.safetensors');
    writeFileSync(tiny, Buffer.from([1, 2, 3]));
    assert.throws(() => torch.safetensors.loadFile(tiny), /tiny\.safetensors: not a safetensors file \(shorter than its 8-byte header length\)/);

    const badJson = join(dir, 'badjson.safetensors');
    const text = '{"a":notjson}';
    const b1 = Buffer.alloc(8 + text.length);
    b1.writeBigUInt64LE(BigInt(text.length));
    b1.write(text, 8);
    writeFileSync(badJson, b1);
    assert.throws(() => torch.safetensors.loadFile(badJson), /badjson\.safetensors: corrupt safetensors header/);

    // A valid header whose tensor runs past the end of the file.
    const trunc = join(dir, 'trunc.safetensors');
    const hdr = JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } });
    const b2 = Buffer.alloc(8 + hdr.length + 8);
    b2.writeBigUInt64LE(BigInt(hdr.length));
    b2.write(hdr, 8);
    writeFileSync(trunc, b2);
    assert.throws(() => torch.safetensors.loadFile(trunc), /trunc\.safetensors: tensor 'w' has data_offsets \[0,16\] that do not fit/);

    const badDtype = join(dir, 'dtype.safetensors');
    const hdr2 = JSON.stringify({ w: { dtype: 'F99', shape: [1], data_offsets: [0, 4] } });
    const b3 = Buffer.alloc(8 + hdr2.length + 4);
    b3.writeBigUInt64LE(BigInt(hdr2.length));
    b3.write(hdr2, 8);
    writeFileSync(badDtype, b3);
    assert.throws(() => torch.safetensors.loadFile(badDtype), /tensor 'w' has unsupported dtype 'F99'/);

    // and a good file round-trips in the same folder
    const good = join(dir, 'good.safetensors');
    torch.safetensors.saveFile({ w: torch.arange(4).float() }, good);
    assert.deepEqual(torch.safetensors.loadFile(good).w.toArray(), [0, 1, 2, 3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('failed calls leak no native tensors', () => {
  const before = torch.memory().tensors;
  torch.scope(() => {
    const t = torch.ones(2, 3);
    const attempts: (() => unknown)[] = [
      () => t.matmul(torch.ones(4, 2)),
      () => t.view(4, 2),
      () => t.index(':', '1:', 9),
      () => t.index('0:1', torch.tensor([5])),
      () => t.gather(1, torch.tensor([[9]])),
      () => torch.ops.callOp('aten::add.Tensor', t),
      () => F.conv2d(torch.ones(1, 3, 5, 5), torch.ones(4, 2, 3, 3)),
      () => torch.tensor([[1], [2, 3]]),
    ];
    for (const f of attempts) assert.throws(f);
  });
  assert.equal(torch.memory().tensors, before);
});

test('after all of that, the process still works', () => {
  const a = torch.tensor([[1, 2], [3, 4]]).float();
  const b = torch.tensor([[5, 6], [7, 8]]).float();
  assert.deepEqual(a.matmul(b).toArray(), [[19, 22], [43, 50]]);
  const x = torch.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
  x.pow(2).sum().backward();
  assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
  assert.equal(torch.inScope(), false);
});
