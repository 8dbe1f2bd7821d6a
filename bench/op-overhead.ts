// Per-call overhead of a small operator: `a.add(b)` on two 4-element float32
// tensors, so the time is the binding's (argument conversion, dispatch, the
// result's JS object and its lifetime), not the kernel's.
//
// Three ways a result's memory is reclaimed (docs/architecture.md §2):
//   scope     torch.scope(() => 100 × a.add(b))       the scope frees them
//   dispose   a.add(b).dispose()                      freed at once
//   unscoped  a.add(b), dropped                       FinalizationRegistry; the
//             loop yields to the event loop every 1000 ops so finalizers can run
// plus a diagnostic: the raw native call + free with no JS Tensor object.
// Every variant's time ends with a young-generation GC and waits until every
// result has been freed and the finalizer callbacks have run, so deferred
// costs count.
//
//   node --expose-gc dist/bench/op-overhead.js [--n 100000] [--reps 9] [--threads 2] [--serve]
//
// Variants are interleaved within each repetition (robust to a noisy, shared
// machine); each reported number is the median over repetitions. With --serve
// it answers bench/compare.ts, one repetition per block.
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { torch } from '../src/index.js';
import { native } from '../src/torch/native.js';
import { opId } from '../src/torch/ops.js';
import { parseArgs, intArg, nowMs, merge, printSummary, serve, type Samples } from './common.js';

const args = parseArgs(process.argv.slice(2));
const N = Math.ceil(intArg(args, 'n', 100_000) / 1000) * 1000;
const REPS = intArg(args, 'reps', 9);
const THREADS = intArg(args, 'threads', 2);
const SERVE = args.has('serve');
torch.setNumThreads(THREADS);

const gc = (globalThis as { gc?: (opts?: { type: 'minor' | 'major' }) => void }).gc;

const a = torch.tensor(new Float32Array([1, 2, 3, 4])).keep();
const b = torch.tensor(new Float32Array([5, 6, 7, 8])).keep();
const baseline = torch.memory().tensors;

function scoped(n: number): void {
  for (let k = 0; k < n; k += 100) {
    torch.scope(() => {
      for (let i = 0; i < 100; i++) a.add(b);
    });
  }
}

function disposed(n: number): void {
  for (let i = 0; i < n; i++) a.add(b).dispose();
}

/** Waits until the finalizers have freed every dropped result (bounded). */
async function drain(): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (torch.memory().tensors <= baseline) return true;
    if (gc && i % 10 === 0) gc();
    await yieldLoop();
  }
  return torch.memory().tensors <= baseline;
}

async function unscoped(n: number): Promise<void> {
  for (let k = 0; k < n; k += 1000) {
    for (let i = 0; i < 1000; i++) a.add(b);
    await yieldLoop();
  }
}

/** Counted in every variant's time: collect its garbage (JS objects, weak
 * cells) and let the finalizers it left behind run, so deferred costs count. */
async function settle(): Promise<void> {
  if (gc) gc({ type: 'minor' });
  await drain(); // full GCs only while results are still live (the unscoped variant)
  await yieldLoop();
  await yieldLoop();
}

const addId = opId('aten::add.Tensor');
function raw(n: number): void {
  for (let i = 0; i < n; i++) native.free(native.call(addId, a.h, b.h));
}

type Variant = { name: string; run: (n: number) => void | Promise<void> };
const variants: Variant[] = [
  { name: 'scope_us', run: scoped },
  { name: 'dispose_us', run: disposed },
  { name: 'unscoped_us', run: unscoped },
  { name: 'raw_native_us', run: raw },
];

let rotation = 0;

/** One repetition of every variant, in a rotating order: µs per call. */
async function block(): Promise<Samples> {
  const out: Samples = {};
  for (let j = 0; j < variants.length; j++) {
    // Rotate the order so no variant always runs right after the unscoped one's GC.
    const v = variants[(rotation + j) % variants.length];
    if (gc) gc();
    await drain();
    const t0 = nowMs();
    await v.run(N);
    await settle();
    const t1 = nowMs();
    out[v.name] = [((t1 - t0) * 1000) / N];
  }
  rotation++;
  return out;
}

async function main(): Promise<void> {
  // Warm up: JIT, the operator cache, the allocator.
  for (const v of variants) await v.run(Math.min(N, 20_000));
  await drain();
  const info = { side: 'arsenal', n: N, threads: torch.getNumThreads(), gcExposed: !!gc, libtorch: torch.info().libtorch };
  if (SERVE) {
    await serve(info, block);
  } else {
    const samples: Samples = {};
    for (let r = 0; r < REPS; r++) merge(samples, await block());
    printSummary('op_overhead (arsenal)', { ...info, reps: REPS }, samples);
  }
  const leaked = torch.memory().tensors - baseline;
  if (leaked > 0) console.error(`op-overhead: ${leaked} tensors still live after draining the finalizers`);
}

await main();
