// safetensors: round trips for every dtype, metadata, atomic writes, the
// header layout, and a fixture written by PyTorch (test/fixtures/python.safetensors,
// made by test/fixtures/make_safetensors_fixture.py without the safetensors package).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torch, Tensor } from 'arsenal';

type DType = (typeof torch.DTYPES)[number];
const ALL: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];
const ST_NAME: Record<DType, string> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

// dist/test/safetensors.test.js -> repo root
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'python.safetensors');

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'arsenal-st-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function bytesOf(t: Tensor): Buffer {
  const a = t.dataSync();
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A tensor of `shape` and `dtype` with varied values (negatives, fractions, extremes where the dtype has them). */
function sample(dtype: DType, shape: number[]): Tensor {
  return torch.scope(() => {
    const n = shape.reduce((a, b) => a * b, 1);
    const base = torch.linspace(-3.7, 250.3, Math.max(n, 1)).narrow(0, 0, n);
    let t: Tensor;
    if (dtype === 'bool') t = base.gt(100);
    else if (dtype === 'uint8') t = base.clamp(0, 255).to('uint8');
    else if (dtype === 'int8') t = base.sub(120).clamp(-128, 127).to('int8');
    else if (dtype === 'int16') t = base.mul(-130).to('int16');
    else if (dtype === 'int32') t = base.mul(8e6).to('int32');
    else if (dtype === 'int64') t = base.to('float64').mul(3.3e16).to('int64');
    else t = base.to('float64').div(7).to(dtype);
    return t.reshape(shape);
  });
}

function assertSameTensor(got: Tensor, want: Tensor, what: string): void {
  assert.equal(got.dtype, want.dtype, `${what}: dtype`);
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  assert.ok(bytesOf(got).equals(bytesOf(want)), `${what}: bytes differ`);
}

function readHeader(buf: Buffer): { n: number; header: Record<string, any> } {
  const n = Number(buf.readBigUInt64LE(0));
  return { n, header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) };
}

// ---- round trips ---------------------------------------------------------------------------------------

test('every dtype round-trips through a file, for shapes [], [0,3], [5] and [2,3,4]', () => {
  torch.scope(() => {
    const tensors: Record<string, Tensor> = {};
    for (const d of ALL) {
      for (const shape of [[], [0, 3], [5], [2, 3, 4]]) tensors[`${d}_${shape.join('x') || 'scalar'}`] = sample(d, shape);
    }
    // The samples really are varied (so equal bytes mean something).
    assert.ok(new Set(tensors['float32_2x3x4'].toArray().flat(2)).size > 20);
    assert.ok(new Set(tensors['int64_2x3x4'].toArray().flat(2)).size > 20);
    assert.deepEqual(new Set(tensors['bool_2x3x4'].toArray().flat(2)), new Set([true, false]));
    const path = join(dir, 'all.safetensors');
    torch.safetensors.saveFile(tensors, path);
    const back = torch.safetensors.loadFile(path);
    assert.deepEqual(Object.keys(back).sort(), Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(tensors)) assertSameTensor(back[k], t, k);
    // The header names the dtypes as the format does.
    const { header } = readHeader(readFileSync(path));
    for (const d of ALL) {
      assert.equal(header[`${d}_5`].dtype, ST_NAME[d]);
      assert.deepEqual(header[`${d}_scalar`].shape, []);
      assert.deepEqual(header[`${d}_0x3`].shape, [0, 3]);
    }
  });
});

test('special float values survive bit for bit (-0, ±inf, NaN, subnormals)', () => {
  torch.scope(() => {
    const f32 = torch.tensor(new Float32Array([-0, Infinity, -Infinity, NaN, 1e-45, 3.4028234663852886e38, 1 / 3]));
    const f64 = torch.tensor(new Float64Array([-0, Infinity, -Infinity, NaN, 5e-324, 1.7976931348623157e308, 1 / 3]));
    const f16 = torch.tensor(new Uint16Array([0x8000, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x7bff]), { dtype: 'float16' });
    const bf16 = torch.tensor(new Uint16Array([0x8000, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x3a83]), { dtype: 'bfloat16' });
    const buf = torch.safetensors.serialize({ f32, f64, f16, bf16 });
    const { tensors } = torch.safetensors.deserialize(buf);
    assertSameTensor(tensors.f32, f32, 'f32');
    assertSameTensor(tensors.f64, f64, 'f64');
    assertSameTensor(tensors.f16, f16, 'f16');
    assertSameTensor(tensors.bf16, bf16, 'bf16');
    assert.ok(Object.is(tensors.f32.toArray()[0], -0));
    assert.deepEqual(Array.from(tensors.f16.dataSync() as Uint16Array), [0x8000, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x7bff]);
  });
});

test('non-contiguous tensors and views are written as their logical (row-major) contents', () => {
  torch.scope(() => {
    const base = torch.arange(12).reshape(3, 4).to('float32');
    const tr = base.t(); // [4,3], non-contiguous
    const sl = base.index(':', '1::2'); // [3,2] strided view
    assert.equal(tr.isContiguous(), false);
    const { tensors } = torch.safetensors.deserialize(torch.safetensors.serialize({ tr, sl }));
    assert.deepEqual(tensors.tr.toArray(), tr.toArray());
    assert.deepEqual(tensors.sl.toArray(), [[1, 3], [5, 7], [9, 11]]);
    const { header } = readHeader(torch.safetensors.serialize({ sl }));
    assert.deepEqual(header.sl.data_offsets, [0, 24], 'only the view\'s own elements are written');
  });
});

test('loaded tensors own their memory (independent of the file buffer and of each other)', () => {
  torch.scope(() => {
    const buf = torch.safetensors.serialize({ a: torch.ones(4), b: torch.zeros(4) });
    const { tensors } = torch.safetensors.deserialize(buf);
    buf.fill(0xff);
    assert.deepEqual(tensors.a.toArray(), [1, 1, 1, 1]);
    tensors.a.fill_(7);
    assert.deepEqual(tensors.b.toArray(), [0, 0, 0, 0]);
  });
});

test('metadata round-trips; non-string metadata and a tensor named __metadata__ are refused', () => {
  torch.scope(() => {
    const path = join(dir, 'meta.safetensors');
    const meta = { format: 'pt', epoch: '12', note: 'ünïcode ✓ "quoted"' };
    torch.safetensors.saveFile({ w: torch.ones(2) }, path, meta);
    const { tensors, metadata } = torch.safetensors.loadFileWithMetadata(path);
    assert.deepEqual(metadata, meta);
    assert.deepEqual(tensors.w.toArray(), [1, 1]);
    assert.deepEqual(readHeader(readFileSync(path)).header.__metadata__, meta);
    // no metadata: none in the header, {} when read
    torch.safetensors.saveFile({ w: torch.ones(2) }, path);
    assert.equal('__metadata__' in readHeader(readFileSync(path)).header, false);
    assert.deepEqual(torch.safetensors.loadFileWithMetadata(path).metadata, {});
    assert.throws(() => torch.safetensors.serialize({ w: torch.ones(1) }, { epoch: 3 } as unknown as Record<string, string>), /metadata/);
    assert.throws(() => torch.safetensors.serialize({ __metadata__: torch.ones(1) }), /__metadata__/);
  });
});

test('a Map of tensors can be saved', () => {
  torch.scope(() => {
    const m = new Map<string, Tensor>([['x.weight', torch.ones(2, 2)], ['x.bias', torch.zeros(2)]]);
    const { tensors } = torch.safetensors.deserialize(torch.safetensors.serialize(m));
    assert.deepEqual(Object.keys(tensors).sort(), ['x.bias', 'x.weight']);
    assert.deepEqual(tensors['x.weight'].toArray(), [[1, 1], [1, 1]]);
  });
});

// ---- the file and header layout ------------------------------------------------------------------------------

test('the header is 8-byte aligned, offsets are contiguous and cover the data exactly', () => {
  torch.scope(() => {
    // Odd-sized pieces (1-byte and 2-byte dtypes, odd counts) so alignment padding is needed.
    for (const meta of [undefined, { a: 'x' }, { a: 'xy' }, { a: 'xyz' }, { a: 'xyzw' }, { a: '12345' }, { a: '123456' }, { a: '1234567' }]) {
      const tensors = { u: torch.ones(3, { dtype: 'uint8' }), h: torch.ones(5, { dtype: 'float16' }), d: torch.ones(3, { dtype: 'float64' }) };
      const buf = torch.safetensors.serialize(tensors, meta);
      const { n, header } = readHeader(buf);
      assert.equal((8 + n) % 8, 0, `data starts at ${8 + n} for metadata ${JSON.stringify(meta)}`);
      assert.match(buf.subarray(8, 8 + n).toString('utf8'), /^\{.*\} *$/, 'padding is trailing spaces');
      const spans = Object.entries(header)
        .filter(([k]) => k !== '__metadata__')
        .map(([, v]) => v.data_offsets as [number, number])
        .sort((a, b) => a[0] - b[0]);
      let end = 0;
      for (const [a, b] of spans) {
        assert.equal(a, end, 'offsets are contiguous from 0');
        end = b;
      }
      assert.equal(buf.byteLength, 8 + n + end, 'the data fills the rest of the file');
    }
  });
});

test('saveFile writes atomically: no temporary file left, an existing file is replaced (renamed over)', () => {
  torch.scope(() => {
    const sub = mkdtempSync(join(dir, 'atomic-'));
    const path = join(sub, 'model.safetensors');
    writeFileSync(path, Buffer.alloc(100_000, 0x41)); // an older, bigger file
    const inoBefore = statSync(path).ino;
    const tensors = { w: torch.arange(10).to('float32') };
    torch.safetensors.saveFile(tensors, path);
    assert.deepEqual(readdirSync(sub), ['model.safetensors'], 'no temporary file is left behind');
    const written = readFileSync(path);
    assert.ok(written.equals(torch.safetensors.serialize(tensors)), 'the file holds exactly the new contents (old bytes gone)');
    assert.notEqual(statSync(path).ino, inoBefore, 'the file was replaced by a rename, not rewritten in place');
    assert.deepEqual(torch.safetensors.loadFile(path).w.toArray(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

test('a failed save leaves the existing file untouched and no temporary file', () => {
  torch.scope(() => {
    const sub = mkdtempSync(join(dir, 'fail-'));
    const path = join(sub, 'ckpt.safetensors');
    torch.safetensors.saveFile({ w: torch.ones(3) }, path);
    const before = readFileSync(path);
    const dead = torch.ones(2);
    dead.dispose();
    assert.throws(() => torch.safetensors.saveFile({ a: torch.zeros(2), b: dead }, path), /disposed/);
    assert.ok(readFileSync(path).equals(before));
    assert.deepEqual(readdirSync(sub), ['ckpt.safetensors']);
    // a folder that does not exist: an error, nothing created
    const missing = join(sub, 'no', 'such', 'dir', 'x.safetensors');
    assert.throws(() => torch.safetensors.saveFile({ w: torch.ones(1) }, missing));
    assert.equal(existsSync(join(sub, 'no')), false);
    assert.deepEqual(readdirSync(sub), ['ckpt.safetensors']);
  });
});

test('bad files give errors that name the file', () => {
  torch.scope(() => {
    const path = join(dir, 'bad.safetensors');
    assert.throws(() => torch.safetensors.loadFile(join(dir, 'missing.safetensors')), /missing\.safetensors/);
    writeFileSync(path, Buffer.from([1, 2, 3]));
    assert.throws(() => torch.safetensors.loadFile(path), /bad\.safetensors/);
    const good = torch.safetensors.serialize({ w: torch.ones(4) });
    writeFileSync(path, good.subarray(0, good.byteLength - 1)); // truncated data
    assert.throws(() => torch.safetensors.loadFile(path), /bad\.safetensors.*'w'/);
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(1n << 40n, 0); // header length past the end
    writeFileSync(path, huge);
    assert.throws(() => torch.safetensors.loadFile(path), /bad\.safetensors.*header/);
    const garbled = Buffer.from(good);
    garbled[8] = 0x5b; // '[' : not a JSON object any more
    writeFileSync(path, garbled);
    assert.throws(() => torch.safetensors.loadFile(path), /bad\.safetensors/);
  });
});

// ---- a file written by PyTorch ------------------------------------------------------------------------------

test('reads the fixture written by PyTorch (make_safetensors_fixture.py) with exact values', () => {
  torch.scope(() => {
    const { tensors: t, metadata } = torch.safetensors.loadFileWithMetadata(FIXTURE);
    assert.equal(metadata.format, 'pt');
    assert.equal(metadata.source, 'make_safetensors_fixture.py');
    assert.deepEqual(Object.keys(t).sort(), [
      'bf16', 'bool', 'empty', 'f16', 'f32', 'f32_special', 'f64', 'i16', 'i32', 'i32_limits', 'i64', 'i8', 'scalar', 'u8',
    ]);
    const dtypes = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.dtype]));
    assert.deepEqual(dtypes, {
      bf16: 'bfloat16', bool: 'bool', empty: 'int64', f16: 'float16', f32: 'float32', f32_special: 'float32', f64: 'float64',
      i16: 'int16', i32: 'int32', i32_limits: 'int32', i64: 'int64', i8: 'int8', scalar: 'float32', u8: 'uint8',
    });

    // float32: k/3 as PyTorch rounds it
    assert.deepEqual(t.f32.toArray(), [
      [0.0, 0.3333333432674408, 0.6666666865348816],
      [1.0, 1.3333333730697632, 1.6666666269302368],
    ]);
    assert.deepEqual(t.f32_special.toArray(), [0.3333333432674408, -0, Infinity, -Infinity, 1.401298464324817e-45, 3.4028234663852886e38]);
    assert.deepEqual(t.f64.toArray(), [[1 / 3, -0], [1e308, 5e-324], [Math.PI, -2.5]]);
    // float16 (compared as float32): 1/3 -> 0.333251953125, 65504 max, 2^-14 min normal, 2^-24 min subnormal
    assert.deepEqual(t.f16.float().toArray(), [0, 1, -2, 65504, 0.333251953125, 2 ** -14, 2 ** -24, -0]);
    assert.deepEqual(Array.from(t.f16.dataSync() as Uint16Array), [0x0000, 0x3c00, 0xc000, 0x7bff, 0x3555, 0x0400, 0x0001, 0x8000]);
    // bfloat16: 1e-3 -> 0.00099945068359375 (0x3A83), 1/3 -> 0.333984375, pi -> 3.140625, 65504 -> 65536
    assert.deepEqual(t.bf16.float().toArray(), [[0.00099945068359375, 0.333984375, 3.140625], [-2.5, 65536, -0]]);
    assert.equal(t.bf16.dataSync()[0], 0x3a83);
    // int64 beyond 2^53, compared exactly as BigInt
    assert.deepEqual(Array.from(t.i64.dataSync() as BigInt64Array), [0n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 123456789n]);
    assert.deepEqual(t.i32.toArray(), [[-3, -2], [-1, 0], [1, 2]]);
    assert.deepEqual(t.i32_limits.toArray(), [-2147483648, 2147483647]);
    assert.deepEqual(t.i16.toArray(), [-32768, -1, 0, 32767]);
    assert.deepEqual(t.i8.toArray(), [-128, -1, 0, 127]);
    assert.deepEqual(t.u8.toArray(), [0, 1, 127, 128, 255]);
    assert.deepEqual(t.bool.toArray(), [[true, false, true], [false, false, true]]);
    assert.deepEqual(t.scalar.shape, []);
    assert.equal(t.scalar.item(), 2.5);
    assert.deepEqual(t.empty.shape, [0, 3]);
    assert.equal(t.empty.numel(), 0);
    // Loaded tensors compute like any other.
    assert.equal(t.i32.sum().item(), -3);
    assert.equal(t.bool.sum().item(), 3);
  });
});

test('re-saving the PyTorch fixture reproduces the same tensors and metadata', () => {
  torch.scope(() => {
    const { tensors, metadata } = torch.safetensors.loadFileWithMetadata(FIXTURE);
    const again = torch.safetensors.deserialize(torch.safetensors.serialize(tensors, metadata));
    assert.deepEqual(again.metadata, metadata);
    for (const [k, v] of Object.entries(tensors)) assertSameTensor(again.tensors[k], v, k);
    // Same data section as PyTorch's file: both sort names and pack tightly.
    const py = readFileSync(FIXTURE);
    const ours = torch.safetensors.serialize(tensors, metadata);
    const pyStart = 8 + readHeader(py).n;
    const ourStart = 8 + readHeader(ours).n;
    assert.ok(py.subarray(pyStart).equals(ours.subarray(ourStart)), 'data sections differ');
  });
});
