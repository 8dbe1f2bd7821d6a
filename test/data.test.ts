// The data layer: the seeded generator, IDX files, Fashion-MNIST, datasets,
// the loader's order and prefetching, and image folders decoded by sharp.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { torch } from 'arsenal';
import * as data from '../src/data/index.js';

const { Rng, DataLoader, TensorDataset, Subset } = data;

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'arsenal-data-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

// ---- Rng ------------------------------------------------------------------------------------
describe('Rng', () => {
  test('same seed, same stream; different seeds, different streams', () => {
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return [r.random(), r.int(0, 1000), r.normal(), r.uniform(-3, 5), r.gamma(0.5), r.beta(0.4, 0.4), r.bernoulli(0.5) ? 1 : 0, ...r.permutation(8)];
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
    // Seeds that differ only in the high word, and negative seeds, are distinct streams.
    assert.notDeepEqual(draw(1), draw(1 + 2 ** 32));
    assert.notDeepEqual(draw(-1), draw(2 ** 32 - 1));
    assert.notEqual(new Rng(0).random(), new Rng(1).random());
    // xoshiro128** is fixed: a change of algorithm or seeding would change every run's data order.
    assert.deepEqual(new Rng(42).getState(), new Rng(42).getState());
    assert.throws(() => new Rng(1.5), /safe integer/);
    assert.throws(() => new Rng(NaN), /safe integer/);
  });

  test('getState / setState resumes the stream exactly', () => {
    const r = new Rng(7);
    for (let i = 0; i < 10; i++) r.random();
    const s = r.getState();
    assert.equal(s.length, 4);
    assert.ok(s.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32));
    const a = [r.random(), r.normal(), r.int(0, 10), r.beta(2, 3)];
    const r2 = new Rng(999);
    r2.setState(JSON.parse(JSON.stringify(s)));
    assert.deepEqual([r2.random(), r2.normal(), r2.int(0, 10), r2.beta(2, 3)], a);
    assert.throws(() => r2.setState([1, 2, 3]), /four unsigned 32-bit/);
    assert.throws(() => r2.setState([0, 0, 0, 0]), /all-zero/);
    assert.throws(() => r2.setState([1, 2, 3, -1]), /four unsigned 32-bit/);
  });

  test('ranges: random, uniform, int, bernoulli, normal', () => {
    const r = new Rng(1);
    const n = 20000;
    let sum = 0;
    const hits = new Array(7).fill(0);
    let ones = 0;
    let s1 = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = r.random();
      assert.ok(x >= 0 && x < 1);
      sum += x;
      const u = r.uniform(-2, 3);
      assert.ok(u >= -2 && u < 3);
      const k = r.int(-3, 4);
      assert.ok(Number.isInteger(k) && k >= -3 && k < 4, `int out of range: ${k}`);
      hits[k + 3]++;
      if (r.bernoulli(0.3)) ones++;
      const z = r.normal(1, 2);
      s1 += z;
      s2 += z * z;
    }
    assert.ok(Math.abs(sum / n - 0.5) < 0.01, `mean of random() ${sum / n}`);
    assert.ok(hits.every((h) => Math.abs(h / n - 1 / 7) < 0.01), `int(-3, 4) frequencies ${hits}`);
    assert.ok(Math.abs(ones / n - 0.3) < 0.015, `bernoulli(0.3) frequency ${ones / n}`);
    const mean = s1 / n, std = Math.sqrt(s2 / n - mean * mean);
    assert.ok(Math.abs(mean - 1) < 0.05 && Math.abs(std - 2) < 0.05, `normal(1, 2): mean ${mean}, std ${std}`);
    assert.equal(r.int(5, 6), 5);
    assert.throws(() => r.int(3, 3), /lo < hi/);
    assert.throws(() => r.int(0, 2.5), /safe integer/);
    assert.throws(() => r.uniform(2, 1), /lo <= hi/);
    assert.throws(() => r.bernoulli(1.5), /\[0, 1\]/);
    assert.throws(() => r.normal(0, -1), /std/);
  });

  test('permutation is a permutation, and shuffles', () => {
    const r = new Rng(3);
    for (const n of [0, 1, 2, 10, 1000]) {
      const p = r.permutation(n);
      assert.ok(p instanceof Int32Array);
      assert.equal(p.length, n);
      assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
    }
    const p = Array.from(r.permutation(1000));
    assert.ok(p.some((x, i) => x !== i), 'a permutation of 1000 left everything in place');
    // Uniform: every element lands in every position about equally often.
    const pos = Array.from({ length: 4 }, () => new Array(4).fill(0));
    for (let t = 0; t < 8000; t++) r.permutation(4).forEach((x, i) => pos[x][i]++);
    for (const row of pos) for (const c of row) assert.ok(Math.abs(c / 8000 - 0.25) < 0.03, `position frequencies ${JSON.stringify(pos)}`);
    assert.throws(() => r.permutation(-1), /\[0, 2\^31\)/);
  });

  test('gamma and beta have the right means (MixUp: λ ~ Beta(α, α))', () => {
    const r = new Rng(11);
    const n = 20000;
    for (const [a, b] of [[2, 5], [0.4, 0.4], [1, 1], [0.2, 3]]) {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const x = r.beta(a, b);
        assert.ok(x >= 0 && x <= 1);
        s += x;
      }
      const want = a / (a + b);
      assert.ok(Math.abs(s / n - want) < 0.01, `Beta(${a}, ${b}) mean ${s / n}, expected ${want}`);
    }
    for (const k of [0.3, 1, 4.5]) {
      let s = 0, s2 = 0;
      for (let i = 0; i < n; i++) {
        const g = r.gamma(k);
        assert.ok(g >= 0);
        s += g;
        s2 += g * g;
      }
      const mean = s / n, variance = s2 / n - mean * mean;
      assert.ok(Math.abs(mean - k) < 0.05 * Math.max(1, k), `Gamma(${k}) mean ${mean}`);
      assert.ok(Math.abs(variance - k) < 0.1 * Math.max(1, k), `Gamma(${k}) variance ${variance}`);
    }
    assert.throws(() => r.gamma(0), /shape must be > 0/);
    assert.throws(() => r.beta(1, -1), /must be > 0/);
  });

  test('derive: deterministic, different for every stream, order-sensitive', () => {
    assert.equal(Rng.derive(42, 3, 1), Rng.derive(42, 3, 1));
    const seen = new Set<number>();
    for (let e = 0; e < 50; e++) for (let w = 0; w < 8; w++) seen.add(Rng.derive(42, e, w));
    assert.equal(seen.size, 400);
    assert.notEqual(Rng.derive(42, 1, 2), Rng.derive(42, 2, 1));
    assert.notEqual(Rng.derive(42), Rng.derive(42, 0));
    assert.notEqual(Rng.derive(42, 0), Rng.derive(43, 0));
    const d = Rng.derive(-5, 2 ** 40);
    assert.ok(Number.isSafeInteger(d) && d >= 0);
    assert.notDeepEqual(new Rng(Rng.derive(42, 0)).permutation(20), new Rng(Rng.derive(42, 1)).permutation(20));
    assert.throws(() => Rng.derive(42, 0.5), /stream 0/);
  });
});

// ---- IDX ------------------------------------------------------------------------------------------
function idxBytes(type: number, shape: number[], elementBytes: Buffer): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = type;
  header[3] = shape.length;
  shape.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, elementBytes]);
}

describe('IDX files', () => {
  test('uint8, raw and gzip', () => {
    const px = Buffer.from([0, 1, 2, 127, 128, 255]);
    const raw = join(dir, 'u8-idx3-ubyte');
    const gz = join(dir, 'u8-idx3-ubyte.gz');
    writeFileSync(raw, idxBytes(0x08, [1, 2, 3], px));
    writeFileSync(gz, gzipSync(idxBytes(0x08, [1, 2, 3], px)));
    for (const p of [raw, gz]) {
      const r = data.readIdx(p);
      assert.equal(r.dtype, 'uint8');
      assert.deepEqual(r.shape, [1, 2, 3]);
      assert.deepEqual([...r.data], [...px]);
      const t = data.idxTensor(p);
      assert.equal(t.dtype, 'uint8');
      assert.deepEqual(t.toArray(), [[[0, 1, 2], [127, 128, 255]]]);
      t.dispose();
    }
  });

  test('big-endian int32, int16, float32, float64 come out little-endian', () => {
    const i32 = [1, -2, 0x01020304, -0x7fffffff, 0];
    const b32 = Buffer.alloc(4 * i32.length);
    i32.forEach((v, i) => b32.writeInt32BE(v, 4 * i));
    const p32 = join(dir, 'i32.idx');
    writeFileSync(p32, idxBytes(0x0c, [5], b32));
    writeFileSync(p32 + '.gz', gzipSync(idxBytes(0x0c, [5], b32)));
    for (const p of [p32, p32 + '.gz']) {
      const r = data.readIdx(p);
      assert.equal(r.dtype, 'int32');
      assert.deepEqual(Array.from(new Int32Array(r.data.buffer, r.data.byteOffset, 5)), i32);
      const t = data.idxTensor(p);
      assert.deepEqual(t.toArray(), i32);
      t.dispose();
    }
    const i16 = [-300, 7, 32767];
    const b16 = Buffer.alloc(6);
    i16.forEach((v, i) => b16.writeInt16BE(v, 2 * i));
    writeFileSync(join(dir, 'i16.idx'), idxBytes(0x0b, [3, 1], b16));
    const t16 = data.idxTensor(join(dir, 'i16.idx'));
    assert.equal(t16.dtype, 'int16');
    assert.deepEqual(t16.toArray(), [[-300], [7], [32767]]);
    const f32 = [1.5, -0.25, 65536.125];
    const bf = Buffer.alloc(12);
    f32.forEach((v, i) => bf.writeFloatBE(v, 4 * i));
    writeFileSync(join(dir, 'f32.idx'), idxBytes(0x0d, [3], bf));
    const tf = data.idxTensor(join(dir, 'f32.idx'));
    assert.equal(tf.dtype, 'float32');
    assert.deepEqual(tf.toArray(), f32);
    const bd = Buffer.alloc(16);
    bd.writeDoubleBE(Math.PI, 0);
    bd.writeDoubleBE(-1e-300, 8);
    writeFileSync(join(dir, 'f64.idx'), idxBytes(0x0e, [2], bd));
    const td = data.idxTensor(join(dir, 'f64.idx'));
    assert.deepEqual(td.toArray(), [Math.PI, -1e-300]);
    const s8 = Buffer.from([0xff, 0x80, 0x7f]);
    writeFileSync(join(dir, 'i8.idx'), idxBytes(0x09, [3], s8));
    assert.deepEqual(data.idxTensor(join(dir, 'i8.idx')).toArray(), [-1, -128, 127]);
    for (const t of [t16, tf, td]) t.dispose();
  });

  test('missing, truncated, corrupt and mismatched files: errors name the file', () => {
    const good = idxBytes(0x08, [2, 3], Buffer.alloc(6, 7));
    const cases: [string, Buffer | null, RegExp][] = [
      ['missing.idx', null, /no such file/],
      ['empty.idx', Buffer.alloc(0), /truncated/],
      ['short-header.idx', good.subarray(0, 6), /truncated.*header/],
      ['short-data.idx', good.subarray(0, good.length - 1), /truncated.*needs 6 data bytes, the file has 5/],
      ['long-data.idx', Buffer.concat([good, Buffer.from([1])]), /too long/],
      ['bad-magic.idx', Buffer.from([1, 0, 8, 1, 0, 0, 0, 1, 5]), /not an IDX file: bad magic 01 00 08 01/],
      ['bad-type.idx', Buffer.from([0, 0, 0x0a, 1, 0, 0, 0, 1, 5]), /bad magic/],
      ['int32-odd.idx', idxBytes(0x0c, [2], Buffer.alloc(7)), /needs 8 data bytes/],
      ['truncated.gz', gzipSync(good).subarray(0, 12), /not a valid gzip file/],
      ['gz-of-garbage.gz', gzipSync(Buffer.from('hello, world')), /bad magic/],
    ];
    for (const [name, bytes, re] of cases) {
      const p = join(dir, name);
      if (bytes) writeFileSync(p, bytes);
      assert.throws(() => data.readIdx(p), (e: Error) => {
        assert.ok(e.message.includes(p), `message should name ${p}: ${e.message}`);
        assert.match(e.message, re);
        return true;
      });
      assert.throws(() => data.idxTensor(p), (e: Error) => e.message.includes(p));
    }
    assert.throws(() => data.readIdx(dir), /not a file/);
  });
});

// ---- Fashion-MNIST ------------------------------------------------------------------------------
describe('Fashion-MNIST', () => {
  let train: data.TensorDataset;
  let testSet: data.TensorDataset;
  before(() => {
    train = data.fashionMnist({ split: 'train' });
    testSet = data.fashionMnist({ split: 'test' });
  });
  after(() => {
    train?.dispose();
    testSet?.dispose();
  });

  test('shapes, dtypes, classes, counts', () => {
    assert.deepEqual(data.FASHION_MNIST_CLASSES, ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    for (const [ds, n] of [[train, 60000], [testSet, 10000]] as const) {
      assert.equal(ds.length, n);
      assert.deepEqual(ds.images.shape, [n, 1, 28, 28]);
      assert.equal(ds.images.dtype, 'uint8');
      assert.deepEqual(ds.labels.shape, [n]);
      assert.equal(ds.labels.dtype, 'int64');
      assert.equal(ds.labels.min().item(), 0);
      assert.equal(ds.labels.max().item(), 9);
      assert.deepEqual(ds.classes, data.FASHION_MNIST_CLASSES);
      assert.deepEqual(ds.classCounts(), new Array(10).fill(n / 10));
    }
  });

  test('the real files: first labels and pixel sums (checked with Python)', () => {
    assert.deepEqual(train.labels.slice(0, 0, 10).toArray(), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert.deepEqual(testSet.labels.slice(0, 0, 10).toArray(), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    torch.scope(() => {
      assert.equal(testSet.images.sum().item(), 573469082);
      assert.equal(train.images.slice(0, 0, 1000).sum().item(), 56558003);
      assert.equal(train.images.select(0, 59999).sum().item(), 16684);
      assert.equal(train.images.select(0, 0).sum().item(), 76247);
    });
    const b = train.getBatch([0, 59999, 0]);
    assert.deepEqual(b.images.shape, [3, 1, 28, 28]);
    assert.deepEqual(b.labels.toArray(), [9, train.labels.select(0, 59999).item(), 9]);
    assert.equal(b.images.select(0, 0).sum().item(), 76247);
    assert.deepEqual(b.indices, [0, 59999, 0]);
    b.images.dispose();
    b.labels.dispose();
  });

  test('a missing folder says how to install the data', () => {
    const root = join(dir, 'no-fashion');
    assert.throws(() => data.fashionMnist({ root, split: 'train' }), (e: Error) => {
      assert.ok(e.message.includes(join(root, 'train-images-idx3-ubyte.gz')), e.message);
      assert.match(e.message, /apt-get install dataset-fashion-mnist/);
      assert.match(e.message, /ARSENAL_FASHION_MNIST/);
      return true;
    });
    assert.throws(() => data.fashionMnist({ split: 'val' as 'train' }), /split must be 'train' or 'test'/);
  });

  test('accepts uncompressed files and ARSENAL_FASHION_MNIST', () => {
    const root = join(dir, 'tiny-fashion');
    mkdirSync(root);
    writeFileSync(join(root, 't10k-images-idx3-ubyte'), idxBytes(0x08, [3, 28, 28], Buffer.alloc(3 * 784, 5)));
    writeFileSync(join(root, 't10k-labels-idx1-ubyte'), idxBytes(0x08, [3], Buffer.from([4, 0, 9])));
    const prev = process.env.ARSENAL_FASHION_MNIST;
    process.env.ARSENAL_FASHION_MNIST = root;
    try {
      const ds = data.fashionMnist({ split: 'test' });
      assert.equal(ds.length, 3);
      assert.deepEqual(ds.labels.toArray(), [4, 0, 9]);
      assert.deepEqual(ds.classCounts(), [1, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
      ds.dispose();
    } finally {
      if (prev === undefined) delete process.env.ARSENAL_FASHION_MNIST;
      else process.env.ARSENAL_FASHION_MNIST = prev;
    }
    writeFileSync(join(root, 'train-images-idx3-ubyte'), idxBytes(0x08, [2, 28, 28], Buffer.alloc(2 * 784)));
    writeFileSync(join(root, 'train-labels-idx1-ubyte'), idxBytes(0x08, [3], Buffer.from([1, 2, 3])));
    assert.throws(() => data.fashionMnist({ root, split: 'train' }), /2 images but .* has 3 labels/);
  });
});

// ---- TensorDataset, Subset ---------------------------------------------------------------------------
function toyDataset(n: number, classes = 3): data.TensorDataset {
  // Sample i: every pixel = i, label = i % classes.
  const images = torch.arange(n, undefined, 1, { dtype: 'uint8' }).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous();
  const labels = torch.tensor(BigInt64Array.from({ length: n }, (_, i) => BigInt(i % classes)));
  return new TensorDataset(images, labels, Array.from({ length: classes }, (_, k) => `c${k}`));
}

describe('TensorDataset and Subset', () => {
  test('getBatch selects images and labels; survives scopes; checks its input', () => {
    const ds = torch.scope(() => toyDataset(10)); // the dataset keeps its tensors past the scope
    assert.equal(ds.length, 10);
    assert.deepEqual(ds.classCounts(), [4, 3, 3]);
    const b = ds.getBatch([7, 2, 2]);
    assert.deepEqual(b.images.shape, [3, 1, 2, 2]);
    assert.deepEqual(b.images.toArray(), [[[[7, 7], [7, 7]]], [[[2, 2], [2, 2]]], [[[2, 2], [2, 2]]]]);
    assert.equal(b.labels.dtype, 'int64');
    assert.deepEqual(b.labels.toArray(), [1, 2, 2]);
    torch.dispose([b.images, b.labels]);
    assert.throws(() => ds.getBatch([10]), /index 10 .* not an integer in \[0, 10\)/);
    assert.throws(() => ds.getBatch([0.5]), /index 0.5/);
    const imgs = torch.zeros([4, 1, 2, 2]);
    assert.throws(() => new TensorDataset(imgs, torch.tensor([0, 1, 2]), ['a', 'b', 'c']), /4 images but 3 labels/);
    assert.throws(() => new TensorDataset(imgs, torch.tensor([0, 1, 2, 3]), ['a', 'b', 'c']), /label 3 of sample 3 is outside \[0, 3\)/);
    assert.throws(() => new TensorDataset(torch.zeros([4, 2, 2]), torch.tensor([0, 1, 2, 0]), ['a', 'b', 'c']), /\[N,C,H,W\]/);
    assert.throws(() => new TensorDataset(imgs, torch.tensor([0, 1, 2, 0], { dtype: 'int32' }), ['a', 'b', 'c']), /int64/);
    ds.dispose();
  });

  test('Subset maps indices and counts its own classes', async () => {
    const ds = toyDataset(10);
    const sub = new Subset(ds, [9, 8, 0, 3]);
    assert.equal(sub.length, 4);
    assert.deepEqual(sub.classes, ds.classes);
    assert.deepEqual(sub.classCounts(), [3, 0, 1]);
    const b = await sub.getBatch([1, 3]);
    assert.deepEqual(b.labels.toArray(), [2, 0]);
    assert.deepEqual(b.images.toArray().map((x: number[][][]) => x[0][0][0]), [8, 3]);
    assert.deepEqual(b.indices, [1, 3]);
    torch.dispose([b.images, b.labels]);
    assert.throws(() => sub.getBatch([4]), /not an integer in \[0, 4\)/);
    assert.throws(() => new Subset(ds, [10]), /index 10/);
    ds.dispose();
  });
});

// ---- DataLoader ---------------------------------------------------------------------------------------
/** A dataset of plain numbers whose getBatch is async and counts what is in flight. */
class SlowDataset implements data.Dataset {
  readonly classes = ['a', 'b'];
  inFlight = 0;
  maxInFlight = 0;
  calls = 0;
  constructor(readonly length: number, private delayMs = 0, private failAt = -1) {}
  classCounts(): number[] {
    return [Math.ceil(this.length / 2), Math.floor(this.length / 2)];
  }
  async getBatch(indices: number[]): Promise<data.Batch> {
    const call = this.calls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.inFlight--;
    if (call === this.failAt) throw new Error(`decode failed in batch ${call}`);
    const images = torch.tensor(Float32Array.from(indices), { shape: [indices.length, 1, 1, 1] });
    const labels = torch.tensor(BigInt64Array.from(indices, (i) => BigInt(i % 2)));
    return { images, labels, indices };
  }
}

async function epochIndices(loader: data.DataLoader): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of loader) {
    assert.deepEqual(b.images.toArray().flat(3), b.indices, 'the images are the samples the indices name');
    out.push(b.indices);
    torch.dispose([b.images, b.labels]);
  }
  return out;
}

describe('DataLoader', () => {
  test('every index once per epoch; batch sizes; dropLast', async () => {
    const ds = toyDataset(10);
    const loader = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 1 });
    assert.equal(loader.length, 3);
    const seen: number[] = [];
    const sizes: number[] = [];
    for await (const b of loader) {
      assert.equal(b.images.dtype, 'uint8');
      assert.deepEqual(b.labels.toArray(), b.indices.map((i) => i % 3));
      seen.push(...b.indices);
      sizes.push(b.images.shape[0]);
      torch.dispose([b.images, b.labels]);
    }
    assert.deepEqual(sizes, [4, 4, 2]);
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'shuffle: true left dataset order');

    const dl = new DataLoader(ds, { batchSize: 4, shuffle: true, dropLast: true, seed: 1 });
    assert.equal(dl.length, 2);
    const kept = (await epochIndices(new DataLoader(new SlowDataset(10), { batchSize: 4, shuffle: true, dropLast: true, seed: 1 })));
    assert.deepEqual(kept.map((b) => b.length), [4, 4]);
    assert.equal(new Set(kept.flat()).size, 8);
    // In order without shuffle.
    assert.deepEqual(await epochIndices(new DataLoader(new SlowDataset(5), { batchSize: 2 })), [[0, 1], [2, 3], [4]]);
    assert.equal(new DataLoader(ds, { batchSize: 20, dropLast: true }).length, 0);
    assert.deepEqual(await epochIndices(new DataLoader(new SlowDataset(5), { batchSize: 20, dropLast: true })), []);
    ds.dispose();
  });

  test('same seed same order; epochs differ; setEpoch(3) reproduces epoch 3', async () => {
    const ds = new SlowDataset(50);
    const a = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 5 });
    const epochs: number[][][] = [];
    for (let e = 0; e < 4; e++) epochs.push(await epochIndices(a));
    for (let e = 1; e < 4; e++) assert.notDeepEqual(epochs[e], epochs[0], `epoch ${e} has epoch 0's order`);
    for (const ep of epochs) assert.equal(new Set(ep.flat()).size, 50);
    // A fresh loader with the same seed replays the same epochs.
    const b = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 5 });
    assert.deepEqual(await epochIndices(b), epochs[0]);
    // Resume: epoch 3 directly, without running 0..2.
    const c = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 5 });
    c.setEpoch(3);
    assert.deepEqual(await epochIndices(c), epochs[3]);
    assert.equal(c.epoch, 4);
    assert.deepEqual(c.batches(3), epochs[3]);
    // Another seed, another order.
    assert.notDeepEqual(await epochIndices(new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 6 })), epochs[0]);
  });

  test('prefetches batches ahead, measures waiting, frees what a break leaves', async () => {
    const ds = new SlowDataset(40, 40);
    const loader = new DataLoader(ds, { batchSize: 4, prefetch: 3 });
    let n = 0;
    for await (const b of loader) {
      n++;
      torch.dispose([b.images, b.labels]);
      await new Promise((r) => setTimeout(r, 50)); // a slow training step: the loader works meanwhile
    }
    assert.equal(n, 10);
    assert.ok(ds.maxInFlight >= 3, `expected 3 batches in flight, saw at most ${ds.maxInFlight}`);
    assert.ok(ds.maxInFlight <= 4, `prefetch 3 but ${ds.maxInFlight} in flight`);
    // The first batch is waited for (40 ms); the others were ready while the model "trained". Without prefetching
    // the wait would be 10 × 40 ms: the bound is that, less a margin a busy machine's late timers cannot eat.
    assert.ok(loader.waitSeconds > 0.03 && loader.waitSeconds < 0.3, `waitSeconds ${loader.waitSeconds}`);

    // With prefetch 0 each batch is waited for in full.
    const slow = new DataLoader(new SlowDataset(12, 40), { batchSize: 4, prefetch: 0 });
    await epochIndices(slow);
    assert.ok(slow.waitSeconds >= 0.115, `prefetch 0: waitSeconds ${slow.waitSeconds}`);

    // A break disposes the batches that were fetched ahead.
    const fetched: data.Batch[] = [];
    const spy: data.Dataset = {
      length: 40, classes: ['a', 'b'], classCounts: () => [20, 20],
      getBatch: async (ix) => {
        const b = await ds.getBatch(ix);
        fetched.push(b);
        return b;
      },
    };
    for await (const b of new DataLoader(spy, { batchSize: 4, prefetch: 2 })) {
      torch.dispose([b.images, b.labels]);
      break;
    }
    assert.ok(fetched.length >= 2);
    assert.ok(fetched.every((b) => b.images.isDisposed && b.labels.isDisposed), 'prefetched batches leaked after break');
  });

  test('a failing batch surfaces its error in order; bad options are refused', async () => {
    const seen: number[][] = [];
    await assert.rejects(async () => {
      for await (const b of new DataLoader(new SlowDataset(20, 1, 2), { batchSize: 4 })) {
        seen.push(b.indices);
        torch.dispose([b.images, b.labels]);
      }
    }, /decode failed in batch 2/);
    assert.equal(seen.length, 2);
    const sync = toyDataset(6);
    await assert.rejects(async () => {
      for await (const b of new DataLoader(new Subset(sync, [0, 1]), { batchSize: 1 })) torch.dispose([b.images, b.labels]);
      // A dataset whose sync getBatch throws:
      for await (const _ of new DataLoader({ ...sync, length: 6, classes: sync.classes, classCounts: () => [], getBatch: () => { throw new Error('sync boom'); } }, { batchSize: 2 })) void _;
    }, /sync boom/);
    sync.dispose();

    const ds = new SlowDataset(4);
    assert.throws(() => new DataLoader(ds, { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2.5 }), /batchSize must be a positive integer/);
    assert.throws(() => new DataLoader(ds, {} as data.LoaderOptions), /batchSize must be a positive integer, got undefined/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2, prefetch: -1 }), /prefetch must be a non-negative integer/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2, seed: 0.5 }), /seed must be an integer/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2, shuffle: 'yes' as unknown as boolean }), /shuffle must be a boolean/);
    assert.throws(() => new DataLoader(ds, { batch_size: 2 } as unknown as data.LoaderOptions), /unknown option 'batch_size'/);
    assert.throws(() => new DataLoader({} as data.Dataset, { batchSize: 2 }), /expected a Dataset/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2 }).setEpoch(-1), /epoch must be a non-negative integer/);
  });
});

// ---- imageFolder --------------------------------------------------------------------------------------
describe('imageFolder', () => {
  let root = '';
  before(async () => {
    root = join(dir, 'folder');
    // Class folders created out of order; sorted they are cat (0), dog (1).
    for (const c of ['dog', 'cat']) mkdirSync(join(root, c), { recursive: true });
    mkdirSync(join(root, 'dog', 'more'));
    const solid = (w: number, h: number, rgb: [number, number, number]) =>
      sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
    await solid(8, 6, [255, 0, 0]).png().toFile(join(root, 'cat', 'a.png')); // first image: size 6x8 (HxW)
    await solid(16, 12, [0, 0, 255]).png().toFile(join(root, 'cat', 'b.png')); // resized
    await sharp({ create: { width: 8, height: 6, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).png().toFile(join(root, 'dog', 'c.PNG'));
    await sharp(Buffer.alloc(8 * 6, 77), { raw: { width: 8, height: 6, channels: 1 } }).png().toFile(join(root, 'dog', 'd.png')); // greyscale
    await solid(5, 5, [0, 255, 0]).jpeg({ quality: 100 }).toFile(join(root, 'dog', 'more', 'e.jpg')); // nested, resized
    writeFileSync(join(root, 'dog', 'notes.txt'), 'not an image');
    writeFileSync(join(root, 'README'), 'a file at the root is no class');
  });

  test('classes sorted, labels by folder, sizes and channels', async () => {
    const ds = await data.imageFolder(root);
    assert.deepEqual(ds.classes, ['cat', 'dog']);
    assert.equal(ds.length, 5);
    assert.deepEqual(ds.classCounts(), [2, 3]);
    const b = await ds.getBatch([0, 1, 2, 3, 4]);
    assert.deepEqual(b.images.shape, [5, 3, 6, 8]);
    assert.equal(b.images.dtype, 'uint8');
    assert.deepEqual(b.labels.toArray(), [0, 0, 1, 1, 1]);
    assert.equal(b.labels.dtype, 'int64');
    // Mean colour per image and channel: solid colours survive decoding and resizing.
    const means: number[][] = torch.scope(() => b.images.float().mean([2, 3]).round().toArray());
    assert.deepEqual(means.slice(0, 4), [[255, 0, 0], [0, 0, 255], [10, 200, 30], [77, 77, 77]]);
    assert.ok(Math.abs(means[4][0]) <= 2 && Math.abs(means[4][1] - 255) <= 2 && Math.abs(means[4][2]) <= 2, `jpeg green: ${means[4]}`);
    torch.dispose([b.images, b.labels]);

    const g = await data.imageFolder(root, { size: [4, 5], channels: 1 });
    const gb = await g.getBatch([3, 0]);
    assert.deepEqual(gb.images.shape, [2, 1, 4, 5]);
    const gm: number[][] = torch.scope(() => gb.images.float().mean([2, 3]).round().toArray());
    assert.equal(gm[0][0], 77);
    assert.equal(gm[1][0], 76); // PIL's convert('L'): (255·19595 + 32768) >> 16 = 76
    assert.deepEqual(gb.labels.toArray(), [1, 0]);
    torch.dispose([gb.images, gb.labels]);

    // Through a DataLoader.
    let n = 0;
    for await (const batch of new DataLoader(g, { batchSize: 2, shuffle: true })) {
      n += batch.indices.length;
      torch.dispose([batch.images, batch.labels]);
    }
    assert.equal(n, 5);
  });

  test('16-bit PNGs are scaled to 8 bits', async () => {
    // Written by hand: sharp's own 16-bit writer needs a 16-bit pipeline.
    const crcTable = Array.from({ length: 256 }, (_, n) => {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      return c >>> 0;
    });
    const crc32 = (b: Buffer) => {
      let c = 0xffffffff;
      for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
      return (c ^ 0xffffffff) >>> 0;
    };
    const chunk = (type: string, body: Buffer) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      const tb = Buffer.concat([Buffer.from(type, 'latin1'), body]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(tb));
      return Buffer.concat([len, tb, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(2, 0);
    ihdr.writeUInt32BE(2, 4);
    ihdr[8] = 16; // bit depth
    ihdr[9] = 2; // RGB
    const row = Buffer.alloc(1 + 2 * 3 * 2);
    [40000, 1000, 65535, 40000, 1000, 65535].forEach((v, i) => row.writeUInt16BE(v, 1 + 2 * i));
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat([row, row]))), chunk('IEND', Buffer.alloc(0)),
    ]);
    const r16 = join(dir, 'png16');
    mkdirSync(join(r16, 'a'), { recursive: true });
    writeFileSync(join(r16, 'a', 'x.png'), png);
    const ds = await data.imageFolder(r16);
    const b = await ds.getBatch([0]);
    assert.deepEqual(b.images.shape, [1, 3, 2, 2]);
    assert.deepEqual(b.images.toArray()[0].map((c: number[][]) => c[1][1]), [156, 3, 255]); // v >> 8, as PIL reads them
    torch.dispose([b.images, b.labels]);
  });

  test('BMP (which libvips cannot read): 24-bit bottom-up, 8-bit palette top-down, 32-bit; RLE refused', async () => {
    // A 3x2 image: top row red, green, blue; bottom row black, white, grey(128).
    const px = [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[0, 0, 0], [255, 255, 255], [128, 128, 128]]];
    const bmp = (bitCount: number, topDown: boolean, compression = 0): Buffer => {
      const w = 3, h = 2;
      const stride = Math.floor((w * bitCount + 31) / 32) * 4;
      const palette = bitCount === 8 ? px.flat() : [];
      const palBytes = Buffer.alloc(palette.length * 4);
      palette.forEach(([r, g, b], i) => palBytes.set([b, g, r, 0], 4 * i));
      const pixels = Buffer.alloc(stride * h);
      for (let y = 0; y < h; y++) {
        const row = topDown ? y : h - 1 - y;
        for (let x = 0; x < w; x++) {
          const [r, g, b] = px[y][x];
          const o = row * stride;
          if (bitCount === 24) pixels.set([b, g, r], o + 3 * x);
          else if (bitCount === 32) pixels.set([b, g, r, 0x7f], o + 4 * x);
          else pixels[o + x] = y * 3 + x; // palette index
        }
      }
      const header = Buffer.alloc(14 + 40);
      header.write('BM', 0, 'latin1');
      header.writeUInt32LE(header.length + palBytes.length + pixels.length, 2);
      header.writeUInt32LE(header.length + palBytes.length, 10);
      header.writeUInt32LE(40, 14);
      header.writeInt32LE(w, 18);
      header.writeInt32LE(topDown ? -h : h, 22);
      header.writeUInt16LE(1, 26);
      header.writeUInt16LE(bitCount, 28);
      header.writeUInt32LE(compression, 30);
      header.writeUInt32LE(palette.length, 46);
      return Buffer.concat([header, palBytes, pixels]);
    };
    const r = join(dir, 'bmps');
    mkdirSync(join(r, 'a'), { recursive: true });
    writeFileSync(join(r, 'a', '1.bmp'), bmp(24, false));
    writeFileSync(join(r, 'a', '2.BMP'), bmp(8, true));
    writeFileSync(join(r, 'a', '3.bmp'), bmp(32, false));
    writeFileSync(join(r, 'a', '4.bmp'), bmp(8, false, 1)); // RLE8
    const ds = await data.imageFolder(r);
    const b = await ds.getBatch([0, 1, 2]);
    assert.deepEqual(b.images.shape, [3, 3, 2, 3]);
    const want = [0, 1, 2].map((c) => px.map((row) => row.map((p) => p[c]))); // CHW
    assert.deepEqual(b.images.toArray(), [want, want, want]);
    torch.dispose([b.images, b.labels]);
    const small = await data.imageFolder(r, { size: [1, 1], channels: 1 });
    const s1 = await small.getBatch([0]);
    assert.deepEqual(s1.images.shape, [1, 1, 1, 1]);
    torch.dispose([s1.images, s1.labels]);
    await assert.rejects(Promise.resolve(ds.getBatch([3])), (e: Error) => e.message.includes(join(r, 'a', '4.bmp')) && /RLE8/.test(e.message));
  });

  test('errors: no folder, no classes, empty class, corrupt image, bad options', async () => {
    await assert.rejects(data.imageFolder(join(dir, 'nowhere')), /nowhere is not a folder/);
    const flat = join(dir, 'flat');
    mkdirSync(flat);
    writeFileSync(join(flat, 'x.png'), 'x');
    await assert.rejects(data.imageFolder(flat), /has no class folders/);
    const emptyRoot = join(dir, 'empty');
    mkdirSync(join(emptyRoot, 'a'), { recursive: true });
    mkdirSync(join(emptyRoot, 'b'));
    await assert.rejects(data.imageFolder(emptyRoot), /holds no images/);
    await sharp({ create: { width: 2, height: 2, channels: 3, background: 'white' } }).png().toFile(join(emptyRoot, 'a', 'x.png'));
    await assert.rejects(data.imageFolder(emptyRoot), /class folder\(s\) with no images .*: b/);

    const bad = join(dir, 'bad');
    mkdirSync(join(bad, 'a'), { recursive: true });
    mkdirSync(join(bad, 'b'));
    await sharp({ create: { width: 4, height: 4, channels: 3, background: 'white' } }).png().toFile(join(bad, 'a', 'ok.png'));
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'black' } }).png().toBuffer();
    const corrupt = join(bad, 'b', 'broken.png');
    writeFileSync(corrupt, png.subarray(0, 60)); // truncated
    const garbage = join(bad, 'b', 'garbage.jpg');
    writeFileSync(garbage, Buffer.from('definitely not a jpeg'));
    const ds = await data.imageFolder(bad);
    const ok = await ds.getBatch([0]);
    assert.deepEqual(ok.images.shape, [1, 3, 4, 4]);
    torch.dispose([ok.images, ok.labels]);
    await assert.rejects(Promise.resolve(ds.getBatch([0, 1])), (e: Error) => e.message.includes(corrupt) && /cannot decode/.test(e.message));
    await assert.rejects(Promise.resolve(ds.getBatch([2])), (e: Error) => e.message.includes(garbage));
    await assert.rejects(async () => {
      for await (const b of new DataLoader(ds, { batchSize: 1 })) torch.dispose([b.images, b.labels]);
    }, (e: Error) => e.message.includes(corrupt));
    // A corrupt first image, when the size comes from it.
    const firstBad = join(dir, 'first-bad');
    mkdirSync(join(firstBad, 'a'), { recursive: true });
    writeFileSync(join(firstBad, 'a', '0.png'), 'no');
    await assert.rejects(data.imageFolder(firstBad), (e: Error) => e.message.includes(join(firstBad, 'a', '0.png')));

    await assert.rejects(data.imageFolder(bad, { channels: 2 as 3 }), /channels must be 1 or 3/);
    await assert.rejects(data.imageFolder(bad, { size: [0, 4] }), /size must be \[height, width\]/);
    await assert.rejects(data.imageFolder(bad, { sise: [4, 4] } as never), /unknown option 'sise'/);
  });
});
