// Detection training step and inference throughput of Arsenal's FCOS
// (src/models/detection) against bench/det_step.py running torchvision 0.14's,
// and NMS (src/ops/nms.ts) against torchvision.ops.
//
//   train:  batch 4 of uint8 3×S×S -> float / 255, ImageNet mean/std
//           -> forward (fp32, or under torch.autocast cpu bfloat16; the head's outputs .float())
//           -> model.loss(out, targets): classification + bboxRegression + bboxCtrness
//           -> backward -> SGD(lr 0.01, momentum 0.9, weight decay 1e-4) -> zeroGrad -> loss.item()
//           all inside one torch.scope; targets: 3 random boxes per image (sides S/16 to S/2), random labels
//   infer:  eval mode, no grad: preprocess, forward (autocast for bf16), .float(), model.postprocess(out)
//           (torchvision's defaults: score 0.2, top 1000 per level, batched NMS 0.6, 100 per image)
//
// Models (--classes 91 by default, torchvision's count):
//   fcos_resnet50_fpn  buildDetectionModel('fcos_resnet50_fpn', { normLayer: 'batch', trainableBackboneLayers: 5 }):
//                      torchvision's fcos_resnet50_fpn(weights=None, weights_backbone=None) (BatchNorm2d, all
//                      trainable). Default S 256.
//   fcos_resnet18_fpn  the CPU recipe's model: the same on ResNet-18 with outChannels 128, numConvs 2. Default S 160.
//
//   node dist/bench/det-step.js --model fcos_resnet50_fpn [--amp fp32|bf16] [--steps 3] [--warmup 1]
//        [--threads 2] [--batch 4] [--size 256] [--classes 91] [--block 1] [--serve]
//   node dist/bench/det-step.js --nms [--boxes 10000] [--nms-classes 80] [--block 5] [--serve]
//
// --nms: nms and batchedNms (IoU 0.5) on --boxes random boxes drawn as det_step.py draws them
// (manualSeed(0); xy = rand(N, 2)·1000, wh = rand(N, 2)·100 + 1, scores rand(N), idxs
// randint(0, 80, N): libtorch's generator, so the same numbers), ms per call; READY
// reports the kept counts (the driver compares them with torchvision's).
//
// --check loads the weights `det_step.py --check` wrote (--weights, default
// work_dirs/bench/det-check-<model>.safetensors; torchvision's keys, strictly),
// runs 3 training steps on the deterministic images and boxes of det_step.py,
// and prints the losses, the eval-mode detections (count, sum of scores at
// scoreThresh 0.05) and sum|params|, in fp32 and in bf16. Run det_step.py
// --check first with the same --model, --batch, --size, --classes.
import { torch, Tensor } from '../src/index.js';
import { SGD } from '../src/optim/index.js';
import { buildDetectionModel, type FCOS, type FCOSOutputs, type FCOSTarget } from '../src/models/detection/index.js';
import { nms, batchedNms } from '../src/ops/nms.js';
import { parseArgs, intArg, nowMs, median, merge, printSummary, serve, type Samples } from './common.js';

const MODELS = { fcos_resnet50_fpn: 256, fcos_resnet18_fpn: 160 } as const;
type DetBenchModel = keyof typeof MODELS;

const args = parseArgs(process.argv.slice(2));
const MODEL = (args.get('model') ?? 'fcos_resnet50_fpn') as DetBenchModel;
if (!Object.hasOwn(MODELS, MODEL)) throw new TypeError(`--model: expected ${Object.keys(MODELS).join(' or ')}, got '${MODEL}'`);
const CHECK = args.has('check');
const NMS = args.has('nms');
const STEPS = intArg(args, 'steps', 3);
const WARMUP = intArg(args, 'warmup', 1);
const THREADS = intArg(args, 'threads', 2);
const BATCH = intArg(args, 'batch', 4);
const SIZE = intArg(args, 'size', MODELS[MODEL]);
const CLASSES = intArg(args, 'classes', 91);
const BOXES = intArg(args, 'boxes', 10000);
const NMS_CLASSES = intArg(args, 'nms-classes', 80);
const SERVE = args.has('serve');
const AMP = args.get('amp') ?? 'fp32';
if (AMP !== 'fp32' && AMP !== 'bf16') throw new TypeError(`--amp: expected 'fp32' or 'bf16', got '${AMP}'`);
torch.setNumThreads(THREADS);

const MEAN = [0.485, 0.456, 0.406], STD = [0.229, 0.224, 0.225]; // torchvision GeneralizedRCNNTransform's image_mean / image_std
const LR = 0.01, MOMENTUM = 0.9, WEIGHT_DECAY = 1e-4; // torchvision references/detection README, FCOS
const BOXES_PER_IMAGE = 3;

interface Setup { model: FCOS; opt: SGD; amp: 'fp32' | 'bf16'; mean: Tensor; std: Tensor }

function buildModel(): FCOS {
  const common = { numClasses: CLASSES, normLayer: 'batch', trainableBackboneLayers: 5 } as const;
  return MODEL === 'fcos_resnet50_fpn'
    ? buildDetectionModel('fcos_resnet50_fpn', common)
    : buildDetectionModel('fcos_resnet18_fpn', { ...common, outChannels: 128, numConvs: 2 });
}

function build(amp: 'fp32' | 'bf16', weights?: string): Setup {
  const model = buildModel();
  if (weights) {
    const sd = torch.safetensors.loadFile(weights);
    model.loadStateDict(sd, { source: weights });
    for (const t of Object.values(sd)) t.dispose();
  }
  model.train();
  const opt = new SGD(model.parameters().filter((p) => p.requiresGrad), { lr: LR, momentum: MOMENTUM, weightDecay: WEIGHT_DECAY });
  const mean = torch.tensor(MEAN, { dtype: 'float32' }).reshape([1, 3, 1, 1]).keep();
  const std = torch.tensor(STD, { dtype: 'float32' }).reshape([1, 3, 1, 1]).keep();
  return { model, opt, amp, mean, std };
}

function preprocess(s: Setup, images: Tensor): Tensor {
  return images.float().div(255).sub(s.mean).div(s.std);
}

/** The forward as the trainer runs it: under autocast for bf16, the head's outputs cast back to float32. */
function forward(s: Setup, x: Tensor): FCOSOutputs {
  const run = () => s.model.forward(x);
  const o = s.amp === 'bf16' ? torch.autocast({ deviceType: 'cpu', dtype: 'bfloat16' }, run) : run();
  return { ...o, clsLogits: o.clsLogits.float(), bboxRegression: o.bboxRegression.float(), bboxCtrness: o.bboxCtrness.float() };
}

/** One training step; returns the loss, its three terms and the phase times in ms. */
function trainStep(s: Setup, images: Tensor, targets: FCOSTarget[]): { loss: number; terms: number[]; ph: Record<string, number> } {
  return torch.scope(() => {
    const t0 = nowMs();
    const l = s.model.loss(forward(s, preprocess(s, images)), targets);
    const loss = l.classification.add(l.bboxRegression).add(l.bboxCtrness);
    const t1 = nowMs();
    loss.backward();
    const t2 = nowMs();
    s.opt.step();
    s.opt.zeroGrad();
    const value = loss.item();
    const t3 = nowMs();
    const terms = CHECK ? [l.classification.item(), l.bboxRegression.item(), l.bboxCtrness.item()] : [];
    return { loss: value, terms, ph: { forward_ms: t1 - t0, backward_ms: t2 - t1, optimizer_ms: t3 - t2 } };
  });
}

/** One inference batch: eval mode, no grad, the detections; with `summary`, their count and score sum. */
function inferBatch(s: Setup, images: Tensor, scoreThresh?: number): [number, number] {
  s.model.eval();
  try {
    return torch.noGrad(() => torch.scope(() => {
      const dets = s.model.postprocess(forward(s, preprocess(s, images)), undefined, scoreThresh === undefined ? {} : { scoreThresh });
      return [dets.reduce((n, d) => n + d.scores.shape[0], 0), dets.reduce((acc, d) => acc + d.scores.float().sum().item(), 0)] as [number, number];
    }));
  } finally {
    s.model.train();
  }
}

/** 3 boxes per image, sides in [S/16, S/2], inside the image; labels in [1, K) (det_step.py random_targets). */
function randomTargets(): FCOSTarget[] {
  return Array.from({ length: BATCH }, () => torch.scope(() => {
    const wh = torch.rand([BOXES_PER_IMAGE, 2]).mul(SIZE / 2 - SIZE / 16).add(SIZE / 16);
    const xy = torch.rand([BOXES_PER_IMAGE, 2]).mul(wh.rsub(SIZE));
    return { boxes: torch.cat([xy, xy.add(wh)], 1).keep(), labels: torch.randint(1, CLASSES, [BOXES_PER_IMAGE]).keep() };
  }));
}

/** --check's boxes (det_step.py det_targets): box j = 3i + b of image i. */
function detTargets(): FCOSTarget[] {
  return Array.from({ length: BATCH }, (_, i) => {
    const boxes: number[][] = [], labels: number[] = [];
    for (let b = 0; b < BOXES_PER_IMAGE; b++) {
      const j = BOXES_PER_IMAGE * i + b;
      const x1 = (17 * j + 3) % Math.floor(SIZE / 2), y1 = (29 * j + 7) % Math.floor(SIZE / 2);
      const w = SIZE / 8 + ((13 * j) % Math.floor(SIZE / 4)), h = SIZE / 8 + ((23 * j + 5) % Math.floor(SIZE / 4));
      boxes.push([x1, y1, x1 + w, y1 + h]);
      labels.push((5 * j + 1) % CLASSES);
    }
    return { boxes: torch.tensor(boxes, { dtype: 'float32' }).keep(), labels: torch.tensor(labels, { dtype: 'int64' }).keep() };
  });
}

function block(s: Setup, xs: Tensor[], ys: FCOSTarget[][], state: { i: number }, steps: number): Samples {
  const out: Samples = { step_ms: [], forward_ms: [], backward_ms: [], optimizer_ms: [], infer_ms: [] };
  const live = torch.memory().tensors;
  for (let i = 0; i < steps; i++) {
    const k = state.i++ % xs.length;
    const t0 = nowMs();
    const { ph } = trainStep(s, xs[k], ys[k]);
    out.step_ms.push(nowMs() - t0);
    for (const [key, v] of Object.entries(ph)) out[key].push(v);
  }
  for (let i = 0; i < steps; i++) {
    const t0 = nowMs();
    inferBatch(s, xs[i % xs.length]);
    out.infer_ms.push(nowMs() - t0);
  }
  const grew = torch.memory().tensors - live;
  if (grew !== 0) throw new Error(`det-step: ${grew} more live tensors after ${steps} steps (memory is not flat)`);
  return out;
}

/** NMS on the same boxes as det_step.py NmsBench. */
function nmsBench(): { info: Record<string, unknown>; block: (calls: number) => Samples } {
  torch.manualSeed(0);
  const [boxes, scores, idxs] = torch.scope(() => {
    const xy = torch.rand([BOXES, 2]).mul(1000);
    const wh = torch.rand([BOXES, 2]).mul(100).add(1);
    return [torch.cat([xy, xy.add(wh)], 1).keep(), torch.rand([BOXES]).keep(), torch.randint(0, NMS_CLASSES, [BOXES]).keep()];
  });
  const kept = torch.scope(() => nms(boxes, scores, 0.5).shape[0]);
  const keptBatched = torch.scope(() => batchedNms(boxes, scores, idxs, 0.5).shape[0]);
  const run = (calls: number): Samples => {
    const out: Samples = { nms_ms: [], batched_nms_ms: [] };
    for (let i = 0; i < calls; i++) {
      const t0 = nowMs();
      torch.scope(() => nms(boxes, scores, 0.5));
      out.nms_ms.push(nowMs() - t0);
    }
    for (let i = 0; i < calls; i++) {
      const t0 = nowMs();
      torch.scope(() => batchedNms(boxes, scores, idxs, 0.5));
      out.batched_nms_ms.push(nowMs() - t0);
    }
    return out;
  };
  return { info: { boxes: BOXES, classes: NMS_CLASSES, kept, keptBatched }, block: run };
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

const info0 = { side: 'arsenal', threads: torch.getNumThreads(), libtorch: torch.info().libtorch };

if (NMS) {
  const b = nmsBench();
  b.block(1);
  const calls = intArg(args, 'block', 5);
  if (SERVE) await serve({ ...info0, ...b.info }, () => b.block(calls));
  else printSummary('nms (arsenal)', { ...info0, ...b.info }, b.block(calls * 4));
  process.exit(0);
}

if (CHECK) {
  const weights = args.get('weights') ?? `work_dirs/bench/det-check-${MODEL}.safetensors`;
  const x = torch.noGrad(() => torch.scope(() => torch.arange(0, BATCH * 3 * SIZE * SIZE).mul(37).remainder(251).to('uint8').reshape([BATCH, 3, SIZE, SIZE]).keep()));
  const y = detTargets();
  for (const amp of ['fp32', 'bf16'] as const) {
    const s = build(amp, weights);
    let steps: ReturnType<typeof trainStep>[], count: number, scoreSum: number;
    try {
      steps = [0, 1, 2].map(() => trainStep(s, x, y));
      [count, scoreSum] = inferBatch(s, x, 0.05);
    } catch (e) {
      console.log(`check ${MODEL} ${amp}: fails (${firstLine(e)})`);
      s.model.dispose();
      continue;
    }
    const sum = torch.scope(() => torch.noGrad(() => s.model.parameters().reduce((acc, p) => acc + p.abs().sum().item(), 0)));
    console.log(`check ${MODEL} ${amp}: losses ${steps.map((r) => r.loss.toFixed(6)).join(' ')}  (step 1: cls/box/ctr ${steps[0].terms.map((v) => v.toFixed(6)).join(' ')})` +
      `  detections ${count} sum(scores) ${scoreSum.toFixed(4)}  sum|params| ${sum.toFixed(4)}  (batch ${BATCH}×${SIZE}², weights ${weights})`);
    s.model.dispose();
  }
  process.exit(0);
}

torch.manualSeed(0);
const s = build(AMP);
const POOL = 2;
const xs = Array.from({ length: POOL }, () => torch.randint(0, 256, [BATCH, 3, SIZE, SIZE], { dtype: 'uint8' }).keep());
const ys = Array.from({ length: POOL }, () => randomTargets());
const state = { i: 0 };
const info = { ...info0, model: MODEL, amp: AMP, batch: BATCH, size: SIZE, classes: CLASSES };
try {
  for (let i = 0; i < WARMUP; i++) {
    trainStep(s, xs[i % POOL], ys[i % POOL]); // the first step creates SGD's momentum buffers
    inferBatch(s, xs[i % POOL]);
  }
} catch (e) {
  // A mode that fails (FCOS under bf16 autocast on libtorch 1.13: the head's GroupNorm) is reported, not a crash.
  if (SERVE) console.log('ERROR ' + JSON.stringify({ message: firstLine(e) }));
  else console.log(`det_step (arsenal) ${MODEL} ${AMP}: fails (${firstLine(e)})`);
  process.exit(SERVE ? 3 : 0);
}
const BLOCK = intArg(args, 'block', 1);
if (SERVE) {
  await serve(info, () => block(s, xs, ys, state, BLOCK));
} else {
  const samples = merge({}, block(s, xs, ys, state, STEPS));
  printSummary('det_step (arsenal)', { ...info, steps: STEPS, warmup: WARMUP }, samples);
  console.log(`  train images/s (median)  ${(BATCH * 1000 / median(samples.step_ms)).toFixed(2).padStart(10)}`);
  console.log(`  infer images/s (median)  ${(BATCH * 1000 / median(samples.infer_ms)).toFixed(2).padStart(10)}`);
}
