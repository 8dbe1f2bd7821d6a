// The dropped-results loop (results a user never disposes), run in its own plain `node` process (no
// --expose-gc: a user's script has no gc()): `torch.scope(() => a.add(a).mul(2).sum())`
// over a 64×64 randn, awaiting setImmediate every `--yield` iterations, and
// what happens to each result:
//   dropped   left to the garbage collector and its finalizer
//   disposed  result.dispose()
//   scoped    nothing escapes: the loop body's scope returns a number (.item())
// Prints one JSON line: resident memory (MB above the start) at --mark and at
// the end, the peak (sampled every 1,000 iterations), the most unowned tensors
// seen, and the seconds taken. test/memory-leaks.test.ts and bench/memory.ts run it.
//
//   node dist/test/helpers/dropped-results.js [--mode dropped] [--n 1000000] [--mark 200000] [--yield 100]
import { setImmediate as tick } from 'node:timers/promises';
import { torch } from 'arsenal';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const mode = arg('mode', 'dropped');
const N = Number(arg('n', '1000000'));
const MARK = Number(arg('mark', '200000'));
const YIELD = Number(arg('yield', '100'));
if (!['dropped', 'disposed', 'scoped'].includes(mode) || !(N > 0) || !(YIELD > 0)) throw new Error('usage: --mode dropped|disposed|scoped --n N --mark M --yield K');

const MB = 2 ** 20;
const rss = (): number => process.memoryUsage.rss();
const a = torch.randn(64, 64).keep();
const step = (): void => {
  if (mode === 'scoped') torch.scope(() => a.add(a).mul(2).sum().item());
  else {
    const r = torch.scope(() => a.add(a).mul(2).sum());
    if (mode === 'disposed') r.dispose();
  }
};

// Warm-up (as the measurement): operator lookups, allocator pools.
for (let i = 0; i < 2000; i++) torch.scope(() => a.add(a).mul(2).sum().item());
await tick();
const start = rss();
let peak = start, atMark = NaN, peakUnowned = 0;
const t0 = performance.now();
for (let i = 1; i <= N; i++) {
  step();
  if (i % YIELD === 0) await tick();
  if (i % 1000 === 0) {
    const r = rss();
    if (r > peak) peak = r;
    const u = torch.memory().unowned;
    if (u > peakUnowned) peakUnowned = u;
  }
  if (i === MARK) atMark = rss();
}
const end = rss();
console.log(JSON.stringify({
  mode, n: N, mark: MARK, yieldEvery: YIELD,
  startMB: +(start / MB).toFixed(1),
  atMarkMB: +((atMark - start) / MB).toFixed(1),
  endMB: +((end - start) / MB).toFixed(1),
  peakMB: +((Math.max(peak, end) - start) / MB).toFixed(1),
  growthMarkToEndMB: +((end - atMark) / MB).toFixed(1),
  peakUnowned,
  seconds: +((performance.now() - t0) / 1000).toFixed(1),
  gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
}));
