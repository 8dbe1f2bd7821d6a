// Memory, Arsenal only: each figure comes from its own fresh
// plain `node` process (no --expose-gc, as a user's script), so one section's
// heap does not colour the next.
//
//   node dist/bench/memory.js [--only footprint,loops,trim,swing,epochs] [--n 1000000]
//                             [--epochs 10] [--train 1024] [--test 512] [--swing-steps 30]
//
//   footprint  RSS per live tensor, handles only (no JS objects): a lone scalar
//              result, and the scalar of a 64×64 add → mul → sum chain whose 16 KB
//              intermediates are freed each step (why native/src/memory.cc charges
//              8 KB per tensor to V8).
//   loops      the dropped-results loop, `torch.scope(() => a.add(a).mul(2).sum())` on a 64×64
//              randn, --n iterations awaiting setImmediate every 100 (and every 1,000):
//              the result dropped, disposed, or nothing escaping the scope. RSS above
//              the start at the 200,000th and the last iteration, the peak, the most
//              unowned tensors seen (test/helpers/dropped-results.ts does the loop).
//   trim       512 MB of tensors freed at once: RSS while alive, after the free, after 6 s
//              of small ops (the addon trims once the footprint has stayed low for 5 s;
//              not with ARSENAL_AUTO_TRIM=0), then after torch.trimMemory().
//   swing      ms per step of a loop that allocates and frees 4 × 77 MB batches
//              (a 128 × 3×224×224 float batch each) every step: Arsenal's malloc settings
//              with the auto-trim, without it, and glibc's defaults (ARSENAL_MALLOC_DEFAULTS=1,
//              which trims and unmaps each step): the speed the settings keep.
//   epochs     RSS after each of --epochs epochs of the `npm start` recipe
//              (configs/fashion-mnist/tricks.ts) on --train / --test images: flat means
//              no growth after the second epoch beyond 5%.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { parseArgs, intArg } from './common.js';

const args = parseArgs(process.argv.slice(2));
const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const root = join(here, '../..');
const MB = 2 ** 20;
const rss = (): number => process.memoryUsage.rss();
const mb = (b: number): string => (b / MB).toFixed(1);

// ---- children: each section's measurement in a fresh process ------------------------------------------
async function child(name: string): Promise<void> {
  const { torch } = await import('../src/index.js');
  const out = (o: unknown) => console.log('MEM ' + JSON.stringify(o));
  if (name === 'footprint') {
    const { native } = await import('../src/torch/native.js');
    const { opId } = await import('../src/torch/ops.js');
    const chain = args.get('pattern') === 'chain';
    const N = intArg(args, 'n', 100_000);
    const a = torch.randn(64, 64).keep();
    const add = opId('aten::add.Tensor'), mul = opId('aten::mul.Scalar'), sum = opId('aten::sum');
    const held = new Float64Array(N);
    const one = (): number => {
      if (!chain) return native.call(sum, a.h, null);
      const x = native.call(add, a.h, a.h, 1), y = native.call(mul, x, 2), s = native.call(sum, y, null);
      native.free(x);
      native.free(y);
      return s;
    };
    for (let i = 0; i < 2000; i++) native.free(one());
    const r0 = rss();
    for (let i = 0; i < N; i++) held[i] = one();
    out({ bytesPerTensor: (rss() - r0) / N });
    return;
  }
  if (name === 'trim') {
    const ts = Array.from({ length: 128 }, () => torch.ones(MB)); // 128 × 4 MB, pages touched
    const alive = rss();
    torch.dispose(ts);
    const freed = rss();
    // Carry on with small work for 6 s: the addon trims once the footprint has stayed low for 5 s.
    const a = torch.ones(8).keep();
    for (const t0 = performance.now(); performance.now() - t0 < 6000; ) torch.scope(() => { for (let i = 0; i < 100; i++) a.add(a); });
    const later = rss();
    torch.trimMemory();
    out({ aliveMB: alive / MB, freedMB: freed / MB, laterMB: later / MB, trimmedMB: rss() / MB });
    return;
  }
  if (name === 'swing') {
    const steps = intArg(args, 'swing-steps', 30);
    const step = () => torch.scope(() => { for (let k = 0; k < 4; k++) torch.ones(128, 3, 224, 224).sum().item(); });
    for (let i = 0; i < 3; i++) step();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    out({ msPerStep: (performance.now() - t0) / steps });
    return;
  }
  if (name === 'epochs') {
    const { loadConfig } = await import('../src/engine/load_config.js');
    const { Trainer } = await import('../src/engine/trainer.js');
    const epochs = intArg(args, 'epochs', 10);
    const cfg = await loadConfig(join(root, 'configs/fashion-mnist/tricks.ts'), [
      `train.epochs=${epochs}`, `data.trainSubset=${intArg(args, 'train', 1024)}`, `data.testSubset=${intArg(args, 'test', 512)}`, 'train.logInterval=1000',
    ]);
    const workDir = mkdtempSync(join(tmpdir(), 'arsenal-mem-'));
    try {
      const trainer = new Trainer(cfg, { workDir, quiet: true });
      // The epoch's record is written after its evaluation: sample RSS there.
      // The epoch's peak: sampled after every training step and every 100 ms (timers run when the loader really waits).
      let peak = 0;
      const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 100);
      const t = trainer as unknown as { jsonl: (r: Record<string, unknown>) => void; trainStep: (...a: unknown[]) => unknown; evaluate: (...a: unknown[]) => Promise<unknown> };
      // RSS when evaluation returns (it trims): the epoch's steps and evaluation are done, its checkpoints not yet written.
      let afterEval = 0;
      const evaluate = t.evaluate.bind(trainer);
      t.evaluate = async (...a) => {
        const r = await evaluate(...a);
        afterEval = rss();
        return r;
      };
      const trainStep = t.trainStep.bind(trainer);
      let peakJs = 0; // V8 heap + ArrayBuffers at the peak: garbage not collected yet
      t.trainStep = (...a) => {
        const r = trainStep(...a);
        const now = rss();
        if (now > peak) {
          peak = now;
          const m = process.memoryUsage();
          peakJs = m.heapTotal + m.arrayBuffers;
        }
        return r;
      };
      const jsonl = t.jsonl.bind(trainer);
      t.jsonl = (r) => {
        if (typeof r.epochSeconds === 'number') {
          const now = rss();
          out({ epoch: r.epoch, evalMB: afterEval / MB, rssMB: now / MB, peakMB: Math.max(peak, now) / MB, peakJsMB: peakJs / MB, nativeMB: torch.memory().bytes / MB, tensors: torch.memory().tensors });
          peak = 0;
          peakJs = 0;
        }
        jsonl(r);
      };
      try {
        await trainer.fit();
      } finally {
        clearInterval(sampler);
      }
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
    return;
  }
  throw new Error(`unknown child '${name}'`);
}

function run(script: string, argv: string[], env: Record<string, string> = {}): Record<string, any>[] {
  const { NODE_OPTIONS: _drop, ...base } = process.env;
  const r = spawnSync(process.execPath, [script, ...argv], { cwd: root, env: { ...base, ...env }, encoding: 'utf8', maxBuffer: 64 * MB });
  if (r.status !== 0) throw new Error(`${script} ${argv.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.startsWith('MEM ') || l.startsWith('{')).map((l) => JSON.parse(l.replace(/^MEM /, '')));
}
const self = (name: string, extra: string[] = [], env: Record<string, string> = {}) => run(join(here, 'memory.js'), ['--child', name, ...extra], env);

function table(head: string[], rows: (string | number)[][]): void {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + w.map((x, i) => (i === 0 ? '-'.repeat(x + 2) : '-'.repeat(x + 1) + ':')).join('|') + '|');
  for (const r of cells.slice(1)) console.log(line(r));
  console.log();
}

async function main(): Promise<void> {
  const SECTIONS = ['footprint', 'loops', 'trim', 'swing', 'epochs'];
  const only = new Set((args.get('only') ?? SECTIONS.join(',')).split(','));
  for (const o of only) if (!SECTIONS.includes(o)) throw new TypeError(`--only: expected ${SECTIONS.join(', ')}, got '${o}'`);
  const N = intArg(args, 'n', 1_000_000);
  console.log(`\nArsenal memory (node ${process.version}, ${cpus().length} CPUs ${cpus()[0]?.model.trim()}); 1-min load average ${loadavg()[0].toFixed(2)}; RSS in MB\n`);

  if (only.has('footprint')) {
    const lone = self('footprint')[0].bytesPerTensor, chain = self('footprint', ['--pattern', 'chain'])[0].bytesPerTensor;
    console.log('RSS per live tensor (100,000 held, handles only):');
    table(['tensor', 'bytes'], [['a lone scalar result', lone.toFixed(0)], ['a scalar from the 64×64 add→mul→sum chain (16 KB temporaries freed between)', chain.toFixed(0)]]);
  }
  if (only.has('loops')) {
    const helper = join(root, 'dist/test/helpers/dropped-results.js');
    const variants: [string, string[]][] = [
      ['dropped, await every 100', ['--mode', 'dropped', '--yield', '100']],
      ['dropped, await every 1,000', ['--mode', 'dropped', '--yield', '1000']],
      ['disposed, await every 100', ['--mode', 'disposed', '--yield', '100']],
      ['scoped (.item()), await every 100', ['--mode', 'scoped', '--yield', '100']],
    ];
    const rows = variants.map(([name, a]) => {
      const r = run(helper, [...a, '--n', String(N), '--mark', String(Math.min(200_000, N))])[0];
      return [name, r.atMarkMB, r.endMB, r.peakMB, r.growthMarkToEndMB, r.peakUnowned, r.seconds];
    });
    console.log(`torch.scope(() => a.add(a).mul(2).sum()), a 64×64, ${N.toLocaleString('en')} iterations, plain node (goal: growth 200k→end < 50 MB, peak < 256 MB):`);
    table(['result', 'RSS at 200k', `RSS at ${N / 1000}k`, 'peak', 'growth 200k→end', 'max unowned', 's'], rows);
  }
  if (only.has('trim')) {
    const on = self('trim')[0], off = self('trim', [], { ARSENAL_AUTO_TRIM: '0' })[0];
    console.log('128 × 4 MB tensors freed at once:');
    table(['', 'alive', 'after dispose', 'after 6 s of small ops', 'then trimMemory()'], [on, off].map((r, i) => [
      i === 0 ? 'auto-trim on (default)' : 'ARSENAL_AUTO_TRIM=0', mb(r.aliveMB * MB), mb(r.freedMB * MB), mb(r.laterMB * MB), mb(r.trimmedMB * MB),
    ]));
  }
  if (only.has('swing')) {
    const steps = String(intArg(args, 'swing-steps', 30));
    const conf: [string, Record<string, string>][] = [
      ["Arsenal's malloc settings + auto-trim (default)", {}],
      ['malloc settings, ARSENAL_AUTO_TRIM=0', { ARSENAL_AUTO_TRIM: '0' }],
      ["glibc's defaults (ARSENAL_MALLOC_DEFAULTS=1)", { ARSENAL_MALLOC_DEFAULTS: '1' }],
    ];
    const rows = conf.map(([name, env]) => [name, self('swing', ['--swing-steps', steps], { OMP_NUM_THREADS: '2', ...env })[0].msPerStep.toFixed(1)]);
    console.log(`ms per step, 4 × 77 MB batches allocated, filled, summed and freed each step (${steps} steps):`);
    table(['allocator', 'ms/step'], rows);
  }
  if (only.has('epochs')) {
    const epochs = intArg(args, 'epochs', 10);
    const recs = self('epochs', ['--epochs', String(epochs), '--train', String(intArg(args, 'train', 1024)), '--test', String(intArg(args, 'test', 512))], { OMP_NUM_THREADS: '2' });
    const growth = (key: string): number => {
      const at2 = recs.find((r) => r.epoch === 2)?.[key] ?? NaN;
      const after = recs.filter((r) => r.epoch > 2).map((r) => r[key]);
      return after.length ? (100 * (Math.max(...after) - at2)) / at2 : NaN;
    };
    console.log(`configs/fashion-mnist/tricks.ts (the npm start recipe), ${epochs} epochs on ${intArg(args, 'train', 1024)} / ${intArg(args, 'test', 512)} images. RSS when the epoch's`);
    console.log('evaluation returns (its steps and evaluation done, trimmed), at its log record (after best.safetensors when it improved), and its peak:');
    table(['epoch', 'after evaluation', 'at record', 'peak', 'V8 heap + buffers at peak', 'native tensors MB', 'live tensors'],
      recs.map((r) => [r.epoch, mb(r.evalMB * MB), mb(r.rssMB * MB), mb(r.peakMB * MB), mb(r.peakJsMB * MB), mb(r.nativeMB * MB), r.tensors]));
    const g = growth('evalMB');
    console.log(`growth after epoch 2, after evaluation: ${g.toFixed(1)}% (flat: ≤ 5%) — ${g <= 5 ? 'met' : 'NOT met'}; at record ${growth('rssMB').toFixed(1)}%, peak ${growth('peakMB').toFixed(1)}%`);
    console.log('(the record-time RSS swings with best.safetensors: the checkpoint writer copies the state dict twice into JS buffers, held until V8 collects them;');
    console.log(' the peak, during training steps, is the layout of the untrimmed heap: native tensors stay constant and V8 holds ~10 MB there)\n');
  }
}

if (args.has('child')) await child(args.get('child')!);
else await main();
