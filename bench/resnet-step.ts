// One training step of ResNet-18 with the small-input stem (conv 3x3 stride 1
// + BN + ReLU, no max-pool), as the trainer (src/engine/trainer.ts) does it,
// against bench/resnet_step.py running torchvision's resnet18 with the same stem.
//
//   batch 128 of uint8 1x28x28 -> float / 255, (x - 0.286) / 0.353
//   -> forward (fp32, or under torch.autocast cpu bfloat16 then .float())
//   -> cross-entropy -> backward -> SGD(lr 0.1, momentum 0.9, weight decay 5e-4) -> zeroGrad
//   all inside one torch.scope, loss.item() at the end (the trainer reads it)
//
//   node dist/bench/resnet-step.js [--amp fp32|bf16] [--steps 10] [--warmup 2] [--threads 2] [--batch 128] [--block 1] [--serve]
//
// Reports the median ms per step (and images/s), the median of each phase
// (preprocess + forward + loss, backward, optimizer step + zeroGrad) and the
// minor page faults per step. With --serve it answers bench/compare.ts, one
// --amp mode per process, --block steps per block.
//
// --check runs 3 steps in fp32 and 3 in bf16 from deterministic parameters and
// data and prints the losses and a parameter checksum; `resnet_step.py --check`
// prints the same numbers from torchvision / torch.optim.SGD (same seeded init, same data),
// showing both sides compute the same thing.
//
// --data-wait measures data starvation instead: the trainer's loop over the
// real Fashion-MNIST training set (fashionMnist + DataLoader: batch --batch,
// shuffle, dropLast, prefetch 2) doing the --amp step (bf16 by default here),
// --steps steps (default 30); it reports DataLoader.waitSeconds as a share of
// the loop's wall time (the trainer's "data wait"). With --serve, each `run`
// is one such pass.
import { torch, F, Tensor } from '../src/index.js';
import { SGD } from '../src/optim/index.js';
import { resnet18, type ResNet } from '../src/models/index.js';
import { fashionMnist, DataLoader } from '../src/data/index.js';
import { parseArgs, intArg, nowMs, median, merge, printSummary, serve, type Samples } from './common.js';

const args = parseArgs(process.argv.slice(2));
const CHECK = args.has('check');
const DATA_WAIT = args.has('data-wait');
const STEPS = intArg(args, 'steps', DATA_WAIT ? 30 : 10);
const WARMUP = intArg(args, 'warmup', 2);
const THREADS = intArg(args, 'threads', 2);
const BATCH = intArg(args, 'batch', 128);
const BLOCK = intArg(args, 'block', 1);
const SERVE = args.has('serve');
const AMP = args.get('amp') ?? (DATA_WAIT ? 'bf16' : 'fp32');
if (AMP !== 'fp32' && AMP !== 'bf16') throw new TypeError(`--amp: expected 'fp32' or 'bf16', got '${AMP}'`);
torch.setNumThreads(THREADS);
torch.manualSeed(0);

const MEAN = 0.286, STD = 0.353; // configs/fashion-mnist
const LR = 0.1, MOMENTUM = 0.9, WEIGHT_DECAY = 5e-4;

interface Setup { model: ResNet; opt: SGD; amp: 'fp32' | 'bf16' }

function build(amp: 'fp32' | 'bf16'): Setup {
  const model = resnet18({ numClasses: 10, inChannels: 1, stem: 'small' });
  model.train();
  const opt = new SGD(model.parameters(), { lr: LR, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY });
  return { model, opt, amp };
}

/** The trainer's preprocess (no augmentation): uint8 -> float / 255, normalised. */
function preprocess(images: Tensor): Tensor {
  return images.float().div(255).sub(MEAN).div(STD);
}

/** The trainer's forward: under bf16 autocast the logits come back as float32. */
function forward(s: Setup, x: Tensor): Tensor {
  if (s.amp === 'bf16') return torch.autocast({ deviceType: 'cpu', dtype: 'bfloat16' }, () => s.model.forward(x)).float();
  return s.model.forward(x);
}

/** One training step as Trainer.trainStep; returns the loss and the phase times in ms. */
function trainStep(s: Setup, images: Tensor, labels: Tensor): { loss: number; ph: Record<string, number> } {
  return torch.scope(() => {
    const t0 = nowMs();
    const loss = F.crossEntropy(forward(s, preprocess(images)), labels);
    const t1 = nowMs();
    loss.backward();
    const t2 = nowMs();
    s.opt.step();
    s.opt.zeroGrad();
    const value = loss.item();
    const t3 = nowMs();
    return { loss: value, ph: { forward_ms: t1 - t0, backward_ms: t2 - t1, optimizer_ms: t3 - t2 } };
  });
}

// A pool of random uint8 batches, cycled (the same shapes and dtypes as the loader's).
const POOL = 4;
const xs = Array.from({ length: POOL }, () => torch.randint(0, 256, [BATCH, 1, 28, 28], { dtype: 'uint8' }).keep());
const ys = Array.from({ length: POOL }, () => torch.randint(0, 10, [BATCH]).keep());
let batchIndex = 0;

function block(s: Setup, steps: number): Samples {
  const out: Samples = { step_ms: [], forward_ms: [], backward_ms: [], optimizer_ms: [], page_faults: [] };
  const live = torch.memory().tensors;
  for (let i = 0; i < steps; i++) {
    const k = batchIndex++ % POOL;
    const f0 = process.resourceUsage().minorPageFault;
    const t0 = nowMs();
    const { ph } = trainStep(s, xs[k], ys[k]);
    out.step_ms.push(nowMs() - t0);
    out.page_faults.push(process.resourceUsage().minorPageFault - f0);
    for (const [key, v] of Object.entries(ph)) out[key].push(v);
  }
  const grew = torch.memory().tensors - live;
  if (grew !== 0) throw new Error(`resnet-step: ${grew} more live tensors after ${steps} steps (memory is not flat)`);
  return out;
}

/**
 * Deterministic parameters for --check, the same recipe as resnet_step.py:
 * libtorch's generator seeded with 0 (Arsenal and PyTorch 1.13 share it, so
 * torch.randn draws the same numbers), then one randn(shape) per parameter in
 * the sorted order of their torchvision names (Arsenal's names less the
 * 'backbone.' / 'head.' prefixes): weights of rank ≥ 2 scaled by sqrt(2 / fan_in),
 * 1-d weights (BN) 1 + 0.1·z, biases 0.1·z.
 */
function detInit(model: ResNet): string[] {
  const named = [...model.namedParameters()].map(([n, p]) => [n.replace(/^(backbone|head)\./, ''), p] as const);
  named.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  torch.manualSeed(0);
  torch.noGrad(() => torch.scope(() => {
    for (const [name, p] of named) {
      const z = torch.randn(p.shape);
      if (p.ndim >= 2) p.copy_(z.mul(Math.sqrt(2 / (p.numel() / p.shape[0]))));
      else if (name.endsWith('.weight')) p.copy_(z.mul(0.1).add(1));
      else p.copy_(z.mul(0.1));
    }
  }));
  return named.map(([n]) => n);
}

/** Deterministic data for --check: pixel i = (37·i) mod 251, label j = j mod 10. */
function detData(): [Tensor, Tensor] {
  return torch.noGrad(() => torch.scope(() => {
    const x = torch.arange(0, BATCH * 784).mul(37).remainder(251).to('uint8').reshape([BATCH, 1, 28, 28]).keep();
    const y = torch.arange(0, BATCH).remainder(10).keep();
    return [x, y] as [Tensor, Tensor];
  }));
}

if (CHECK) {
  const [x, y] = detData();
  for (const amp of ['fp32', 'bf16'] as const) {
    const s = build(amp);
    const names = detInit(s.model);
    const losses: string[] = [];
    for (let k = 0; k < 3; k++) losses.push(trainStep(s, x, y).loss.toFixed(6));
    const sum = torch.scope(() => torch.noGrad(() => s.model.parameters().reduce((acc, p) => acc + p.abs().sum().item(), 0)));
    console.log(`check ${amp}: losses ${losses.join(' ')}  sum|params| ${sum.toFixed(4)}  (${names.length} parameter tensors, batch ${BATCH})`);
    s.model.dispose();
  }
  process.exit(0);
}

const s = build(AMP);
for (let i = 0; i < WARMUP; i++) {
  const k = batchIndex++ % POOL;
  trainStep(s, xs[k], ys[k]);
}

if (DATA_WAIT) {
  // The trainer's loop (Trainer.fit): a shuffled, prefetching loader over the real
  // training set; the step disposes each batch; "data wait" = loader.waitSeconds / wall.
  const t0 = nowMs();
  const train = fashionMnist({ split: 'train' });
  const loadMs = nowMs() - t0;
  const loader = new DataLoader(train, { batchSize: BATCH, shuffle: true, dropLast: true, seed: 42, prefetch: 2 });
  const steps = Math.min(STEPS, loader.length);
  let epoch = 1;
  const pass = async (): Promise<Samples> => {
    loader.setEpoch(epoch++);
    let n = 0;
    const out: Samples = { step_ms: [] };
    const te = nowMs();
    for await (const b of loader) {
      const ts = nowMs();
      const { loss } = trainStep(s, b.images, b.labels);
      torch.dispose([b.images, b.labels]);
      if (!Number.isFinite(loss)) throw new Error(`resnet-step --data-wait: loss ${loss}`);
      out.step_ms.push(nowMs() - ts);
      if (++n >= steps) break;
    }
    const total = (nowMs() - te) / 1000;
    return { ...out, wait_s: [loader.waitSeconds], total_s: [total], steps: [n], wait_share: [loader.waitSeconds / total] };
  };
  const info = { side: 'arsenal', mode: 'data-wait', amp: AMP, threads: torch.getNumThreads(), batch: BATCH, steps, trainImages: train.length, datasetLoadMs: Math.round(loadMs), libtorch: torch.info().libtorch };
  if (SERVE) {
    await serve(info, pass);
  } else {
    const r = await pass();
    printSummary('resnet_step data wait (arsenal)', info, r);
    console.log(`  data wait ${(100 * r.wait_share[0]).toFixed(2)}% of the loop's ${r.total_s[0].toFixed(1)} s over ${r.steps[0]} steps (target < 5%)`);
  }
} else {
  const info = { side: 'arsenal', amp: AMP, threads: torch.getNumThreads(), batch: BATCH, libtorch: torch.info().libtorch };
  if (SERVE) {
    await serve(info, () => block(s, BLOCK));
  } else {
    const samples = merge({}, block(s, STEPS));
    printSummary('resnet_step (arsenal)', { ...info, steps: STEPS, warmup: WARMUP }, samples);
    console.log(`  images/s (median step)   ${(BATCH * 1000 / median(samples.step_ms)).toFixed(1).padStart(10)}`);
  }
}
