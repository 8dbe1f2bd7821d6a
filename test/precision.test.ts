// amp 'auto' is decided by what libtorch's bf16 kernels do on this machine
// (torch.bf16Support(): native bf16 in the CPU and a probe of a bf16
// convolution and matmul), not by CPU flags alone: under
// ONEDNN_MAX_CPU_ISA=AVX2 oneDNN has no bf16 convolution, so 'auto' must fall
// back to fp32 with a notice, and an explicit 'bf16' must be a clear error.
// Every assertion is a relation that holds on any CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { torch } from 'arsenal';
import { resolveAmp } from '../src/engine/precision.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// What the probe must agree with: a bf16 convolution called directly (not through autocast).
const SCRIPT = `
  import { torch, F } from 'arsenal';
  import { resolveAmp } from './dist/src/engine/precision.js';
  let convOk = true;
  try { F.conv2d(torch.ones([1, 3, 8, 8], { dtype: 'bfloat16' }), torch.ones([2, 3, 3, 3], { dtype: 'bfloat16' })); } catch { convOk = false; }
  let bf16Error = null;
  try { resolveAmp('bf16'); } catch (e) { bf16Error = e.message; }
  console.log(JSON.stringify({ support: torch.bf16Support(), info: torch.info().bf16, convOk, auto: resolveAmp('auto'), bf16Error }));
`;

function probe(env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

function checkRelations(res: ReturnType<typeof probe>, where: string): void {
  assert.equal(res.info, res.support.available, `${where}: torch.info().bf16 is the probe's answer`);
  assert.ok(res.support.reason.length > 0);
  if (!res.convOk) assert.equal(res.support.available, false, `${where}: bf16 convolution fails, yet bf16 was called available`);
  if (res.support.available) {
    assert.deepEqual(res.auto, { amp: 'bf16', notice: null });
    assert.equal(res.bf16Error, null);
  } else {
    assert.equal(res.auto.amp, 'fp32');
    assert.match(res.auto.notice, /^amp auto: fp32, since bf16 is not available \(.+\)$/, `${where}: the fallback says so in one line`);
    assert.ok(!res.auto.notice.includes('\n'));
    assert.match(res.bf16Error, /config\.train\.amp: 'bf16', but bf16 is not available here: .+ Use 'auto'/);
  }
}

test('bf16 is what the kernels can do, on this CPU as it is', () => {
  checkRelations(probe({}), 'this CPU');
});

test('bf16 under ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 (an older CPU): no bf16 convolution, so fp32 with a notice', () => {
  const res = probe({ ATEN_CPU_CAPABILITY: 'avx2', ONEDNN_MAX_CPU_ISA: 'AVX2' });
  checkRelations(res, 'AVX2');
  // libtorch 1.13's oneDNN has no bf16 convolution below AVX-512 (a newer one may): when the direct call fails, the
  // reason names the kernels or the CPU.
  if (!res.convOk) assert.match(res.support.reason, /bf16 kernels fail here \(ONEDNN_MAX_CPU_ISA=AVX2\)|no native bf16/);
});

test('the probe is cached and draws nothing from the generator', () => {
  torch.manualSeed(3);
  const a = torch.rand(4).toArray();
  torch.manualSeed(3);
  const first = torch.bf16Support();
  assert.equal(torch.bf16Support(), first, 'one probe per process');
  assert.deepEqual(torch.rand(4).toArray(), a);
});

test("resolveAmp: 'auto' keeps a resumed run's recorded precision; an explicit setting wins, saying so", () => {
  assert.deepEqual(resolveAmp(undefined), { amp: 'fp32', notice: null });
  assert.deepEqual(resolveAmp('fp32'), { amp: 'fp32', notice: null });
  assert.deepEqual(resolveAmp('auto', 'fp32'), { amp: 'fp32', notice: 'amp auto: fp32, as recorded in the checkpoint being resumed' });
  const changed = resolveAmp('fp32', 'bf16');
  assert.equal(changed.amp, 'fp32');
  assert.match(changed.notice!, /although the checkpoint being resumed was trained in bf16/);
  if (torch.bf16Support().available) assert.equal(resolveAmp('auto', 'bf16').amp, 'bf16');
  else assert.throws(() => resolveAmp('auto', 'bf16'), /--resume: this run trained in bf16 .* not available here: .*--set train\.amp=fp32/);
  assert.throws(() => resolveAmp('auto', 'fp16'), /the checkpoint records amp "fp16"; expected 'bf16' or 'fp32'/);
});
