// Process-wide state: grad mode, autocast, RNG, threads, build info, memory.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { native } from './native.js';
import { Tensor, handle } from './tensor.js';
import { dtypeCode } from './dtype.js';

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
  bf16: boolean;
  cpuCapability: string;
}

/** What libtorch was found and what the machine can do. */
export function info(): TorchInfo {
  const i = native.info();
  const blasInfo = /BLAS_INFO=([^,\s]+)/.exec(i.config)?.[1] ?? 'unknown';
  const cap = /CPU capability usage: (\S+)/.exec(i.config)?.[1] ?? 'unknown';
  const flags = cpuFlags();
  const lib = loadedBlas();
  return {
    libtorch: i.version,
    blas: lib ? `${blasInfo} (${lib})` : blasInfo,
    threads: native.getNumThreads(),
    interopThreads: i.interopThreads,
    cuda: i.cuda,
    mkldnn: i.mkldnn,
    bf16: flags.has('avx512_bf16') || flags.has('amx_bf16'),
    cpuCapability: cap,
  };
}
