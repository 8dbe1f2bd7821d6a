// Data-parallel overhead on one machine (src/distributed/): the ResNet-18 step
// of bench/resnet-step.ts (small stem, Fashion-MNIST-sized batches, SGD) as
// 1 process × 2 threads × batch B against 2 worker processes × 1 thread ×
// B/2 through DistributedDataParallel (Gloo over loopback, a FileStore), and
// the all-reduce of the model's gradients alone (an 11.2M-float buffer, the
// bytes DDP's buckets carry each step). On a 2-core machine this is a
// correctness-and-overhead figure, not a speed-up: the two workers share the
// cores the single process has.
//
//   node dist/bench/ddp.js [--steps 10] [--warmup 2] [--batch 128] [--amp fp32|bf16]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { torch, F, distributed as dist } from '../src/index.js';
import { SGD } from '../src/optim/index.js';
import { resnet18 } from '../src/models/index.js';
import { parseArgs, intArg, median } from './common.js';

const args = parseArgs(process.argv.slice(2));
const STEPS = intArg(args, 'steps', 10), WARMUP = intArg(args, 'warmup', 2), BATCH = intArg(args, 'batch', 128);
const AMP = args.get('amp') ?? 'fp32';
const role = args.get('role') ?? 'main';

/** Median ms per training step of `batch` images; the model under DDP when a group is up. Also the all-reduce alone. */
function measure(batch: number): { stepMs: number; allReduceMs: number | null; gradFloats: number } {
  torch.manualSeed(0);
  const model = resnet18({ numClasses: 10, inChannels: 1, stem: 'small' });
  const ddp = dist.isInitialized() ? new dist.DistributedDataParallel(model) : null;
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  const x = torch.randint(0, 256, [batch, 1, 28, 28], { dtype: 'uint8' });
  const y = torch.randint(0, 10, [batch]);
  const forward = (t: torch.Tensor) => (ddp ?? model).forward(t);
  const times: number[] = [];
  for (let s = 0; s < WARMUP + STEPS; s++) {
    if (ddp) dist.barrier();
    const t0 = performance.now();
    torch.scope(() => {
      const inp = x.float().div(255).sub(0.286).div(0.353);
      const out = AMP === 'bf16' ? torch.autocast({ deviceType: 'cpu', dtype: 'bfloat16' }, () => forward(inp)).float() : forward(inp);
      F.crossEntropy(out, y).backward();
      opt.step();
      opt.zeroGrad();
    });
    if (s >= WARMUP) times.push(performance.now() - t0);
  }
  const gradFloats = model.parameters().reduce((a, p) => a + p.numel(), 0);
  let allReduceMs: number | null = null;
  if (ddp) {
    const buf = torch.zeros([gradFloats]);
    const ar: number[] = [];
    for (let i = 0; i < WARMUP + STEPS; i++) {
      dist.barrier();
      const t0 = performance.now();
      dist.allReduce(buf);
      if (i >= WARMUP) ar.push(performance.now() - t0);
    }
    allReduceMs = median(ar);
  }
  return { stepMs: median(times), allReduceMs, gradFloats };
}

async function main(): Promise<void> {
  if (role === 'worker') {
    dist.initProcessGroup({ backend: 'gloo', initMethod: args.get('init')! });
    const r = measure(BATCH / dist.getWorldSize());
    if (dist.getRank() === 0) process.stdout.write(JSON.stringify(r) + '\n');
    dist.destroyProcessGroup();
    return;
  }
  torch.setNumThreads(2);
  const single = measure(BATCH);
  const dir = mkdtempSync(join(tmpdir(), 'arsenal-bench-ddp-'));
  const self = fileURLToPath(import.meta.url);
  const outs = await Promise.all([0, 1].map((rank) => new Promise<string>((res, rej) => {
    const p = spawn(process.execPath, [self, '--role', 'worker', '--init', `file://${join(dir, 'store')}`, '--steps', String(STEPS), '--warmup', String(WARMUP), '--batch', String(BATCH), '--amp', AMP],
      { env: { ...process.env, RANK: String(rank), WORLD_SIZE: '2', OMP_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    p.stdout.on('data', (d) => { s += d; });
    p.on('exit', (code) => (code === 0 ? res(s) : rej(new Error(`worker ${rank} exited with ${code}`))));
  })));
  rmSync(dir, { recursive: true, force: true });
  const two = JSON.parse(outs[0].trim()) as ReturnType<typeof measure>;
  const ips = (ms: number) => (BATCH / ms) * 1000;
  const mb = (two.gradFloats * 4) / 1e6;
  console.log(`ResNet-18 (small stem) train step, global batch ${BATCH} of 1×28×28, ${AMP}, ${cpus()[0]?.model.trim()}, median of ${STEPS} steps`);
  console.log('| setup | ms / step | images/s | ratio |');
  console.log('|---|---:|---:|---:|');
  console.log(`| 1 process × 2 threads, batch ${BATCH} | ${single.stepMs.toFixed(1)} | ${ips(single.stepMs).toFixed(0)} | 1.00 |`);
  console.log(`| 2 workers × 1 thread, batch ${BATCH / 2} each (DDP, Gloo) | ${two.stepMs.toFixed(1)} | ${ips(two.stepMs).toFixed(0)} | ${(single.stepMs / two.stepMs).toFixed(2)} |`);
  console.log(`all-reduce of the gradients alone (${mb.toFixed(1)} MB, 2 ranks over loopback): ${two.allReduceMs!.toFixed(1)} ms (${(100 * two.allReduceMs! / two.stepMs).toFixed(0)}% of a DDP step, most of it overlapped with backward by the buckets)`);
  // A ring all-reduce sends and receives 2(W−1)/W × the gradient bytes per worker.
  for (const w of [2, 4, 8]) {
    const bytes = (2 * (w - 1) / w) * two.gradFloats * 4;
    console.log(`  on paper, ${w} machines on 10 GbE (1.25 GB/s): ${(bytes / 1e6).toFixed(1)} MB per worker per step, ${(bytes / 1.25e9 * 1000).toFixed(0)} ms`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
