// One rank of test/distributed.test.ts: joins the group given by $RANK,
// $WORLD_SIZE and argv[3] (the init method), runs scenario argv[2], and prints
// one JSON line of what it saw (an error's message included), so the test
// checks every rank's view.
import { torch, distributed as dist } from 'arsenal';
import { makeNet, train, weights, BATCH } from './ddp_case.js';

const [scenario, initMethod, timeoutArg] = process.argv.slice(2);
const rank = Number(process.env.RANK), worldSize = Number(process.env.WORLD_SIZE);
const timeout = Number(timeoutArg ?? 20000);
const out: Record<string, unknown> = { rank };
const report = () => process.stdout.write(JSON.stringify(out) + '\n');

async function main(): Promise<void> {
  const t0 = Date.now();
  try {
    dist.initProcessGroup({ backend: 'gloo', initMethod, rank, worldSize, timeout, runId: process.env.TEST_RUN_ID ?? 'test' });
  } catch (e) {
    out.initError = (e as Error).message;
    out.seconds = (Date.now() - t0) / 1000;
    return;
  }
  out.worldSize = dist.getWorldSize();
  if (scenario === 'collectives') {
    // sum of (rank + 1) * [1, 2, 3]: 3 * [1, 2, 3] on 2 ranks
    const a = torch.tensor([1, 2, 3]).mul(rank + 1);
    dist.allReduce(a);
    out.sum = a.toArray();
    const m = torch.tensor([rank * 10 + 1]);
    dist.allReduce(m, { op: 'max' });
    out.max = m.toArray();
    // a coalesced list: every tensor reduced, shapes kept
    const list = [torch.full([2, 2], rank + 1), torch.tensor([rank], { dtype: 'float32' })];
    dist.allReduce(list);
    out.coalesced = list.map((t) => t.toArray());
    const b = torch.tensor([rank + 100, rank + 200]);
    dist.broadcast(b, 1);
    out.broadcast = b.toArray();
    const gathered = [torch.zeros([2]), torch.zeros([2])];
    dist.allGather(gathered, torch.tensor([rank, 10 * rank + 5], { dtype: 'float32' }));
    out.gathered = gathered.map((t) => t.toArray());
    // asynchronous: awaited, then waited again (a no-op)
    const c = torch.tensor([rank + 1]);
    const w = dist.allReduce(c, { asyncOp: true })!;
    await w;
    w.wait();
    out.async = c.toArray();
    dist.barrier();
    if (rank === 0) dist.store.set('hello', 'from rank 0');
    out.store = dist.store.get('hello');
    out.objects = [dist.allGatherObject({ rank, list: [rank, 'x'.repeat(rank + 1)] }), dist.allGatherObject(rank === 0 ? null : 7)];
  } else if (scenario === 'peer-dies') {
    dist.barrier();
    if (rank === 1) process.kill(process.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const t1 = Date.now();
    try {
      for (let i = 0; i < 3; i++) dist.allReduce(torch.ones([1000]));
      out.allReduce = 'completed';
    } catch (e) {
      out.error = (e as Error).message;
    }
    out.seconds = (Date.now() - t1) / 1000;
  } else if (scenario === 'silent-peer') {
    // rank 1 joins and then never takes part: rank 0's collective ends at the timeout
    if (rank === 1) { await new Promise((r) => setTimeout(r, timeout * 3)); return; }
    const t1 = Date.now();
    try {
      await dist.allReduce(torch.ones([4]), { asyncOp: true })!;
      out.allReduce = 'completed';
    } catch (e) {
      out.error = (e as Error).message;
    }
    out.seconds = (Date.now() - t1) / 1000;
  } else if (scenario === 'ddp' || scenario === 'ddp-unused' || scenario === 'ddp-unused-unflagged') {
    // Each rank starts from other weights (the broadcast from rank 0 must fix that) and trains on its share of every batch.
    const aux = scenario !== 'ddp';
    const net = makeNet(rank === 0 ? 7 : 99, aux);
    const ddp = new dist.DistributedDataParallel(net, { findUnusedParameters: scenario === 'ddp-unused', bucketCapMb: 0.0001 });
    const share = BATCH / worldSize;
    try {
      train(net, (x, a) => ddp.forward(x, a), rank * share, (rank + 1) * share, aux);
    } catch (e) {
      out.error = (e as Error).message;
    }
    out.weights = weights(net);
    out.keys = Object.keys(ddp.stateDict()).slice(0, 2);
    ddp.dispose();
  } else throw new Error(`dist_worker: unknown scenario '${scenario}'`);
  dist.destroyProcessGroup();
}

main().then(report, (e) => { out.crash = String(e?.stack ?? e); report(); }).finally(() => process.exit(0));
