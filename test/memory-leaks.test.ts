// Memory that stays bounded when a user does not dispose: the
// figures of torch.memory(), the count of unowned tensors (what no scope,
// module or torch.keep owns), the one-time warning past a threshold with the
// creating site when ARSENAL_TRACK_TENSORS=1, trimMemory, and the dropped-
// results loop of a plain `node` process reaching a plateau. The child
// processes run without --expose-gc, as a user's script does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { torch, nn, optim } from 'arsenal';

const helpers = join(dirname(fileURLToPath(import.meta.url)), 'helpers');
const MB = 2 ** 20;
const gc = (globalThis as { gc?: () => void }).gc;

/** Runs a helper script in a fresh `node` without --expose-gc (NODE_OPTIONS cleared). */
function runHelper(script: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) {
  const { NODE_OPTIONS: _drop, ...base } = process.env;
  const r = spawnSync(process.execPath, [join(helpers, script), ...args], { env: { ...base, ...env }, encoding: 'utf8', timeout: timeoutMs });
  assert.equal(r.status, 0, `${script} exited with ${r.status ?? r.signal}: ${r.stderr}`);
  return { out: JSON.parse(r.stdout.trim().split('\n').pop()!), stderr: r.stderr };
}

// ---- torch.memory() ------------------------------------------------------------------------------------

test('memory(): bytes count a storage once (a view and its base), peakBytes keeps the high-water mark until resetPeakMemory', () => {
  const base = torch.memory();
  const t = torch.empty(MB / 4); // 1 MiB of float32
  const v = t.view(-1, 4);
  const m1 = torch.memory();
  assert.equal(m1.tensors, base.tensors + 2);
  assert.equal(m1.bytes - base.bytes, MB, 'the view shares the base storage: charged once');
  assert.ok(m1.peakBytes >= m1.bytes);
  t.dispose();
  assert.equal(torch.memory().bytes - base.bytes, MB, 'the view still holds the storage');
  v.dispose();
  const m2 = torch.memory();
  assert.equal(m2.bytes, base.bytes);
  assert.ok(m2.peakBytes >= base.bytes + MB, 'the peak remembers the MiB');
  torch.resetPeakMemory();
  assert.equal(torch.memory().peakBytes, torch.memory().bytes);
});

test('memory(): externalBytes (what the GC is told) = bytes + a fixed cost per live tensor', () => {
  const per = (m: ReturnType<typeof torch.memory>) => (m.externalBytes - m.bytes) / m.tensors;
  const m0 = torch.memory();
  const ts = Array.from({ length: 10 }, () => torch.zeros(1));
  const m1 = torch.memory();
  assert.ok(per(m1) >= 1024, `per-tensor cost ${per(m1)} B: it must cover a TensorImpl and its allocations`);
  if (m0.tensors > 0) assert.equal(per(m0), per(m1));
  torch.dispose(ts);
});

// ---- unowned tensors -----------------------------------------------------------------------------------

test('unowned: results left to finalizers count; scoped, disposed, kept tensors, parameters, buffers and optimizer state do not', () => {
  const u = () => torch.memory().unowned;
  const u0 = u();
  const r = torch.ones(2);
  assert.equal(u(), u0 + 1, 'an unscoped result is unowned');
  r.dispose();
  assert.equal(u(), u0, 'disposed');
  torch.scope(() => {
    torch.ones(2).add(1);
    assert.equal(u(), u0, 'a scope owns its tensors');
  });
  const out = torch.scope(() => torch.ones(2).mul(3));
  assert.equal(u(), u0 + 1, 'returned out of the outermost scope: unowned');
  out.keep();
  assert.equal(u(), u0, 'torch.keep owns it');
  const kept = torch.scope(() => torch.keep(torch.zeros(2)));
  assert.equal(u(), u0, 'kept inside a scope: owned when it leaves');
  const data = torch.ones(2);
  const p = nn.parameter(data);
  assert.equal(u(), u0 + 1, 'a Parameter is owned (its source tensor is not, until disposed)');
  data.dispose();
  // A model built in a scope: its construction temporaries are freed, its parameters and buffers kept.
  const model = torch.scope(() => new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2), new nn.Flatten(), new nn.Linear(2 * 2 * 2, 3)));
  const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  torch.scope(() => {
    model.forward(torch.randn(2, 1, 4, 4)).sum().backward();
    opt.step();
    opt.zeroGrad();
  });
  assert.equal(u(), u0, 'parameters, BatchNorm buffers and momentum buffers are owned');
  for (const q of [p, ...model.parameters()]) q.dispose();
  torch.dispose([out, kept]);
  assert.equal(u(), u0);
});

test('unowned: the finalizer uncounts a dropped result, and a dropped kept tensor is not uncounted', async () => {
  assert.equal(typeof gc, 'function', 'run with --expose-gc (npm test passes it)');
  const collect = async () => {
    for (let i = 0; i < 3; i++) {
      gc!();
      await tick();
    }
  };
  await collect(); // earlier tests' garbage
  const u0 = torch.memory().unowned;
  (() => {
    for (let i = 0; i < 50; i++) torch.ones(2);
    for (let i = 0; i < 20; i++) torch.keep(torch.ones(2));
  })();
  assert.equal(torch.memory().unowned, u0 + 50);
  await collect();
  assert.equal(torch.memory().unowned, u0, 'the 50 dropped results were finalized and uncounted; the 20 kept ones did not go below');
});

test('setLeakWarningThreshold validates its argument', () => {
  const was = torch.leakWarningThreshold();
  assert.throws(() => torch.setLeakWarningThreshold(-1), TypeError);
  assert.throws(() => torch.setLeakWarningThreshold(1.5), TypeError);
  assert.throws(() => torch.setLeakWarningThreshold(Number.NaN), TypeError);
  torch.setLeakWarningThreshold(Infinity);
  assert.equal(torch.leakWarningThreshold(), Infinity);
  torch.setLeakWarningThreshold(was);
});

test('a synchronous loop past the threshold prints one warning, before the loop ends, naming torch.scope and dispose', () => {
  const { out, stderr } = runHelper('leak-warning.js', [], { ARSENAL_LEAK_WARNING_THRESHOLD: '1000' });
  assert.equal(out.threshold, 1000);
  assert.ok(out.unowned >= 3500, `unowned ${out.unowned}`);
  const warnings = stderr.split('\n').filter((l) => l.includes('ArsenalMemoryWarning'));
  assert.equal(warnings.length, 1, `one warning, got:\n${stderr}`);
  assert.match(warnings[0], /torch\.scope/);
  assert.match(warnings[0], /dispose/);
  assert.match(warnings[0], /ARSENAL_TRACK_TENSORS=1/, 'it says how to find the site');
  assert.ok(stderr.indexOf('ArsenalMemoryWarning') < stderr.indexOf('loop done'), 'printed while the loop runs, not after');
});

test('ARSENAL_TRACK_TENSORS=1: the warning names the call site that created most unowned tensors', () => {
  const { stderr } = runHelper('leak-warning.js', [], { ARSENAL_LEAK_WARNING_THRESHOLD: '1000', ARSENAL_TRACK_TENSORS: '1' });
  assert.equal(stderr.split('\n').filter((l) => l.includes('ArsenalMemoryWarning')).length, 1, stderr);
  const m = /Most of them \((\d+)\) were created at:\n\s+at (.*)/.exec(stderr);
  assert.ok(m, `no site in:\n${stderr}`);
  assert.ok(Number(m[1]) > 1000, 'the count is of the leaky site (more than the threshold)');
  assert.match(m[2], /leakyStep/, 'the first frame is the user function, not Arsenal internals');
  assert.match(m[2], /leak-warning\.js/);
});

// ---- trimming ---------------------------------------------------------------------------------------------

test('trimMemory gives freed heap back to the OS', () => {
  const rss = () => process.memoryUsage.rss();
  const t = torch.ones(16 * MB); // 64 MB, pages touched
  const withIt = rss();
  t.dispose();
  const released = torch.trimMemory();
  assert.ok(Number.isFinite(released) && released >= 0);
  // Freed either by the allocator itself (an mmap'ed block) or by the trim.
  assert.ok(rss() < withIt - 32 * MB, `RSS ${((withIt - rss()) / MB).toFixed(0)} MB below the 64 MB tensor's`);
});

// ---- the plateau of dropped results --------------------------------------------------------------------------

test('plain node, 1,000,000 dropped scope results with an await every 100: RSS plateaus (< 50 MB from 200k to 1M, peak < 256 MB)', () => {
  const { out } = runHelper('dropped-results.js', ['--mode', 'dropped', '--n', '1000000', '--mark', '200000', '--yield', '100'], {}, 240_000);
  assert.equal(out.gcExposed, false, 'the child must run without --expose-gc');
  assert.ok(out.growthMarkToEndMB < 50, `RSS grew ${out.growthMarkToEndMB} MB between the 200,000th and the 1,000,000th iteration`);
  assert.ok(out.peakMB < 256, `RSS peaked ${out.peakMB} MB above the start`);
});


