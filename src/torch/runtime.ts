// Process-wide state: grad mode, autocast, RNG, threads, build info, the bf16 probe.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { native } from './native.js';
import { Tensor, handle } from './tensor.js';
import { dtypeCode } from './dtype.js';
import { arange, ones } from './creation.js';
import { conv2d, linear } from './functional.js';
import { scope } from './scope.js';

function runRestoring<T>(fn: () => T, restore: () => void, what: string): T {
  let result: T;
  try {
    result = fn();
  } catch (e) {
    restore();
    throw e;
  }
  restore();
  if (result instanceof Promise) throw new TypeError(`${what}: fn returned a Promise; the mode is thread-local and synchronous`);
  return result;
}

/** torch.no_grad(): runs fn with autograd recording off. */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  return runRestoring(fn, () => native.setGradEnabled(prev), 'torch.noGrad');
}

export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  return runRestoring(fn, () => native.setGradEnabled(prev), 'torch.enableGrad');
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

export function setGradEnabled(enabled: boolean): boolean {
  return native.setGradEnabled(enabled);
}

export interface AutocastOptions { deviceType?: 'cpu'; dtype?: 'bfloat16' | 'float16'; enabled?: boolean }

/**
 * torch.autocast over libtorch's own autocast (the AutocastCPU dispatch key):
 * matmuls and convolutions run in bf16, precision-sensitive ops in fp32.
 */
export function autocast<T>(opts: AutocastOptions, fn: () => T): T {
  const device = opts.deviceType ?? 'cpu';
  if (device !== 'cpu') throw new TypeError(`autocast: deviceType '${device}' is not supported by this build (only 'cpu')`);
  native.autocastEnter(dtypeCode(opts.dtype ?? 'bfloat16'), opts.enabled ?? true);
  return runRestoring(fn, () => native.autocastExit(), 'torch.autocast');
}

export function isAutocastEnabled(): boolean {
  return native.isAutocastEnabled();
}

// ---- RNG ------------------------------------------------------------------------------------
/** Seeds libtorch's default CPU generator (a number below 2^53, or a BigInt). */
export function manualSeed(seed: number | bigint): void {
  native.manualSeed(seed);
}
/** The seed of the default generator: a number when exact, else a BigInt (feed it back to manualSeed). */
export function initialSeed(): number | bigint {
  return native.initialSeed();
}
/** The default CPU generator's state as a uint8 tensor (for checkpoints). */
export function getRngState(): Tensor {
  return new Tensor(native.getRngState());
}
export function setRngState(state: Tensor): void {
  native.setRngState(handle(state, 'setRngState'));
}

// ---- threads ----------------------------------------------------------------------------------
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`setNumThreads: expected a positive integer, got ${String(n)}`);
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
export function useDeterministicAlgorithms(on: boolean): void {
  native.setDeterministic(on);
}

// libtorch picks 1 thread on some virtual machines; use every core unless the
// user said otherwise (OMP_NUM_THREADS, as PyTorch honours it).
if (!process.env.OMP_NUM_THREADS && native.getNumThreads() < availableParallelism()) native.setNumThreads(availableParallelism());

// ---- info ------------------------------------------------------------------------------------------
function cpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

function loadedBlas(): string | null {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const libs = new Set<string>();
    for (const m of maps.matchAll(/\s(\/\S*(?:openblas|libblas|mkl_rt|libmkl|blis)\S*\.so[^\s]*)/g)) libs.add(m[1]);
    return libs.size ? [...libs].join(', ') : null;
  } catch {
    return null;
  }
}

export interface TorchInfo {
  libtorch: string;
  blas: string;
  threads: number;
  interopThreads: number;
  cuda: boolean;
  mkldnn: boolean;
  /** bf16 autocast can train here: the CPU has native bf16 and libtorch's bf16 kernels run (bf16Support()). */
  bf16: boolean;
  /** Why bf16 is or is not available, in one line. */
  bf16Reason: string;
  cpuCapability: string;
}

export interface Bf16Support { available: boolean; reason: string }
let bf16Probe: Bf16Support | null = null;

/** The probe: a tiny convolution and matmul under bf16 autocast, forward and backward. No RNG is drawn. */
function runBf16Kernels(): void {
  scope(() =>
    enableGrad(() => {
      const x = arange(0, 2 * 3 * 8 * 8, 1, { dtype: 'float32' }).reshape(2, 3, 8, 8).div(384);
      const w = ones([4, 3, 3, 3], { requiresGrad: true });
      const fc = ones([5, 4 * 8 * 8], { requiresGrad: true });
      const loss = autocast({ dtype: 'bfloat16' }, () => {
        const y = conv2d(x, w, null, { padding: 1 });
        if (y.dtype !== 'bfloat16') throw new Error(`autocast produced ${y.dtype}, not bfloat16`);
        return linear(y.flatten(1), fc).float().sum();
      });
      loss.backward();
      if (!w.grad || !fc.grad) throw new Error('no gradient reached the probe weights');
    }),
  );
}

/**
 * Whether bf16 autocast can train on this machine, decided once per process by
 * what the kernels do, not by a stopwatch (a timed choice would make the same
 * config train differently on the same machine): the CPU must have native bf16
 * (AVX512_BF16 or AMX; elsewhere bf16 is emulated and slower than fp32) and a
 * tiny bf16 convolution and matmul, forward and backward, must run. oneDNN has
 * no bf16 convolution below AVX-512, so ONEDNN_MAX_CPU_ISA=AVX2 fails the probe
 * ("could not create a primitive descriptor iterator") although the CPU flags
 * say yes.
 */
export function bf16Support(): Bf16Support {
  if (bf16Probe) return bf16Probe;
  const flags = cpuFlags();
  if (!flags.has('avx512_bf16') && !flags.has('amx_bf16')) {
    bf16Probe = { available: false, reason: 'the CPU has no native bf16 (neither AVX512_BF16 nor AMX)' };
    return bf16Probe;
  }
  try {
    runBf16Kernels();
    bf16Probe = { available: true, reason: 'the CPU has native bf16 and a bf16 convolution and matmul ran, forward and backward' };
  } catch (e) {
    const first = String((e as Error)?.message ?? e).split('\n')[0];
    const isa = process.env.ONEDNN_MAX_CPU_ISA ? ` (ONEDNN_MAX_CPU_ISA=${process.env.ONEDNN_MAX_CPU_ISA})` : '';
    bf16Probe = { available: false, reason: `libtorch's bf16 kernels fail here${isa}: ${first}` };
  }
  return bf16Probe;
}

/** What libtorch was found and what the machine can do. */
export function info(): TorchInfo {
  const i = native.info();
  const blasInfo = /BLAS_INFO=([^,\s]+)/.exec(i.config)?.[1] ?? 'unknown';
  const cap = /CPU capability usage: (\S+)/.exec(i.config)?.[1] ?? 'unknown';
  const lib = loadedBlas();
  const bf16 = bf16Support();
  return {
    libtorch: i.version,
    blas: lib ? `${blasInfo} (${lib})` : blasInfo,
    threads: native.getNumThreads(),
    interopThreads: i.interopThreads,
    cuda: i.cuda,
    mkldnn: i.mkldnn,
    bf16: bf16.available,
    bf16Reason: bf16.reason,
    cpuCapability: cap,
  };
}
