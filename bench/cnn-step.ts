// One training step of a small CNN (the MNIST-sized net of PyTorch's
// examples), forward + cross-entropy + backward + Adam, against
// bench/cnn_step.py running the same model with torch.nn / torch.optim.
//
//   conv(1->32, 3x3, pad 1) relu maxpool2 -> conv(32->64, 3x3, pad 1) relu maxpool2
//   -> flatten -> linear(3136->128) relu -> linear(128->10)
//   batch 64 of 1x28x28 random data, cross-entropy, Adam(lr 1e-3, betas 0.9/0.999, eps 1e-8)
//
// --check instead runs 3 steps from deterministic parameters and data and
// prints the losses and a parameter checksum; `cnn_step.py --check` prints the
// same numbers from torch.nn / torch.optim, showing both sides do the same work.
//
// There is no nn/optim module yet, so the parameters are leaf tensors and Adam
// is written with the _foreach_ ops exactly as torch.optim.Adam(foreach=True)
// does in PyTorch 1.13 (_multi_tensor_adam). Each step runs inside torch.scope
// so memory stays flat; gradients are set to null (zero_grad(set_to_none=True)).
//
//   node dist/bench/cnn-step.js [--steps 50] [--warmup 10] [--threads 2] [--block 5] [--serve]
//
// Reports the median ms per step and the median of each phase (forward incl.
// loss, backward, optimizer step, zero_grad), and the minor page faults per
// step (memory the C allocator handed back to the OS and touches again).
// With --serve it answers bench/compare.ts, --block steps per block.
import { torch, F, Tensor } from '../src/index.js';
import { parseArgs, intArg, nowMs, merge, printSummary, serve, type Samples } from './common.js';

const args = parseArgs(process.argv.slice(2));
const STEPS = intArg(args, 'steps', 50);
const WARMUP = intArg(args, 'warmup', 10);
const THREADS = intArg(args, 'threads', 2);
const BATCH = intArg(args, 'batch', 64);
const BLOCK = intArg(args, 'block', 5);
const SERVE = args.has('serve');
const CHECK = args.has('check');
torch.setNumThreads(THREADS);
torch.manualSeed(0);

/** A leaf parameter with PyTorch's default (Kaiming-uniform-like) scale. */
function param(shape: number[], fanIn: number): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return torch.noGrad(() => torch.rand(shape).mul_(2 * bound).sub_(bound)).requiresGrad_(true).keep();
}

const conv1w = param([32, 1, 3, 3], 9), conv1b = param([32], 9);
const conv2w = param([64, 32, 3, 3], 32 * 9), conv2b = param([64], 32 * 9);
const fc1w = param([128, 64 * 7 * 7], 64 * 7 * 7), fc1b = param([128], 64 * 7 * 7);
const fc2w = param([10, 128], 128), fc2b = param([10], 128);
const params = [conv1w, conv1b, conv2w, conv2b, fc1w, fc1b, fc2w, fc2b];

// A pool of random batches, cycled, so the net cannot memorise one batch (a loss
// driven to ~0 makes tiny, possibly denormal, gradients: not a normal step).
const POOL = 16;
const xs = Array.from({ length: POOL }, () => torch.randn([BATCH, 1, 28, 28]).keep());
const ys = Array.from({ length: POOL }, () => torch.randint(0, 10, [BATCH]).keep());
let batchIndex = 0;

/** Deterministic values for --check: 0.05·sin(0.37·i + k), the same formula as cnn_step.py. */
function detInit(t: Tensor, k: number): void {
  torch.noGrad(() => torch.scope(() => {
    t.copy_(torch.arange(0, t.numel(), 1, { dtype: 'float32' }).mul(0.37).add(k).sin().mul(0.05).reshape(t.shape));
  }));
}

function forward(input: Tensor): Tensor {
  let h = F.maxPool2d(F.relu(F.conv2d(input, conv1w, conv1b, { padding: 1 })), 2);
  h = F.maxPool2d(F.relu(F.conv2d(h, conv2w, conv2b, { padding: 1 })), 2);
  h = F.relu(F.linear(h.flatten(1), fc1w, fc1b));
  return F.linear(h, fc2w, fc2b);
}

// ---- Adam, as torch.optim.Adam(foreach=True) (PyTorch 1.13 _multi_tensor_adam) --------------
const lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
const expAvg = params.map((p) => torch.zerosLike(p).keep());
const expAvgSq = params.map((p) => torch.zerosLike(p).keep());
let step = 0;

function adamStep(): void {
  torch.noGrad(() => {
    const grads = params.map((p) => p.grad!);
    step += 1;
    torch._foreach_mul_(expAvg, beta1);
    torch._foreach_add_(expAvg, grads, 1 - beta1);
    torch._foreach_mul_(expAvgSq, beta2);
    torch._foreach_addcmul_(expAvgSq, grads, grads, 1 - beta2);
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    // PyTorch passes per-parameter lists here (.ScalarList overloads); every
    // parameter has the same step count, so one scalar each is the same update.
    // (The addon cannot pass Scalar[] arguments yet: native/src/ops.cc classify()
    // maps a list of Scalar (NumberType) to Unsupported.)
    const stepSize = -lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    const denom = torch._foreach_sqrt(expAvgSq);
    torch._foreach_div_(denom, bc2Sqrt);
    torch._foreach_add_(denom, eps);
    torch._foreach_addcdiv_(params, expAvg, denom, stepSize);
  });
}

function zeroGrad(): void {
  for (const p of params) p.grad = null;
}

/** One training step; returns the phase times in ms. */
function trainStep(): Record<string, number> {
  const x = xs[batchIndex % POOL], y = ys[batchIndex % POOL];
  batchIndex++;
  return torch.scope(() => {
    const t0 = nowMs();
    const loss = F.crossEntropy(forward(x), y);
    const t1 = nowMs();
    loss.backward();
    const t2 = nowMs();
    adamStep();
    const t3 = nowMs();
    zeroGrad();
    const t4 = nowMs();
    return { forward_ms: t1 - t0, backward_ms: t2 - t1, optimizer_ms: t3 - t2, zero_grad_ms: t4 - t3 };
  });
}

function block(steps: number): Samples {
  const out: Samples = { step_ms: [], forward_ms: [], backward_ms: [], optimizer_ms: [], zero_grad_ms: [], page_faults: [] };
  const live = torch.memory().tensors;
  for (let i = 0; i < steps; i++) {
    const f0 = process.resourceUsage().minorPageFault;
    const t0 = nowMs();
    const ph = trainStep();
    out.step_ms.push(nowMs() - t0);
    out.page_faults.push(process.resourceUsage().minorPageFault - f0);
    for (const [k, v] of Object.entries(ph)) out[k].push(v);
  }
  const grew = torch.memory().tensors - live;
  if (grew !== 0) throw new Error(`cnn-step: ${grew} more live tensors after ${steps} steps (memory is not flat)`);
  return out;
}

if (CHECK) {
  params.forEach((p, k) => detInit(p, k));
  torch.noGrad(() => torch.scope(() => {
    xs[0].copy_(torch.arange(0, BATCH * 784, 1, { dtype: 'float32' }).mul(0.11).sin().reshape([BATCH, 1, 28, 28]));
    ys[0].copy_(torch.arange(0, BATCH, 1, { dtype: 'int64' }).remainder(10));
  }));
  const losses: string[] = [];
  for (let k = 0; k < 3; k++) {
    torch.scope(() => {
      const loss = F.crossEntropy(forward(xs[0]), ys[0]);
      losses.push(loss.item().toFixed(6));
      loss.backward();
      adamStep();
      zeroGrad();
    });
  }
  const sum = torch.scope(() => torch.noGrad(() => params.reduce((acc, p) => acc + p.abs().sum().item(), 0)));
  console.log(`check: losses ${losses.join(' ')}  sum|params| ${sum.toFixed(6)}`);
  process.exit(0);
}

for (let i = 0; i < WARMUP; i++) trainStep();
const info = { side: 'arsenal', optimizer: 'adam_foreach', threads: torch.getNumThreads(), batch: BATCH, libtorch: torch.info().libtorch };
if (SERVE) {
  await serve(info, () => block(BLOCK));
} else {
  const samples = merge({}, block(STEPS));
  const finalLoss = torch.scope(() => torch.noGrad(() => F.crossEntropy(forward(xs[0]), ys[0]).item()));
  printSummary('cnn_step (arsenal)', { ...info, steps: STEPS, warmup: WARMUP, finalLoss: Math.round(finalLoss * 1e4) / 1e4 }, samples);
}
