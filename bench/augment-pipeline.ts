// The batch augmentation pipeline's throughput: RandomFlip (p 0.5) +
// RandomCrop (padding 4, same size) + RandomErasing (p 0.5, constant 0) on a
// normalised float batch, against bench/augment_pipeline.py doing the same work
// with torchvision's per-sample transforms (a loop over the batch, then stack),
// on 1×28×28 and 3×224×224 at batch 128.
//
//   node dist/bench/augment-pipeline.js [--size 28] [--channels 1] [--batch 128] [--block 5] [--threads 2] [--serve]
//
// Reports the median ms per batch (pipeline_ms). Each batch starts from the
// same input tensor; the output is freed in the step's torch.scope.
import { torch } from '../src/index.js';
import { BatchPipeline } from '../src/augment/batch/pipeline.js';
import { Rng } from '../src/data/rng.js';
import { parseArgs, intArg, nowMs, merge, printSummary, serve, type Samples } from './common.js';

const args = parseArgs(process.argv.slice(2));
const SIZE = intArg(args, 'size', 28);
const CH = intArg(args, 'channels', 1);
const BATCH = intArg(args, 'batch', 128);
const BLOCK = intArg(args, 'block', 5);
const THREADS = intArg(args, 'threads', 2);
torch.setNumThreads(THREADS);
torch.manualSeed(0);

const pipeline = new BatchPipeline([
  { type: 'RandomFlip', prob: 0.5 },
  { type: 'RandomCrop', padding: 4 },
  { type: 'RandomErasing', prob: 0.5, mode: 'const', value: 0 },
]);
const ctx = { rng: new Rng(1), mean: Array(CH).fill(0.5), std: Array(CH).fill(0.25), numClasses: 10 };
const x = torch.randn([BATCH, CH, SIZE, SIZE]).keep();

function block(n: number): Samples {
  const out: Samples = { pipeline_ms: [] };
  for (let i = 0; i < n; i++) {
    const t0 = nowMs();
    torch.scope(() => { pipeline.apply({ images: x }, ctx).images.sum().item(); });
    out.pipeline_ms.push(nowMs() - t0);
  }
  return out;
}

block(3); // warm-up
const info = { size: SIZE, channels: CH, batch: BATCH, threads: THREADS, libtorch: torch.info().libtorch };
if (args.has('serve')) await serve(info, () => block(BLOCK));
else {
  const s: Samples = {};
  for (let r = 0; r < 5; r++) merge(s, block(BLOCK));
  printSummary('arsenal augment pipeline', info, s);
}
