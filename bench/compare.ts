// Runs the Arsenal and PyTorch benchmarks side by side on this machine and
// prints one table: metric, Arsenal, PyTorch, ratio (Arsenal / PyTorch).
//
//   node dist/bench/compare.js [--threads 2] [--op-rounds 9] [--cnn-rounds 25] [--block 2]
//                              [--resnet-rounds 10] [--resnet-block 1] [--resnet-batch 128] [--resnet-warmup 2]
//                              [--data-steps 30] [--no-data-wait]
//                              [--python /usr/bin/python3] [--only op,cnn,resnet,augment,seg] [--no-python] [--no-python-resnet] [--malloc-tuned]
//                              [--models deeplabv3_resnet50,fcn_resnet50,lraspp_mobilenet_v3_large] [--seg-rounds 5] [--seg-block 1]
//                              [--seg-batch 4] [--seg-size 256] [--seg-warmup 1] [--seg-aux] [--seg-channels-last]
//                              [--det-models fcos_resnet50_fpn,fcos_resnet18_fpn] [--det-rounds 5] [--det-block 1] [--det-batch 4]
//                              [--det-size S] [--det-warmup 1] [--nms-boxes 10000] [--nms-classes 80] [--nms-rounds 10]
//
// --only takes one name or a comma-separated list (default: op, cnn, resnet, augment; augment = bench/augment-pipeline.ts vs
// augment_pipeline.py; seg = bench/seg-step.ts vs seg_step.py, det = bench/det-step.ts vs det_step.py (FCOS and NMS), only
// when asked: their ResNet-50 models take seconds to minutes a step). The
// ResNet-18 pair (bench/resnet-step.ts / resnet_step.py) runs four processes
// (Arsenal and PyTorch, fp32 and bf16 autocast), started and warmed up one at a
// time (each step is seconds of 2-thread OpenMP work), then interleaved; after
// it an Arsenal-only pass over the real Fashion-MNIST loader measures the data
// wait (--data-steps bf16 steps; --no-data-wait skips it).
//
// --malloc-tuned runs both sides with glibc malloc told to keep freed memory
// (MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_ / MALLOC_MMAP_MAX_), which
// removes the page faults of re-touching memory handed back to the OS: a
// diagnostic that separates allocator behaviour from kernel time.
//
// Each benchmark runs as a long-lived child process (--serve, see
// bench/common.ts). After every child has warmed up, the driver asks them in
// turn for one short block of measurements, rotating the order each round, so
// a burst of background load (other jobs on a shared machine) hits both sides
// alike; every number is the median over all blocks.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpus, loadavg } from 'node:os';
import { parseArgs, intArg, median, merge, type Samples } from './common.js';
import { SEG_MODEL_NAMES } from '../src/models/segmentation.js';

const args = parseArgs(process.argv.slice(2));
const THREADS = intArg(args, 'threads', 2);
const OP_ROUNDS = intArg(args, 'op-rounds', 9);
const CNN_ROUNDS = intArg(args, 'cnn-rounds', 25);
const BLOCK = intArg(args, 'block', 2);
const RESNET_ROUNDS = intArg(args, 'resnet-rounds', 10);
const RESNET_BLOCK = intArg(args, 'resnet-block', 1);
const RESNET_BATCH = intArg(args, 'resnet-batch', 128);
const RESNET_WARMUP = intArg(args, 'resnet-warmup', 2);
const DATA_STEPS = intArg(args, 'data-steps', 30);
const NO_DATA_WAIT = args.has('no-data-wait');
const PYTHON = args.get('python') ?? '/usr/bin/python3';
const NO_PYTHON = args.has('no-python');
/** run.sh passes this when the Python has torch but no torchvision: the ResNet pair then runs the Arsenal side only. */
const NO_PY_RESNET = NO_PYTHON || args.has('no-python-resnet');
const SEG_ROUNDS = intArg(args, 'seg-rounds', 5);
const SEG_BLOCK = intArg(args, 'seg-block', 1);
const SEG_BATCH = intArg(args, 'seg-batch', 4);
const SEG_SIZE = intArg(args, 'seg-size', 256);
const SEG_WARMUP = intArg(args, 'seg-warmup', 1);
const SEG_MODELS = (args.get('models') ?? 'deeplabv3_resnet50,fcn_resnet50,lraspp_mobilenet_v3_large').split(',').map((x) => x.trim()).filter((x) => x);
const DET_ROUNDS = intArg(args, 'det-rounds', 5);
const DET_BLOCK = intArg(args, 'det-block', 1);
const DET_BATCH = intArg(args, 'det-batch', 4);
const DET_SIZE = args.has('det-size') ? intArg(args, 'det-size', 1) : null; // null: det-step's per-model size (256 / 160)
const DET_WARMUP = intArg(args, 'det-warmup', 1);
const DET_MODELS = (args.get('det-models') ?? 'fcos_resnet50_fpn,fcos_resnet18_fpn').split(',').map((x) => x.trim()).filter((x) => x);
const NMS_BOXES = intArg(args, 'nms-boxes', 10000);
const NMS_CLASSES = intArg(args, 'nms-classes', 80);
const NMS_ROUNDS = intArg(args, 'nms-rounds', 10);
const BENCHES = ['op', 'cnn', 'resnet', 'augment', 'seg', 'det'] as const;
/** Without --only: all but seg and det (one segmentation or detection model's pair is minutes). */
const DEFAULT_BENCHES = ['op', 'cnn', 'resnet', 'augment'];
const ONLY = new Set((args.get('only') ?? DEFAULT_BENCHES.join(',')).split(',').map((x) => x.trim()));
for (const o of ONLY) if (!(BENCHES as readonly string[]).includes(o)) throw new TypeError(`--only: expected ${BENCHES.join(', ')} (or a comma-separated list), got '${o}'`);

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const root = join(here, '../..');
const MALLOC_TUNED = args.has('malloc-tuned');
const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(THREADS) }; // OpenMP and OpenBLAS pools alike on both sides
if (MALLOC_TUNED) Object.assign(env, { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(1 << 30), MALLOC_TOP_PAD_: String(64 << 20), MALLOC_MMAP_MAX_: '0' });

/** What the children said about themselves (libtorch / torch versions). */
const seen: Record<string, unknown> = {};

/** A benchmark child speaking the READY / run / RESULT protocol. */
class Child {
  readonly name: string;
  private proc: ChildProcess;
  private lines: string[] = [];
  private waiter: ((line: string | null) => void) | null = null;
  private closed = false;
  private stderr = '';
  info: Record<string, unknown> = {};
  private readyP: Promise<void> | null = null;

  constructor(name: string, cmd: string, argv: string[]) {
    this.name = name;
    this.proc = spawn(cmd, argv, { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      process.stderr.write(`[${name}] ${d}`);
    });
    const rl = createInterface({ input: this.proc.stdout!, terminal: false });
    rl.on('line', (line) => {
      if (!/^(READY|RESULT|ERROR) /.test(line)) {
        process.stderr.write(`[${name}] ${line}\n`);
        return;
      }
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(line);
      } else this.lines.push(line);
    });
    rl.on('close', () => {
      this.closed = true;
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(null);
      }
    });
    this.proc.on('error', (e) => {
      this.stderr += String(e);
      this.closed = true;
      this.waiter?.(null);
    });
  }

  private next(): Promise<string | null> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift()!);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private async expect(tag: 'READY' | 'RESULT'): Promise<any> {
    const line = await this.next();
    if (line === null) throw new Error(`${this.name} exited before ${tag}${this.stderr ? ':\n' + this.stderr.trim().split('\n').slice(-8).join('\n') : ''}`);
    const sp = line.indexOf(' ');
    const [t, body] = [line.slice(0, sp), JSON.parse(line.slice(sp + 1))];
    if (t === 'ERROR') throw new Error(`${this.name}: ${body.message}`);
    if (t !== tag) throw new Error(`${this.name}: expected ${tag}, got ${t}`);
    return body;
  }

  /** Waits for READY (set-up and warm-up done); later calls return the same promise. */
  ready(): Promise<void> {
    this.readyP ??= this.expect('READY').then((info) => {
      this.info = info;
      Object.assign(seen, info);
    });
    return this.readyP;
  }

  async run(): Promise<Samples> {
    this.proc.stdin!.write('run\n');
    return (await this.expect('RESULT')).samples as Samples;
  }

  quit(): void {
    if (!this.proc.stdin!.destroyed) this.proc.stdin!.end('quit\n');
  }
}

/**
 * Starts children one at a time, each after the previous one is READY, so heavy
 * warm-ups do not run at once and oversubscribe the cores. On an error the
 * children started so far are told to quit.
 */
async function startOneByOne(factories: (() => Child)[]): Promise<Child[]> {
  const started: Child[] = [];
  try {
    for (const make of factories) {
      const c = make();
      started.push(c);
      if (process.stderr.isTTY) process.stderr.write(`\rwarming up ${c.name}...          `);
      await c.ready();
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    return started;
  } catch (e) {
    for (const c of started) c.quit();
    throw e;
  }
}

/** Warms every child up, then `rounds` rounds of one block each, rotating the order. */
async function interleave(children: Child[], rounds: number, label: string): Promise<Map<Child, Samples[]>> {
  try {
    await Promise.all(children.map((c) => c.ready()));
    const out = new Map<Child, Samples[]>(children.map((c) => [c, []]));
    for (let r = 0; r < rounds; r++) {
      if (process.stderr.isTTY) process.stderr.write(`\r${label}: round ${r + 1}/${rounds}   `);
      for (let j = 0; j < children.length; j++) {
        const c = children[(r + j) % children.length];
        out.get(c)!.push(await c.run());
        await sleep(20); // let the previous process's OpenMP workers go idle
      }
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    return out;
  } finally {
    for (const c of children) c.quit();
  }
}

/** A string cell is printed as it is ('fails': the side could not run it). */
type Row = [metric: string, arsenal: number | string, pytorch: number | string | null, digits: number];
const rows: Row[] = [];
const notes: string[] = [];
/** Extra blocks of lines printed after the table (the ResNet-18 throughput summary). */
const sections: string[][] = [];
const targets: string[] = [];
const med = (s: Samples | undefined, k: string): number | null => (s && s[k] ? median(s[k]) : null);
const all = (blocks: Samples[] | undefined): Samples | undefined => (blocks ? blocks.reduce((acc, b) => merge(acc, b), {} as Samples) : undefined);

/** Robustness check: the median over rounds of (Arsenal's block median / PyTorch's block
 * median in the same round), and the ratio of the fastest samples. */
function paired(a: Samples[], ka: string, p: Samples[], kp: string): string {
  const rs = a.map((b, i) => median(b[ka]) / median(p[i][kp]));
  const mins = Math.min(...a.flatMap((b) => b[ka])) / Math.min(...p.flatMap((b) => b[kp]));
  return `per-round paired ratio ${median(rs).toFixed(2)}× (rounds ${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}), ratio of minima ${mins.toFixed(2)}×`;
}

/** Markdown table: first column left-aligned, the others right-aligned. */
function mdTable(header: string[], body: string[][]): string[] {
  const w = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ') + ' |';
  return [line(header), '|' + w.map((n, i) => (i === 0 ? '-'.repeat(n + 2) : '-'.repeat(n + 1) + ':')).join('|') + '|', ...body.map(line)];
}

async function opOverhead(): Promise<void> {
  const ts = new Child('arsenal op', process.execPath, ['--expose-gc', join(here, 'op-overhead.js'), '--serve', '--threads', String(THREADS)]);
  const py = NO_PYTHON ? null : new Child('pytorch op', PYTHON, [join(root, 'bench/op_overhead.py'), '--serve', '--threads', String(THREADS)]);
  const res = await interleave(py ? [ts, py] : [ts], OP_ROUNDS, 'op overhead');
  const a = all(res.get(ts))!;
  const p = py ? all(res.get(py)) : undefined;
  const pyAdd = med(p, 'a_plus_b_us');
  rows.push(['op a.add(b), 4 floats, µs/call: in torch.scope', med(a, 'scope_us')!, pyAdd, 3]);
  rows.push(['op ... with dispose()', med(a, 'dispose_us')!, pyAdd, 3]);
  rows.push(['op ... unscoped (finalizer + GC)', med(a, 'unscoped_us')!, pyAdd, 3]);
  rows.push(['op ... raw native call+free, no Tensor', med(a, 'raw_native_us')!, pyAdd, 3]);
  if (p) {
    notes.push(`PyTorch column for ops: eager \`a + b\` (a.add(b): ${med(p, 'a_add_b_us')!.toFixed(3)} µs)`);
    notes.push(`op in torch.scope: ${paired(res.get(ts)!, 'scope_us', res.get(py!)!, 'a_plus_b_us')}`);
  }
  targets.push('op overhead ≤ 1.5 µs/call');
}

async function cnnStep(): Promise<void> {
  const cnnArgs = ['--serve', '--threads', String(THREADS), '--block', String(BLOCK)];
  const ts = new Child('arsenal cnn', process.execPath, [join(here, 'cnn-step.js'), ...cnnArgs]);
  const pyF = NO_PYTHON ? null : new Child('pytorch cnn foreach', PYTHON, [join(root, 'bench/cnn_step.py'), ...cnnArgs, '--foreach', '1']);
  const pyL = NO_PYTHON ? null : new Child('pytorch cnn for-loop', PYTHON, [join(root, 'bench/cnn_step.py'), ...cnnArgs, '--foreach', '0']);
  const res = await interleave([ts, pyF, pyL].filter((c): c is Child => c !== null), CNN_ROUNDS, 'cnn step');
  const a = all(res.get(ts))!;
  const f = pyF ? all(res.get(pyF)) : undefined;
  const l = pyL ? all(res.get(pyL)) : undefined;
  rows.push(['CNN train step, ms (vs Adam foreach=True)', med(a, 'step_ms')!, med(f, 'step_ms'), 2]);
  rows.push(['CNN train step, ms (vs Adam foreach=False)', med(a, 'step_ms')!, med(l, 'step_ms'), 2]);
  rows.push(['  forward + loss, ms', med(a, 'forward_ms')!, med(f, 'forward_ms'), 2]);
  rows.push(['  backward, ms', med(a, 'backward_ms')!, med(f, 'backward_ms'), 2]);
  rows.push(['  Adam step, ms (foreach)', med(a, 'optimizer_ms')!, med(f, 'optimizer_ms'), 3]);
  rows.push(['  zero_grad (set to none), ms', med(a, 'zero_grad_ms')!, med(f, 'zero_grad_ms'), 3]);
  rows.push(['  minor page faults per step', med(a, 'page_faults')!, med(f, 'page_faults'), 0]);
  if (pyF) notes.push(`CNN step vs foreach=True: ${paired(res.get(ts)!, 'step_ms', res.get(pyF)!, 'step_ms')}`);
  if (pyL) notes.push(`CNN step vs foreach=False: ${paired(res.get(ts)!, 'step_ms', res.get(pyL)!, 'step_ms')}`);
  if (l) notes.push(`PyTorch Adam foreach=False phases: forward ${med(l, 'forward_ms')!.toFixed(2)}, backward ${med(l, 'backward_ms')!.toFixed(2)}, step ${med(l, 'optimizer_ms')!.toFixed(3)} ms, ${med(l, 'page_faults')!.toFixed(0)} page faults/step`);
  notes.push(`CNN: ${CNN_ROUNDS} blocks × ${BLOCK} steps per side after warm-up; batch 64×1×28×28`);
  targets.push('CNN step ≤ 1.10× PyTorch');
}

async function resnetStep(): Promise<void> {
  const common = ['--serve', '--threads', String(THREADS), '--block', String(RESNET_BLOCK), '--batch', String(RESNET_BATCH), '--warmup', String(RESNET_WARMUP)];
  const arsenal = (amp: string) => () => new Child(`arsenal resnet ${amp}`, process.execPath, [join(here, 'resnet-step.js'), ...common, '--amp', amp]);
  const pytorch = (amp: string) => () => new Child(`pytorch resnet ${amp}`, PYTHON, [join(root, 'bench/resnet_step.py'), ...common, '--amp', amp]);
  const children = await startOneByOne(NO_PY_RESNET ? [arsenal('fp32'), arsenal('bf16')] : [arsenal('fp32'), arsenal('bf16'), pytorch('fp32'), pytorch('bf16')]);
  const [aF, aB, pF, pB] = children as (Child | undefined)[];
  const res = await interleave(children, RESNET_ROUNDS, 'resnet-18 step');
  const A32 = all(res.get(aF!))!, A16 = all(res.get(aB!))!;
  const P32 = pF ? all(res.get(pF)) : undefined, P16 = pB ? all(res.get(pB)) : undefined;
  rows.push(['ResNet-18 train step fp32, ms', med(A32, 'step_ms')!, med(P32, 'step_ms'), 1]);
  rows.push(['  forward + loss, ms', med(A32, 'forward_ms')!, med(P32, 'forward_ms'), 1]);
  rows.push(['  backward, ms', med(A32, 'backward_ms')!, med(P32, 'backward_ms'), 1]);
  rows.push(['  SGD step + zero_grad + item, ms', med(A32, 'optimizer_ms')!, med(P32, 'optimizer_ms'), 2]);
  rows.push(['  minor page faults per step', med(A32, 'page_faults')!, med(P32, 'page_faults'), 0]);
  rows.push(['ResNet-18 train step bf16 autocast, ms', med(A16, 'step_ms')!, med(P16, 'step_ms'), 1]);
  rows.push(['  forward + loss, ms', med(A16, 'forward_ms')!, med(P16, 'forward_ms'), 1]);
  rows.push(['  backward, ms', med(A16, 'backward_ms')!, med(P16, 'backward_ms'), 1]);
  rows.push(['  SGD step + zero_grad + item, ms', med(A16, 'optimizer_ms')!, med(P16, 'optimizer_ms'), 2]);
  rows.push(['  minor page faults per step', med(A16, 'page_faults')!, med(P16, 'page_faults'), 0]);
  rows.push(['ResNet-18 step, Arsenal bf16 vs PyTorch fp32, ms', med(A16, 'step_ms')!, med(P32, 'step_ms'), 1]);

  // Throughput (images/s = batch / median step time) and the ratios the issue sets targets for.
  const ips = (s: Samples | undefined) => (s ? (RESNET_BATCH * 1000) / med(s, 'step_ms')! : null);
  const fmtIps = (x: number | null) => (x === null ? '—' : x.toFixed(1));
  const runs: [string, Samples | undefined][] = [['Arsenal fp32', A32], ['Arsenal bf16', A16], ['PyTorch fp32', P32], ['PyTorch bf16', P16]];
  const lines = [
    `ResNet-18 (small stem: conv3x3 s1, no max-pool), batch ${RESNET_BATCH}×1×28×28, SGD(lr 0.1, momentum 0.9, wd 5e-4), ` +
      `${THREADS} thread(s); medians of ${RESNET_ROUNDS} blocks × ${RESNET_BLOCK} step(s) per run after ${RESNET_WARMUP} warm-up steps`,
    '',
    ...mdTable(['run', 'ms/step', 'images/s'], runs.map(([n, s]) => [n, s ? med(s, 'step_ms')!.toFixed(1) : '—', fmtIps(ips(s))])),
    '',
  ];
  /** Per-round paired throughput ratio: median over rounds of (denominator's block ms / numerator's block ms). */
  const pairedIps = (num: Child, den: Child): string => {
    const a = res.get(num)!, p = res.get(den)!;
    const rs = a.map((b, i) => median(p[i].step_ms) / median(b.step_ms));
    return `${median(rs).toFixed(3)}× (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`;
  };
  const ratioRows: string[][] = [];
  const ratio = (label: string, num: Child, numS: Samples, den: Child | undefined, denS: Samples | undefined, target: number | null): void => {
    if (!den || !denS) {
      ratioRows.push([label, '—', '—', target === null ? '—' : `≥ ${target}`]);
      return;
    }
    const r = ips(numS)! / ips(denS)!;
    const verdict = target === null ? '—' : `≥ ${target} ${r >= target ? 'met' : 'NOT met'}`;
    ratioRows.push([label, r.toFixed(3) + '×', pairedIps(num, den), verdict]);
  };
  ratio('Arsenal fp32 / PyTorch fp32', aF!, A32, pF, P32, 0.95);
  ratio('Arsenal bf16 / PyTorch fp32', aB!, A16, pF, P32, 1.9);
  ratio('Arsenal bf16 / PyTorch bf16', aB!, A16, pB, P16, null);
  ratio('Arsenal bf16 / Arsenal fp32', aB!, A16, aF, A32, null);
  lines.push(...mdTable(['throughput ratio (images/s)', 'of medians', 'per-round paired (range)', 'target'], ratioRows));
  targets.push('ResNet-18 throughput Arsenal fp32 ≥ 0.95× PyTorch fp32, Arsenal bf16 ≥ 1.9× PyTorch fp32');

  if (!NO_DATA_WAIT) {
    // Data starvation, Arsenal only, alone on the machine: the trainer's loop over the real loader.
    const dw = await startOneByOne([() => new Child('arsenal data wait', process.execPath, [join(here, 'resnet-step.js'), '--data-wait', '--serve',
      '--amp', 'bf16', '--threads', String(THREADS), '--batch', String(RESNET_BATCH), '--warmup', String(RESNET_WARMUP), '--steps', String(DATA_STEPS)])]);
    const d = (await interleave(dw, 1, 'data wait')).get(dw[0])![0];
    const share = d.wait_s[0] / d.total_s[0];
    lines.push('');
    lines.push(`Data wait (Arsenal, the trainer's loop: fashionMnist train + DataLoader batch ${RESNET_BATCH}, shuffle, prefetch 2, bf16 step): ` +
      `loader.waitSeconds ${(d.wait_s[0] * 1000).toFixed(1)} ms of ${d.total_s[0].toFixed(1)} s over ${d.steps[0]} steps = ${(100 * share).toFixed(2)}% ` +
      `(target < 5%: ${share < 0.05 ? 'met' : 'NOT met'}); median step ${median(d.step_ms).toFixed(1)} ms`);
    targets.push('data wait < 5% of step time');
  }
  sections.push(lines);
  if (!NO_PY_RESNET) notes.push(`ResNet-18: PyTorch is torchvision ${seen.torchvision ?? '?'} resnet18(num_classes=10), conv1 → Conv2d(1,64,3,1,1), maxpool → Identity, ` +
    `torch.optim.SGD(foreach=True); both sides preprocess uint8 → float/255 → normalise inside the step and read loss.item(); ` +
    `\`node dist/bench/resnet-step.js --check\` and \`${PYTHON} bench/resnet_step.py --check\` print the same losses`);
}

async function augmentPipeline(): Promise<void> {
  const lines: string[] = ['', 'Augmentation pipeline (RandomFlip 0.5 + RandomCrop padding 4 + RandomErasing 0.5, batch 128, normalised float input): Arsenal batch ops vs torchvision per-sample transforms + stack'];
  const body: string[][] = [];
  for (const [size, ch, target] of [[28, 1, 3], [224, 3, 1.2]] as const) {
    const a = ['--serve', '--threads', String(THREADS), '--size', String(size), '--channels', String(ch), '--block', String(size > 100 ? 2 : 5)];
    const ts = new Child(`arsenal augment ${size}`, process.execPath, [join(here, 'augment-pipeline.js'), ...a]);
    const py = NO_PY_RESNET || NO_PYTHON ? null : new Child(`torchvision augment ${size}`, PYTHON, [join(root, 'bench/augment_pipeline.py'), ...a]);
    const res = await interleave(py ? [ts, py] : [ts], size > 100 ? 5 : 10, `augment ${size}`);
    const am = med(all(res.get(ts)), 'pipeline_ms')!;
    const pm = py ? med(all(res.get(py)), 'pipeline_ms') : null;
    rows.push([`augment pipeline ${ch}×${size}×${size}, batch 128, ms`, am, pm, 2]);
    const speed = pm === null ? '—' : `${(pm / am).toFixed(2)}×`;
    body.push([`${ch}×${size}×${size}`, (128 / am * 1000).toFixed(0), pm === null ? '—' : (128 / pm * 1000).toFixed(0), speed, `≥ ${target}× (${pm === null ? 'not measured' : pm / am >= target ? 'met' : 'NOT met'})`]);
    targets.push(`augment pipeline ${ch}×${size}×${size} ≥ ${target}× torchvision`);
  }
  lines.push(...mdTable(['images', 'Arsenal images/s', 'torchvision images/s', 'speed-up', 'target'], body));
  lines.push('The pipeline runs inside the training step; its share of a bf16 ResNet-18 step at batch 128 is the first row\'s ms over that step\'s (`--only resnet`).');
  sections.push(lines);
}

/**
 * Segmentation (bench/seg-step.ts / seg_step.py), per model by name: four processes
 * (Arsenal and PyTorch × fp32 and bf16 autocast) started one by one, then rounds
 * of one block each (training steps, then inference batches). A name this build
 * of Arsenal or this torchvision lacks is skipped with a note.
 */
async function segStep(): Promise<void> {
  const common = ['--serve', '--threads', String(THREADS), '--block', String(SEG_BLOCK), '--batch', String(SEG_BATCH), '--size', String(SEG_SIZE),
    '--warmup', String(SEG_WARMUP), ...(args.has('seg-aux') ? ['--aux'] : []), ...(args.has('seg-channels-last') ? ['--channels-last'] : [])];
  const lines: string[] = ['', `Segmentation, batch ${SEG_BATCH}×3×${SEG_SIZE}×${SEG_SIZE}, 21 classes, SGD(lr 0.01, momentum 0.9, wd 1e-4), CE ignore 255` +
    `${args.has('seg-aux') ? ' + 0.5·aux CE (models with an aux head)' : ''}${args.has('seg-channels-last') ? ', channels-last' : ''}, ${THREADS} thread(s); ` +
    `medians of ${SEG_ROUNDS} blocks × ${SEG_BLOCK} train step(s) + ${SEG_BLOCK} inference batch(es) per run after ${SEG_WARMUP} warm-up`];
  const ips = (s: Samples | undefined, k: string) => (s ? (SEG_BATCH * 1000) / med(s, k)! : null);
  const f = (x: number | null, d = 2) => (x === null ? '—' : x.toFixed(d));
  for (const name of SEG_MODELS) {
    if (!(SEG_MODEL_NAMES as string[]).includes(name)) {
      const msg = `seg: ${name} skipped: not in this build's src/models/segmentation.ts (it has ${SEG_MODEL_NAMES.join(', ')})`;
      console.error(msg);
      notes.push(msg);
      continue;
    }
    const arsenal = (amp: string) => () => new Child(`arsenal ${name} ${amp}`, process.execPath, [join(here, 'seg-step.js'), ...common, '--model', name, '--amp', amp]);
    const pytorch = (amp: string) => () => new Child(`pytorch ${name} ${amp}`, PYTHON, [join(root, 'bench/seg_step.py'), ...common, '--model', name, '--amp', amp]);
    let children: Child[];
    try {
      children = await startOneByOne(NO_PY_RESNET ? [arsenal('fp32'), arsenal('bf16')] : [arsenal('fp32'), arsenal('bf16'), pytorch('fp32'), pytorch('bf16')]);
    } catch (e) {
      const msg = `seg: ${name} skipped: ${(e as Error).message.split('\n')[0]}`;
      console.error(msg);
      notes.push(msg);
      continue;
    }
    const [aF, aB, pF, pB] = children as (Child | undefined)[];
    const res = await interleave(children, SEG_ROUNDS, `${name}`);
    const A32 = all(res.get(aF!))!, A16 = all(res.get(aB!))!;
    const P32 = pF ? all(res.get(pF)) : undefined, P16 = pB ? all(res.get(pB)) : undefined;
    const aux = aF!.info.aux ? ' (+aux)' : '';
    if (pF && pF.info.aux !== aF!.info.aux) notes.push(`seg ${name}: the aux heads differ (Arsenal ${aF!.info.aux}, PyTorch ${pF.info.aux})`);
    rows.push([`${name}${aux} train step fp32, ms`, med(A32, 'step_ms')!, med(P32, 'step_ms'), 0]);
    rows.push(['  forward + loss, ms', med(A32, 'forward_ms')!, med(P32, 'forward_ms'), 0]);
    rows.push(['  backward, ms', med(A32, 'backward_ms')!, med(P32, 'backward_ms'), 0]);
    rows.push(['  SGD step + zero_grad + item, ms', med(A32, 'optimizer_ms')!, med(P32, 'optimizer_ms'), 1]);
    rows.push([`${name}${aux} train step bf16 autocast, ms`, med(A16, 'step_ms')!, med(P16, 'step_ms'), 0]);
    rows.push([`${name} inference fp32, ms/batch`, med(A32, 'infer_ms')!, med(P32, 'infer_ms'), 0]);
    rows.push([`${name} inference bf16 autocast, ms/batch`, med(A16, 'infer_ms')!, med(P16, 'infer_ms'), 0]);

    const runs: [string, Samples | undefined][] = [['Arsenal fp32', A32], ['Arsenal bf16', A16], ['PyTorch fp32', P32], ['PyTorch bf16', P16]];
    lines.push('', `${name}${aux}:`, '');
    lines.push(...mdTable(['run', 'train ms/step', 'train images/s', 'infer ms/batch', 'infer images/s'],
      runs.map(([n, s]) => [n, f(s ? med(s, 'step_ms') : null, 0), f(ips(s, 'step_ms')), f(s ? med(s, 'infer_ms') : null, 0), f(ips(s, 'infer_ms'))])));
    const ratioRows: string[][] = [];
    const ratio = (label: string, key: string, num: Child, den: Child | undefined, target: number | null): void => {
      const numS = all(res.get(num))!, denS = den ? all(res.get(den)) : undefined;
      if (!den || !denS) {
        ratioRows.push([label, '—', '—', target === null ? '—' : `≥ ${target}`]);
        return;
      }
      const r = ips(numS, key)! / ips(denS, key)!;
      const a = res.get(num)!, p = res.get(den)!;
      const rs = a.map((b, i) => median(p[i][key]) / median(b[key]));
      ratioRows.push([label, r.toFixed(3) + '×', `${median(rs).toFixed(3)}× (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`,
        target === null ? '—' : `≥ ${target} ${r >= target ? 'met' : 'NOT met'}`]);
    };
    ratio('train: Arsenal fp32 / PyTorch fp32', 'step_ms', aF!, pF, 1.0);
    ratio('train: Arsenal bf16 / PyTorch fp32', 'step_ms', aB!, pF, 1.8);
    ratio('train: Arsenal bf16 / PyTorch bf16', 'step_ms', aB!, pB, null);
    ratio('infer: Arsenal fp32 / PyTorch fp32', 'infer_ms', aF!, pF, 1.0);
    ratio('infer: Arsenal bf16 / PyTorch fp32', 'infer_ms', aB!, pF, 1.8);
    ratio('infer: Arsenal bf16 / PyTorch bf16', 'infer_ms', aB!, pB, null);
    lines.push('', ...mdTable(['throughput ratio (images/s)', 'of medians', 'per-round paired (range)', 'target'], ratioRows));
  }
  sections.push(lines);
  targets.push('segmentation throughput (train and inference) Arsenal fp32 ≥ 1.0× torchvision fp32, Arsenal bf16 ≥ 1.8× torchvision fp32');
  if (!NO_PY_RESNET) notes.push(`segmentation: PyTorch is torchvision ${seen.torchvision ?? '?'} segmentation.<model>(weights=None, weights_backbone=None, num_classes=21), ` +
    `torch.optim.SGD(foreach=True); \`node dist/bench/seg-step.js --check --model M\` and \`${PYTHON} bench/seg_step.py --check --model M\` print the same losses`);
}

/** Starts children one at a time, each after the previous one is READY; one that fails to start (ERROR) is returned as its error, the others keep running. */
async function startEach(factories: (() => Child)[]): Promise<(Child | Error)[]> {
  const out: (Child | Error)[] = [];
  for (const make of factories) {
    const c = make();
    if (process.stderr.isTTY) process.stderr.write(`\rwarming up ${c.name}...          `);
    try {
      await c.ready();
      out.push(c);
    } catch (e) {
      out.push(e as Error); // the child exits after its ERROR line
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  return out;
}

const DET_BENCH_MODELS = ['fcos_resnet50_fpn', 'fcos_resnet18_fpn'];

/**
 * Detection (bench/det-step.ts / det_step.py): per model, four processes (Arsenal and
 * torchvision × fp32 and bf16 autocast) started one by one; a mode that fails (torchvision's
 * FCOS under bf16 autocast) is shown as 'fails'. Then NMS: one process a side, nms and
 * batched_nms on the same random boxes.
 */
async function detStep(): Promise<void> {
  const common = ['--serve', '--threads', String(THREADS), '--block', String(DET_BLOCK), '--batch', String(DET_BATCH),
    '--warmup', String(DET_WARMUP), ...(DET_SIZE === null ? [] : ['--size', String(DET_SIZE)])];
  const lines: string[] = ['', `Detection (FCOS), batch ${DET_BATCH}, 91 classes, 3 random boxes per image, SGD(lr 0.01, momentum 0.9, wd 1e-4), ` +
    `${THREADS} thread(s); medians of ${DET_ROUNDS} blocks × ${DET_BLOCK} train step(s) + ${DET_BLOCK} inference batch(es) (forward + postprocess) ` +
    `per run after ${DET_WARMUP} warm-up`];
  const f = (x: number | null, d: number) => (x === null ? '—' : x.toFixed(d));
  for (const name of DET_MODELS) {
    if (!DET_BENCH_MODELS.includes(name)) {
      const msg = `det: ${name} skipped: det-step knows ${DET_BENCH_MODELS.join(', ')}`;
      console.error(msg);
      notes.push(msg);
      continue;
    }
    const arsenal = (amp: string) => () => new Child(`arsenal ${name} ${amp}`, process.execPath, [join(here, 'det-step.js'), ...common, '--model', name, '--amp', amp]);
    const pytorch = (amp: string) => () => new Child(`torchvision ${name} ${amp}`, PYTHON, [join(root, 'bench/det_step.py'), ...common, '--model', name, '--amp', amp]);
    const started = await startEach(NO_PY_RESNET ? [arsenal('fp32'), arsenal('bf16')] : [arsenal('fp32'), arsenal('bf16'), pytorch('fp32'), pytorch('bf16')]);
    const children = started.filter((c): c is Child => c instanceof Child);
    for (const e of started) if (e instanceof Error) notes.push(`det: ${e.message.split('\n')[0]}`);
    const res = children.length ? await interleave(children, DET_ROUNDS, name) : new Map<Child, Samples[]>();
    // [child or its error or undefined when not run, its merged samples]
    const runs = (['Arsenal fp32', 'Arsenal bf16', 'torchvision fp32', 'torchvision bf16'] as const).map((label, i) => {
      const c = started[i];
      return { label, child: c instanceof Child ? c : undefined, state: c === undefined ? '—' : c instanceof Error ? 'fails' : null, s: c instanceof Child ? all(res.get(c)) : undefined };
    });
    const [aF, aB, pF, pB] = runs;
    const size = (aF.child ?? aB.child)?.info.size ?? DET_SIZE ?? '?';
    const v = (r: (typeof runs)[number], k: string): number | string | null => (r.s ? med(r.s, k)! : r.state === 'fails' ? 'fails' : null);
    const pushRow = (label: string, a: (typeof runs)[number], p: (typeof runs)[number], k: string, d: number) => {
      const av = v(a, k);
      if (av !== null) rows.push([label, av, v(p, k), d]);
    };
    pushRow(`${name} ${size}² train step fp32, ms`, aF, pF, 'step_ms', 0);
    pushRow('  forward + loss, ms', aF, pF, 'forward_ms', 0);
    pushRow('  backward, ms', aF, pF, 'backward_ms', 0);
    pushRow('  SGD step + zero_grad + item, ms', aF, pF, 'optimizer_ms', 1);
    pushRow(`${name} ${size}² train step bf16 autocast, ms`, aB, pB, 'step_ms', 0);
    pushRow(`${name} ${size}² inference fp32, ms/batch`, aF, pF, 'infer_ms', 0);
    pushRow(`${name} ${size}² inference bf16 autocast, ms/batch`, aB, pB, 'infer_ms', 0);

    const ips = (r: (typeof runs)[number], k: string) => (r.s ? (DET_BATCH * 1000) / med(r.s, k)! : null);
    const txt = (r: (typeof runs)[number], k: string, d: number) => (r.s ? f(med(r.s, k), d) : r.state!);
    lines.push('', `${name}, ${size}×${size}:`, '');
    lines.push(...mdTable(['run', 'train ms/step', 'train images/s', 'infer ms/batch', 'infer images/s'],
      runs.map((r) => [r.label, txt(r, 'step_ms', 0), r.s ? f(ips(r, 'step_ms'), 2) : r.state!, txt(r, 'infer_ms', 0), r.s ? f(ips(r, 'infer_ms'), 2) : r.state!])));
    const ratioRows: string[][] = [];
    const ratio = (label: string, key: string, num: (typeof runs)[number], den: (typeof runs)[number]): void => {
      if (!num.child || !den.child) {
        ratioRows.push([label, num.state === 'fails' || den.state === 'fails' ? 'fails' : '—', '—']);
        return;
      }
      const a = res.get(num.child)!, p = res.get(den.child)!;
      const rs = a.map((b, i) => median(p[i][key]) / median(b[key]));
      ratioRows.push([label, (ips(num, key)! / ips(den, key)!).toFixed(3) + '×', `${median(rs).toFixed(3)}× (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`]);
    };
    ratio('train: Arsenal fp32 / torchvision fp32', 'step_ms', aF, pF);
    ratio('train: Arsenal bf16 / torchvision fp32', 'step_ms', aB, pF);
    ratio('train: Arsenal bf16 / torchvision bf16', 'step_ms', aB, pB);
    ratio('infer: Arsenal fp32 / torchvision fp32', 'infer_ms', aF, pF);
    ratio('infer: Arsenal bf16 / torchvision fp32', 'infer_ms', aB, pF);
    ratio('infer: Arsenal bf16 / torchvision bf16', 'infer_ms', aB, pB);
    lines.push('', ...mdTable(['throughput ratio (images/s)', 'of medians', 'per-round paired (range)'], ratioRows));
  }

  // NMS: one process a side, rotating blocks of 5 nms calls then 5 batched_nms calls.
  const nmsArgs = ['--nms', '--serve', '--threads', String(THREADS), '--boxes', String(NMS_BOXES), '--nms-classes', String(NMS_CLASSES), '--block', '5'];
  const an = new Child('arsenal nms', process.execPath, [join(here, 'det-step.js'), ...nmsArgs]);
  const pn = NO_PY_RESNET ? null : new Child('torchvision nms', PYTHON, [join(root, 'bench/det_step.py'), ...nmsArgs]);
  const nres = await interleave(pn ? [an, pn] : [an], NMS_ROUNDS, 'nms');
  const A = all(nres.get(an))!, P = pn ? all(nres.get(pn)) : undefined;
  rows.push([`nms, ${NMS_BOXES} random boxes, IoU 0.5, ms/call`, med(A, 'nms_ms')!, med(P, 'nms_ms'), 3]);
  rows.push([`batched_nms, ${NMS_BOXES} boxes, ${NMS_CLASSES} classes, ms/call`, med(A, 'batched_nms_ms')!, med(P, 'batched_nms_ms'), 3]);
  if (pn) {
    const same = an.info.kept === pn.info.kept && an.info.keptBatched === pn.info.keptBatched;
    notes.push(`NMS kept boxes: Arsenal ${an.info.kept} (batched ${an.info.keptBatched}), torchvision ${pn.info.kept} (batched ${pn.info.keptBatched})${same ? '' : ': THEY DIFFER'}; ` +
      `nms ${paired(nres.get(an)!, 'nms_ms', nres.get(pn)!, 'nms_ms')}; batched ${paired(nres.get(an)!, 'batched_nms_ms', nres.get(pn)!, 'batched_nms_ms')}`);
  }
  sections.push(lines);
  targets.push('detection and NMS: none set (measured)');
  if (!NO_PY_RESNET) notes.push(`detection: torchvision ${seen.torchvision ?? '?'} fcos_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91, min_size=S, max_size=S) ` +
    `(its GeneralizedRCNNTransform only normalises at S×S) and the same on ResNet-18 (FPN/head 128, 2 convs); torch.optim.SGD(foreach=True); ` +
    `\`${PYTHON} bench/det_step.py --check --model M\` then \`node dist/bench/det-step.js --check --model M\` print the same losses`);
}

function printTable(): void {
  const header = ['metric', 'Arsenal', 'PyTorch', 'ratio'];
  const cell = (v: number | string | null, d: number) => (v === null ? '—' : typeof v === 'string' ? v : v.toFixed(d));
  const body = rows.map(([m, a, p, d]) => [m, cell(a, d), cell(p, d), typeof a !== 'number' || typeof p !== 'number' || p === 0 ? '—' : (a / p).toFixed(2) + '×']);
  for (const l of mdTable(header, body)) console.log(l);
}

const t0 = Date.now();
const load0 = loadavg()[0];
if (ONLY.has('op')) await opOverhead();
if (ONLY.has('cnn')) await cnnStep();
if (ONLY.has('resnet')) await resnetStep();
if (ONLY.has('augment')) await augmentPipeline();
if (ONLY.has('seg')) await segStep();
if (ONLY.has('det')) await detStep();
console.log('');
console.log(`Arsenal (libtorch ${seen.libtorch ?? '?'}, node ${process.version}) vs PyTorch ${seen.torch ?? '(not run)'} (${PYTHON}), ` +
  `${THREADS} thread(s) each${MALLOC_TUNED ? ', malloc tuned (--malloc-tuned)' : ''}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); medians; ratio = Arsenal / PyTorch, lower is better`);
console.log('');
printTable();
console.log('');
for (const sec of sections) {
  for (const l of sec) console.log(l);
  console.log('');
}
for (const n of notes) console.log(`- ${n}`);
console.log(`- 1-min load average ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end, on ${cpus().length} CPUs: ` +
  `with other work running, timings (2-thread OpenMP especially) inflate; compare the paired ratios and rerun when the machine is quiet`);
console.log(`- targets: ${targets.join('; ')} (took ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
