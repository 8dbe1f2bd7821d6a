// torch.distributed on c10d (src/distributed/, native/src/distributed.cc):
// real processes, a FileStore rendezvous and the Gloo backend. Each rank is
// test/helpers/dist_worker.ts; what every rank saw is checked against the
// collectives' definitions, and a peer that dies or stays silent ends the
// others' collectives with an error naming the operation and the rank, within
// the timeout, never a hang.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distributed as dist, torch } from 'arsenal';
import { makeNet, train, weights, BATCH } from './helpers/ddp_case.js';

const worker = fileURLToPath(new URL('./helpers/dist_worker.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'arsenal-dist-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let runs = 0;

type Seen = Record<string, unknown> & { rank: number };

/** Starts one worker per rank (1 intra-op thread each); resolves with each rank's report (null: it printed none) and exit signal. */
function launch(scenario: string, worldSizes: number[], opts: { timeout?: number; killAfterRank0?: boolean; init?: string; env?: (rank: number) => Record<string, string> } = {}): Promise<{ seen: (Seen | null)[]; signals: (string | null)[] }> {
  const init = opts.init ?? `file://${join(dir, `store-${++runs}`)}`;
  const procs: ChildProcess[] = worldSizes.map((ws, rank) => spawn(process.execPath, [worker, scenario, init, String(opts.timeout ?? 20000)], {
    env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(ws), OMP_NUM_THREADS: '1', ...opts.env?.(rank) }, stdio: ['ignore', 'pipe', 'inherit'],
  }));
  const guard = setTimeout(() => procs.forEach((p) => p.kill('SIGKILL')), 120_000); // a hang fails the test, it does not stall the suite
  return Promise.all(procs.map((p, rank) => new Promise<[Seen | null, string | null]>((resolve) => {
    let text = '';
    p.stdout!.on('data', (d) => { text += d; });
    p.on('exit', (_code, signal) => {
      if (rank === 0 && opts.killAfterRank0) procs.slice(1).forEach((q) => q.kill('SIGKILL'));
      const line = text.trim().split('\n').filter(Boolean).at(-1);
      resolve([line ? JSON.parse(line) as Seen : null, signal]);
    });
  }))).then((r) => { clearTimeout(guard); return { seen: r.map((x) => x[0]), signals: r.map((x) => x[1]) }; });
}

test('two ranks: allReduce (sum, max, a coalesced list), broadcast, allGather, an awaited async allReduce, barrier, the store and allGatherObject, as torch.distributed defines them', async () => {
  const { seen } = await launch('collectives', [2, 2]);
  for (const [rank, s] of seen.entries()) {
    assert.ok(s, `rank ${rank} reported`);
    assert.equal(s.crash, undefined, String(s.crash));
    assert.equal(s.worldSize, 2);
    assert.deepEqual(s.sum, [3, 6, 9], 'sum of (rank + 1) * [1, 2, 3] over ranks 0 and 1');
    assert.deepEqual(s.max, [11]);
    assert.deepEqual(s.coalesced, [[[3, 3], [3, 3]], [1]]);
    assert.deepEqual(s.broadcast, [101, 201], "rank 1's tensor on every rank");
    assert.deepEqual(s.gathered, [[0, 5], [1, 15]]);
    assert.deepEqual(s.async, [3]);
    assert.equal(s.store, 'from rank 0');
    assert.deepEqual(s.objects, [[{ rank: 0, list: [0, 'x'] }, { rank: 1, list: [1, 'xx'] }], [null, 7]], 'allGatherObject: every rank\'s object in rank order');
  }
});

test("tcp:// (a TCPStore hosted by rank 0, as across machines): the same collectives", async () => {
  // A port the system says is free now.
  const port = await new Promise<number>((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
  const { seen } = await launch('collectives', [2, 2], { init: `tcp://127.0.0.1:${port}` });
  for (const s of seen) {
    assert.equal(s?.crash, undefined, String(s?.crash));
    assert.deepEqual(s!.sum, [3, 6, 9]);
    assert.equal(s!.store, 'from rank 0');
  }
});

test('a rank killed mid-run: the other\'s next collective fails at once with an error naming the operation and its rank; a new group then starts cleanly', async () => {
  const { seen, signals } = await launch('peer-dies', [2, 2]);
  assert.equal(signals[1], 'SIGKILL');
  const s = seen[0]!;
  assert.equal(s.crash, undefined, String(s.crash));
  assert.equal(s.allReduce, undefined, 'the collective did not complete');
  assert.match(String(s.error), /^allreduce on rank 0 of 2 failed: /);
  assert.ok((s.seconds as number) < 20, `failed within the timeout (${s.seconds} s)`);
  // The next run (a new store, new connections) works.
  const again = await launch('collectives', [2, 2]);
  assert.deepEqual(again.seen.map((x) => x?.sum), [[3, 6, 9], [3, 6, 9]]);
});

test('a silent peer: the collective ends at the group\'s timeout with an error, not a hang', async () => {
  const { seen } = await launch('silent-peer', [2, 2], { timeout: 3000, killAfterRank0: true });
  const s = seen[0]!;
  assert.equal(s.crash, undefined, String(s.crash));
  assert.match(String(s.error), /^allreduce on rank 0 of 2 failed: .*[Tt]imed out/);
  assert.ok((s.seconds as number) >= 2.5 && (s.seconds as number) < 15, `ended near the 3 s timeout (${s.seconds} s)`);
});

test('a rank started with another world size than rank 0 is refused, naming both; rank 0 gives up at its timeout', async () => {
  const { seen } = await launch('collectives', [2, 3], { timeout: 3000 });
  assert.match(String(seen[1]!.initError), /^initProcessGroup \(rank 1 of 3\): rank 0 was started with world size 2, this rank with 3/);
  assert.match(String(seen[0]!.initError), /^initProcessGroup \(rank 0 of 2\): /);
  assert.ok((seen[0]!.seconds as number) < 15);
});

test('a process of another run reaching the store is refused, naming both runs', async () => {
  const { seen } = await launch('collectives', [2, 2], { timeout: 3000, env: (rank) => ({ TEST_RUN_ID: rank === 1 ? 'stale' : 'test' }) });
  assert.match(String(seen[1]!.initError), /^initProcessGroup \(rank 1 of 2\): this process belongs to run 'stale' but the store's rank 0 started run 'test'/);
  assert.match(String(seen[0]!.initError), /^initProcessGroup \(rank 0 of 2\): /, 'rank 0 gives up at its timeout');
});

test('initProcessGroup checks its arguments; the collectives need an initialised group', () => {
  assert.throws(() => dist.initProcessGroup({ rank: 2, worldSize: 2, initMethod: `file://${dir}/x` }), /rank must be an integer in \[0, 2\), got 2/);
  assert.throws(() => dist.initProcessGroup({ rank: 0, worldSize: 0, initMethod: `file://${dir}/x` }), /worldSize must be a positive integer, got 0/);
  assert.throws(() => dist.initProcessGroup({ rank: 0, worldSize: 1, initMethod: 'file://relative/path' }), /expected file:\/\/\/absolute\/path/);
  assert.throws(() => dist.initProcessGroup({ rank: 0, worldSize: 1, initMethod: 'udp://h:1' }), /expected 'file:\/\/PATH', 'tcp:\/\/HOST:PORT' or 'env:\/\/'/);
  assert.throws(() => dist.initProcessGroup({ rank: 0, worldSize: 1, initMethod: 'tcp://host:99999' }), /a port in 1-65535/);
  assert.throws(() => dist.initProcessGroup({ backend: 'nccl' as 'gloo', rank: 0, worldSize: 1 }), /backend 'nccl'/);
  assert.deepEqual(dist.parseInitMethod('tcp://[::1]:29500'), { store: 'tcp', host: '::1', port: 29500 });
  assert.equal(dist.isInitialized(), false);
  assert.throws(() => dist.allReduce(torch.ones([1])), /allReduce: the default process group is not initialised/);
  assert.throws(() => dist.getRank(), /getRank: the default process group is not initialised/);
});

test('a group of one: every collective is the identity; a wrong argument is named', () => {
  dist.initProcessGroup({ rank: 0, worldSize: 1, initMethod: `file://${join(dir, 'single')}`, timeout: 5000 });
  try {
    const a = torch.tensor([1.5, 2.5]);
    dist.allReduce(a);
    assert.deepEqual(a.toArray(), [1.5, 2.5]);
    const g = [torch.zeros([2])];
    dist.allGather(g, a);
    assert.deepEqual(g[0].toArray(), [1.5, 2.5]);
    assert.throws(() => dist.allReduce(a, { op: 'avg' as 'sum' }), /op must be 'sum', 'product', 'min' or 'max', got 'avg'/);
    assert.throws(() => dist.allReduce([a, torch.tensor([1], { dtype: 'int64' })]), /every tensor must have one dtype/);
    assert.throws(() => dist.allReduce(torch.zeros([2, 3]).t()), /tensor 0 is not contiguous/);
    assert.throws(() => dist.broadcast(a, 1), /src must be a rank in \[0, 1\), got 1/);
    assert.throws(() => dist.allGather([torch.zeros([3])], a), /tensorList\[0\] is float32 \[3\], the input float32 \[2\]/);
    assert.throws(() => dist.initProcessGroup({ rank: 0, worldSize: 1, initMethod: `file://${join(dir, 'other')}` }), /already initialised/);
  } finally {
    dist.destroyProcessGroup();
  }
  assert.equal(dist.isInitialized(), false);
});

/** Largest absolute difference between two weight dicts, key by key (the keys must match). */
function maxDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  assert.deepEqual(Object.keys(a), Object.keys(b));
  let d = 0;
  for (const k of Object.keys(a)) a[k].forEach((v, i) => { d = Math.max(d, Math.abs(v - b[k][i])); });
  return d;
}

for (const [scenario, aux] of [['ddp', false], ['ddp-unused', true]] as const) {
  test(`DistributedDataParallel${aux ? ' with findUnusedParameters (an auxiliary head used on odd steps only)' : ''}: 2 ranks × half the batch end with the weights of 1 process × the whole batch (SGD + momentum, 4 steps, tiny buckets)`, async () => {
    const { seen } = await launch(scenario, [2, 2]);
    for (const s of seen) assert.equal(s?.crash, undefined, String(s?.crash));
    const one = makeNet(7, aux);
    train(one, (x, a) => one.forward(x, a), 0, BATCH, aux);
    const ref = weights(one);
    one.dispose();
    // Gloo sums the halves' mean gradients in another order than one mean over the batch: fp32 rounding only.
    for (const s of seen) assert.ok(maxDiff(s!.weights as Record<string, number[]>, ref) < 1e-5, `rank ${s!.rank}: max |Δ| ${maxDiff(s!.weights as Record<string, number[]>, ref)}`);
    assert.deepEqual(seen[0]!.weights, seen[1]!.weights, 'the ranks hold identical weights');
    assert.deepEqual(seen[0]!.keys, ['module.conv.weight', 'module.conv.bias'], "state dict keys under 'module.', as PyTorch's");
  });
}

test('DistributedDataParallel without findUnusedParameters on a model whose auxiliary head skips a step: an error that names the option, on every rank, not a hang', async () => {
  const { seen } = await launch('ddp-unused-unflagged', [2, 2]);
  for (const s of seen) {
    assert.equal(s?.crash, undefined, String(s?.crash));
    assert.match(String(s!.error), /^DistributedDataParallel\.forward on rank \d of 2: a parameter took no part in producing the last loss: give DistributedDataParallel \{ findUnusedParameters: true \}/);
  }
});
