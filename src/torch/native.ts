// Loads the native addon (native/build/Release/arsenal_native.node). This is
// the only module that touches it; everything else goes through src/torch.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Raw addon surface. Handles are plain numbers (slot + generation). */
export interface Native {
  opLookup(name: string): number;
  opSchema(id: number): { name: string; schema: string; args: { name: string; type: string; optional: boolean; hasDefault: boolean }[]; returns: string[] };
  listOps(prefix?: string): string[];
  call(id: number, ...args: unknown[]): any;
  callVoid(id: number, ...args: unknown[]): void;
  fromBuffer(bytes: ArrayBufferView | ArrayBuffer, dtype: number, shape: number[]): number;
  toBuffer(h: number): ArrayBuffer;
  viewBuffer(h: number): ArrayBuffer;
  free(h: number): boolean;
  freeMany(hs: number[]): number;
  isLive(h: number): boolean;
  shape(h: number): number[];
  strides(h: number): number[];
  dtype(h: number): number;
  device(h: number): string;
  numel(h: number): number;
  dim(h: number): number;
  isContiguous(h: number): boolean;
  memory(): { tensors: number; bytes: number; peakBytes: number; externalBytes: number; tensorOverhead: number };
  resetPeakMemory(): void;
  trimMemory(): boolean;
  markKept(h: number): boolean;
  finalize(h: number): 0 | 1 | 2;
  backward(outs: number[], grads: (number | null)[] | null, retainGraph?: boolean | null, createGraph?: boolean): void;
  autogradGrad(outs: number[], ins: number[], grads: (number | null)[] | null, retainGraph: boolean | null, createGraph: boolean, allowUnused: boolean): (number | null)[];
  getGrad(h: number): number | null;
  setGrad(h: number, g: number | null): void;
  requiresGrad(h: number): boolean;
  setRequiresGrad(h: number, b: boolean): void;
  retainGrad(h: number): void;
  isLeaf(h: number): boolean;
  gradFn(h: number): string | null;
  isGradEnabled(): boolean;
  setGradEnabled(b: boolean): boolean;
  manualSeed(seed: number | bigint): void;
  initialSeed(): number | bigint;
  getRngState(): number;
  setRngState(h: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  setDeterministic(b: boolean): void;
  autocastEnter(dtype: number, enabled?: boolean): void;
  autocastExit(): void;
  isAutocastEnabled(): boolean;
  info(): { version: string; config: string; parallel: string; mkldnn: boolean; cuda: boolean; threads: number; interopThreads: number };
  flushExternal(): void;
  nms(boxes: number, scores: number, iouThreshold: number): number;
  batchedNms(boxes: number, scores: number, idxs: number, iouThreshold: number): number;
  softNms(boxes: number, scores: number, iouThreshold: number, sigma: number, minScore: number, method: 1 | 2): [number, number];
  weightedBoxesFusion(boxes: number, scores: number, labels: number, models: number, weights: number[], iouThr: number, skipBoxThr: number,
    confType: 0 | 1 | 2 | 3, allowsOverflow: boolean, width: number, height: number): [number, number, number];
  distInitProcessGroup(opts: { store: 'file' | 'tcp'; path?: string; host?: string; port?: number; rank: number; worldSize: number; timeoutMs: number; prefix: string; hostname: string }): number;
  distDestroyProcessGroup(group: number): void;
  distAllReduce(group: number, tensors: number[], op: string): number;
  distBroadcast(group: number, tensors: number[], root: number): number;
  distAllGather(group: number, outputs: number[], input: number[]): number;
  distBarrier(group: number): number;
  distStoreSet(group: number, key: string, value: string): void;
  distStoreGet(group: number, key: string): string;
  distStoreDelete(group: number, key: string): boolean;
  distWait(work: number): void;
  distWaitAsync(work: number): Promise<void>;
  distIsCompleted(work: number): boolean;
  distReducerNew(group: number, params: number[], names: string[], bucketCapBytes: number, findUnused: boolean, moduleName: string, broadcastBuffers: boolean): number;
  distReducerPrepareForward(reducer: number): boolean;
  distReducerPrepareBackward(reducer: number, outputs: number[]): void;
  distReducerFree(reducer: number): void;
  distBroadcastCoalesced(group: number, tensors: number[], bufferBytes: number, src: number): void;
  distSyncBatchNorm(group: number, x: number, weight: number | null, bias: number | null, runningMean: number | null, runningVar: number | null, eps: number, momentum: number): number;
}

const here = dirname(fileURLToPath(import.meta.url));

function findAddon(): string {
  // dist/src/torch -> repo root; src/torch when run from sources.
  for (const up of ['../../..', '../..', '..']) {
    const p = join(here, up, 'native/build/Release/arsenal_native.node');
    if (existsSync(p)) return p;
  }
  throw new Error(
    'arsenal: the native addon is not built (native/build/Release/arsenal_native.node). ' +
      'Run `npm run setup` (it installs libtorch-dev on Debian, or set LIBTORCH to an unpacked libtorch) and try again.',
  );
}

function load(): Native {
  const path = findAddon();
  const require = createRequire(import.meta.url);
  let addon: Native;
  try {
    addon = require(path) as Native;
  } catch (e) {
    throw new Error(
      `arsenal: could not load ${path}: ${(e as Error).message}\n` +
        'Is libtorch installed (Debian: apt-get install libtorch-dev) or LIBTORCH set to the libtorch it was built with? Rebuild with `npm run build`.',
    );
  }
  const v = addon.info().version;
  const [maj, min] = v.split('.').map(Number);
  if (!(maj > 1 || (maj === 1 && min >= 13))) {
    throw new Error(`arsenal: found libtorch ${v}; Arsenal needs libtorch 1.13 or newer`);
  }
  return addon;
}

export const native: Native = load();
