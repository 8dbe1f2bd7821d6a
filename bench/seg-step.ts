// Segmentation training step and inference throughput of a model by name
// (src/models/segmentation.ts), as the trainer and the Predictor run it,
// against bench/seg_step.py running torchvision 0.14's model of the same name.
//
//   train:  batch 4 of uint8 3x256x256 -> float / 255, ImageNet mean/std
//           -> forward (fp32, or under torch.autocast cpu bfloat16, outputs .float())
//           -> segCrossEntropy (ignore 255, mmseg's normaliser: the trainer's default)
//              (+ 0.5 x the same on the aux output, torchvision's reference recipe)
//           -> backward -> SGD(lr 0.01, momentum 0.9, weight decay 1e-4) -> zeroGrad -> loss.item()
//           all inside one torch.scope
//   infer:  eval mode, no grad: preprocess, forward (autocast for bf16), .float(), argmax(1)
//
//   node dist/bench/seg-step.js --model lraspp_mobilenet_v3_large [--aux] [--amp fp32|bf16] [--steps 5]
//        [--warmup 1] [--threads 2] [--batch 4] [--size 256] [--block 1] [--channels-last] [--serve]
//
// Reports the median ms per training step (and images/s), its phases, and the
// median ms per inference batch. --aux builds the model with its auxiliary FCN
// head where it has one (torchvision aux_loss); a model without one runs
// without (the READY line says `aux`). With --serve it answers
// bench/compare.ts, one --amp mode per process: each block is --block
// training steps, then --block inference batches.
//
// --check runs 3 steps in fp32 and 3 in bf16 from deterministic parameters and
// data and prints the losses, an inference checksum and a parameter checksum;
// `seg_step.py --check` prints the same numbers (see resnet-step.ts: same
// seeded init in the sorted order of the parameter names, which are
// torchvision's).
import { torch, Tensor } from '../src/index.js';
import { SGD } from '../src/optim/index.js';
import { buildSegmentationModel, SEG_MODEL_NAMES } from '../src/models/segmentation.js';
import { segCrossEntropy } from '../src/losses/seg_cross_entropy.js';
import type { Module } from '../src/nn/module.js';
import { parseArgs, intArg, nowMs, median, merge, printSummary, serve, type Samples } from './common.js';

const args = parseArgs(process.argv.slice(2));
const MODEL = args.get('model') ?? 'lraspp_mobilenet_v3_large';
const CHECK = args.has('check');
const STEPS = intArg(args, 'steps', 5);
const WARMUP = intArg(args, 'warmup', 1);
const THREADS = intArg(args, 'threads', 2);
const BATCH = intArg(args, 'batch', 4);
const SIZE = intArg(args, 'size', 256);
const BLOCK = intArg(args, 'block', 1);
const CLASSES = intArg(args, 'classes', 21);
const SERVE = args.has('serve');
const WANT_AUX = args.has('aux');
const CHANNELS_LAST = args.has('channels-last');
const AMP = args.get('amp') ?? 'fp32';
if (AMP !== 'fp32' && AMP !== 'bf16') throw new TypeError(`--amp: expected 'fp32' or 'bf16', got '${AMP}'`);
if (!(SEG_MODEL_NAMES as string[]).includes(MODEL)) {
  console.log('ERROR ' + JSON.stringify({ message: `unknown segmentation model '${MODEL}' (this build has ${SEG_MODEL_NAMES.join(', ')})` }));
  process.exit(2);
}
torch.setNumThreads(THREADS);
torch.manualSeed(0);

const MEAN = [0.485, 0.456, 0.406], STD = [0.229, 0.224, 0.225]; // configs/segmentation (ImageNet)
const LR = 0.01, MOMENTUM = 0.9, WEIGHT_DECAY = 1e-4; // torchvision references/segmentation defaults
const AUX_WEIGHT = 0.5; // torchvision references/segmentation criterion

interface Setup { model: Module; opt: SGD; amp: 'fp32' | 'bf16'; aux: boolean; mean: Tensor; std: Tensor }

/** The model with its aux head when asked and the model has one (a model without says the option does not apply). */
function buildModel(): { model: Module; aux: boolean } {
  if (WANT_AUX) {
    try {
      return { model: buildSegmentationModel(MODEL, { numClasses: CLASSES, auxLoss: true }), aux: true };
    } catch (e) {
      if (!(e instanceof TypeError) || !/does not apply/.test(e.message)) throw e;
    }
  }
  return { model: buildSegmentationModel(MODEL, { numClasses: CLASSES }), aux: false };
}

function build(amp: 'fp32' | 'bf16'): Setup {
  const { model, aux } = buildModel();
  if (CHANNELS_LAST) model.toMemoryFormat('channelsLast');
  model.train();
  const opt = new SGD(model.parameters(), { lr: LR, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY });
  const mean = torch.tensor(MEAN, { dtype: 'float32' }).reshape([1, 3, 1, 1]).keep();
  const std = torch.tensor(STD, { dtype: 'float32' }).reshape([1, 3, 1, 1]).keep();
  return { model, opt, amp, aux, mean, std };
}

/** The Predictor's normalise (and layout). */
function preprocess(s: Setup, images: Tensor): Tensor {
  const x = images.float().div(255).sub(s.mean).div(s.std);
  return CHANNELS_LAST ? x.contiguous('channelsLast') : x;
}

/** The Predictor's forward: [out, aux | null], float32 (under bf16 autocast the outputs are cast back). */
function forward(s: Setup, x: Tensor): [Tensor, Tensor | null] {
  const run = () => s.model.forward(x) as Tensor | { out: Tensor; aux?: Tensor };
  const o = s.amp === 'bf16' ? torch.autocast({ deviceType: 'cpu', dtype: 'bfloat16' }, run) : run();
  if (o instanceof Tensor) return [o.float(), null];
  return [o.out.float(), o.aux ? o.aux.float() : null];
}

/** One training step as Trainer.trainStep; returns the loss and the phase times in ms. */
function trainStep(s: Setup, images: Tensor, masks: Tensor): { loss: number; ph: Record<string, number> } {
  return torch.scope(() => {
    const t0 = nowMs();
    const [out, aux] = forward(s, preprocess(s, images));
    let loss = segCrossEntropy(out, masks);
    if (aux) loss = loss.add(segCrossEntropy(aux, masks).mul(AUX_WEIGHT));
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

/** One inference batch: eval mode, no grad, the class map (the prediction a meter reads). Returns it when asked (for --check). */
function inferBatch(s: Setup, images: Tensor, keep = false): Tensor | null {
  s.model.eval();
  try {
    return torch.noGrad(() => torch.scope(() => {
      const pred = forward(s, preprocess(s, images))[0].argmax(1);
      return keep ? pred.keep() : null;
    }));
  } finally {
    s.model.train();
  }
}

// A pool of random uint8 batches and masks (classes and some 255), cycled.
const POOL = 2;
const xs = Array.from({ length: POOL }, () => torch.randint(0, 256, [BATCH, 3, SIZE, SIZE], { dtype: 'uint8' }).keep());
const ys = Array.from({ length: POOL }, () => torch.scope(() => {
  const m = torch.randint(0, CLASSES + 2, [BATCH, SIZE, SIZE]);
  return torch.where(m.ge(CLASSES), 255, m).keep();
}));
let batchIndex = 0;

function block(s: Setup, steps: number): Samples {
  const out: Samples = { step_ms: [], forward_ms: [], backward_ms: [], optimizer_ms: [], infer_ms: [] };
  const live = torch.memory().tensors;
  for (let i = 0; i < steps; i++) {
    const k = batchIndex++ % POOL;
    const t0 = nowMs();
    const { ph } = trainStep(s, xs[k], ys[k]);
    out.step_ms.push(nowMs() - t0);
    for (const [key, v] of Object.entries(ph)) out[key].push(v);
  }
  for (let i = 0; i < steps; i++) {
    const t0 = nowMs();
    inferBatch(s, xs[i % POOL]);
    out.infer_ms.push(nowMs() - t0);
  }
  const grew = torch.memory().tensors - live;
  if (grew !== 0) throw new Error(`seg-step: ${grew} more live tensors after ${steps} steps (memory is not flat)`);
  return out;
}

/** resnet-step.ts's detInit: manual_seed(0), one randn per parameter in sorted name order (rank ≥ 2: · sqrt(2/fan_in); 1-d weights 1 + 0.1z; biases 0.1z). */
function detInit(model: Module): number {
  const named = [...model.namedParameters()];
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
  return named.length;
}

/** Deterministic data for --check: pixel i = (37·i) mod 251; mask pixel j = (7·j) mod (K + 2), values ≥ K → 255. */
function detData(): [Tensor, Tensor] {
  return torch.noGrad(() => torch.scope(() => {
    const x = torch.arange(0, BATCH * 3 * SIZE * SIZE).mul(37).remainder(251).to('uint8').reshape([BATCH, 3, SIZE, SIZE]).keep();
    const m = torch.arange(0, BATCH * SIZE * SIZE).mul(7).remainder(CLASSES + 2).reshape([BATCH, SIZE, SIZE]);
    return [x, torch.where(m.ge(CLASSES), 255, m).keep()] as [Tensor, Tensor];
  }));
}

if (CHECK) {
  const [x, y] = detData();
  for (const amp of ['fp32', 'bf16'] as const) {
    const s = build(amp);
    const n = detInit(s.model);
    const losses: string[] = [];
    for (let k = 0; k < 3; k++) losses.push(trainStep(s, x, y).loss.toFixed(6));
    const pred = inferBatch(s, x, true)!;
    const predSum = torch.scope(() => pred.sum().item());
    const sum = torch.scope(() => torch.noGrad(() => s.model.parameters().reduce((acc, p) => acc + p.abs().sum().item(), 0)));
    console.log(`check ${MODEL}${s.aux ? ' aux' : ''} ${amp}: losses ${losses.join(' ')}  sum(pred) ${predSum}  sum|params| ${sum.toFixed(4)}  (${n} parameter tensors, batch ${BATCH}×${SIZE}²)`);
    s.model.dispose();
  }
  process.exit(0);
}

const s = build(AMP);
for (let i = 0; i < WARMUP; i++) {
  const k = batchIndex++ % POOL;
  trainStep(s, xs[k], ys[k]);
  inferBatch(s, xs[k]);
}
const info = { side: 'arsenal', model: MODEL, aux: s.aux, amp: AMP, threads: torch.getNumThreads(), batch: BATCH, size: SIZE, channelsLast: CHANNELS_LAST, libtorch: torch.info().libtorch };
if (SERVE) {
  await serve(info, () => block(s, BLOCK));
} else {
  const samples = merge({}, block(s, STEPS));
  printSummary('seg_step (arsenal)', { ...info, steps: STEPS, warmup: WARMUP }, samples);
  console.log(`  train images/s (median)  ${(BATCH * 1000 / median(samples.step_ms)).toFixed(2).padStart(10)}`);
  console.log(`  infer images/s (median)  ${(BATCH * 1000 / median(samples.infer_ms)).toFixed(2).padStart(10)}`);
}
