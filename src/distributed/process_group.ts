// torch.distributed's process group API on libtorch's c10d
// (native/src/distributed.cc): the same names in camelCase
// (init_process_group → initProcessGroup, all_reduce → allReduce, ...), the
// Gloo backend on CPU. One default group per process, as in PyTorch.
//
//   initProcessGroup({ backend: 'gloo', initMethod: 'file:///tmp/run/store', rank, worldSize })
//   allReduce(t);                                 // in place, summed over ranks
//   const w = allReduce(t, { asyncOp: true });    // a Work: w.wait(), or `await w`
//
// Init methods, as PyTorch's: 'file://PATH' (a FileStore: one machine, nothing
// listens on the network; Gloo's pairs connect over 127.0.0.1), 'tcp://HOST:PORT'
// (a TCPStore hosted by rank 0; libtorch 1.13's listens on every interface:
// trusted networks only), 'env://' (the default: MASTER_ADDR, MASTER_PORT,
// RANK, WORLD_SIZE, as torchrun sets them). A collective that fails (a peer
// that left, a timeout) throws an Error naming the operation and the rank.
import { hostname as osHostname } from 'node:os';
import { native } from '../torch/native.js';
import { Tensor, handle } from '../torch/tensor.js';

export type Backend = 'gloo';
export type ReduceOp = 'sum' | 'product' | 'min' | 'max';

export interface InitProcessGroupOptions {
  /** 'gloo' (CPU; the only backend of a CPU libtorch). */
  backend?: Backend;
  /** 'file://PATH', 'tcp://HOST:PORT' or 'env://' (default). */
  initMethod?: string;
  /** This process's rank; default $RANK. */
  rank?: number;
  /** The number of processes; default $WORLD_SIZE. */
  worldSize?: number;
  /** Milliseconds a collective or the rendezvous may wait for a peer; PyTorch's default_pg_timeout, 30 min. */
  timeout?: number;
  /** The store's key prefix: one per run, so a stale run's keys are never read as this run's (default $TORCHELASTIC_RUN_ID, else 'arsenal'). */
  runId?: string;
  /**
   * The address this rank's Gloo connections listen on, which its peers must
   * reach: default $ARSENAL_GLOO_HOSTNAME, else 127.0.0.1 with a file://
   * store (one machine), else this machine's hostname.
   */
  hostname?: string;
}

const DEFAULT_TIMEOUT = 30 * 60 * 1000;

interface Group { h: number; rank: number; worldSize: number; backend: Backend }
let defaultGroup: Group | null = null;

const intEnv = (name: string): number | undefined => {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`initProcessGroup: $${name}='${v}' is not a non-negative integer`);
  return n;
};

/** Parses an init method into the store's options. */
export function parseInitMethod(initMethod: string): { store: 'file'; path: string } | { store: 'tcp'; host: string; port: number } {
  if (initMethod.startsWith('file://')) {
    const path = decodeURIComponent(initMethod.slice('file://'.length));
    if (!path.startsWith('/')) throw new Error(`initProcessGroup: initMethod '${initMethod}': expected file:///absolute/path`);
    return { store: 'file', path };
  }
  let hostPort: string;
  if (initMethod.startsWith('tcp://')) hostPort = initMethod.slice('tcp://'.length);
  else if (initMethod === 'env://') {
    const addr = process.env.MASTER_ADDR, port = process.env.MASTER_PORT;
    if (!addr || !port) throw new Error("initProcessGroup: initMethod 'env://' needs $MASTER_ADDR and $MASTER_PORT (as torchrun sets them)");
    hostPort = `${addr}:${port}`;
  } else throw new Error(`initProcessGroup: initMethod '${initMethod}': expected 'file://PATH', 'tcp://HOST:PORT' or 'env://'`);
  const m = /^(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(hostPort);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new Error(`initProcessGroup: '${hostPort}': expected HOST:PORT with a port in 1-65535`);
  return { store: 'tcp', host: m[1].replace(/^\[|\]$/g, ''), port };
}

/**
 * Joins this process to the default process group (blocks until every rank
 * has joined, or the timeout). A rank given another world size than rank 0's
 * is refused with an error saying both.
 */
export function initProcessGroup(opts: InitProcessGroupOptions = {}): void {
  if (defaultGroup) throw new Error('initProcessGroup: the default process group is already initialised (destroyProcessGroup() first)');
  const backend = opts.backend ?? 'gloo';
  if (backend !== 'gloo') throw new Error(`initProcessGroup: backend '${backend}': this libtorch has no CUDA, so 'gloo' is the backend`);
  const rank = opts.rank ?? intEnv('RANK');
  const worldSize = opts.worldSize ?? intEnv('WORLD_SIZE');
  if (rank === undefined || worldSize === undefined) throw new Error('initProcessGroup: give rank and worldSize (or set $RANK and $WORLD_SIZE)');
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new Error(`initProcessGroup: worldSize must be a positive integer, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new Error(`initProcessGroup: rank must be an integer in [0, ${worldSize}), got ${rank}`);
  const timeout = opts.timeout ?? DEFAULT_TIMEOUT;
  if (!(Number.isFinite(timeout) && timeout > 0)) throw new Error(`initProcessGroup: timeout must be positive milliseconds, got ${timeout}`);
  const store = parseInitMethod(opts.initMethod ?? 'env://');
  // Gloo's address: loopback on one machine; across machines this machine's name (PyTorch's default device
  // resolves the hostname too), which the peers must reach.
  const hostname = opts.hostname ?? process.env.ARSENAL_GLOO_HOSTNAME ?? (store.store === 'file' ? '127.0.0.1' : osHostname());
  const runId = opts.runId ?? process.env.TORCHELASTIC_RUN_ID ?? 'arsenal';
  const h = native.distInitProcessGroup({ ...store, rank, worldSize, timeoutMs: Math.round(timeout), prefix: runId, hostname });
  defaultGroup = { h, rank, worldSize, backend };
}

export function isInitialized(): boolean { return defaultGroup !== null; }

function group(what: string): Group {
  if (!defaultGroup) throw new Error(`${what}: the default process group is not initialised (call initProcessGroup first)`);
  return defaultGroup;
}
/** The default group's native handle, for DistributedDataParallel (an error naming `what` when there is none). */
export const currentGroup = (what: string): { h: number } => group(what);

/** This process's rank in the default group. */
export function getRank(): number { return group('getRank').rank; }
/** The number of processes in the default group. */
export function getWorldSize(): number { return group('getWorldSize').worldSize; }
export function getBackend(): Backend { return group('getBackend').backend; }

/** Leaves the default group (its connections and store closed). */
export function destroyProcessGroup(): void {
  if (!defaultGroup) return;
  gatherSeq = 0;
  native.distDestroyProcessGroup(defaultGroup.h);
  defaultGroup = null;
}

/**
 * A collective in flight: wait() blocks until it completes (and throws if it
 * failed); `await work` (or work.waitAsync()) waits without blocking the event
 * loop. Either may be called any number of times. The tensors it reads and
 * writes must not be disposed or changed until it completes.
 */
export class Work implements PromiseLike<void> {
  private pending: number | null;
  private result: Promise<void> | null = null;
  private settled = false;
  private error: Error | null = null;
  /** `keep`: the tensors the collective reads and writes, held until it is done. */
  constructor(h: number, readonly keep: Tensor[]) { this.pending = h; }
  isCompleted(): boolean { return this.settled || (this.pending !== null && native.distIsCompleted(this.pending)); }
  wait(): void {
    if (this.pending !== null) {
      const h = this.pending;
      this.pending = null;
      try { native.distWait(h); } catch (e) { this.error = e as Error; }
      this.settled = true;
    }
    if (!this.settled) throw new Error('Work.wait: this work is being awaited; await it instead');
    if (this.error) throw this.error;
  }
  waitAsync(): Promise<void> {
    if (!this.result) {
      if (this.pending !== null) {
        const h = this.pending;
        this.pending = null;
        this.result = native.distWaitAsync(h).then(
          () => { this.settled = true; },
          (e: Error) => { this.settled = true; this.error = e; throw e; });
      } else this.result = this.error ? Promise.reject(this.error) : Promise.resolve();
    }
    return this.result;
  }
  then<A = void, B = never>(onOk?: ((v: void) => A | PromiseLike<A>) | null, onErr?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.waitAsync().then(onOk, onErr);
  }
}

export interface CollectiveOptions { asyncOp?: boolean }

function run(h: number, keep: Tensor[], asyncOp: boolean | undefined): Work | undefined {
  const w = new Work(h, keep);
  if (asyncOp) return w;
  w.wait();
  return undefined;
}

/** The tensors of a collective: CPU; contiguous unless `anyLayout` (broadcastCoalesced copies through flat buffers). */
function tensorsOf(x: Tensor | Tensor[], what: string, anyLayout = false): Tensor[] {
  const ts = Array.isArray(x) ? x : [x];
  if (ts.length === 0) throw new Error(`${what}: expected at least one tensor`);
  ts.forEach((t, i) => {
    handle(t, `${what}: tensor ${i}`);
    if (t.device !== 'cpu') throw new Error(`${what}: tensor ${i} is on ${t.device}; the gloo backend takes CPU tensors`);
    if (!anyLayout && !t.isContiguous()) throw new Error(`${what}: tensor ${i} is not contiguous (call .contiguous() first)`);
  });
  return ts;
}

/**
 * Reduces the tensor(s) across ranks in place (sum by default). A list is
 * reduced as one coalesced operation (c10d's allreduce_coalesced: one message
 * for many small tensors); its tensors must share a dtype.
 */
export function allReduce(x: Tensor | Tensor[], opts: CollectiveOptions & { op?: ReduceOp } = {}): Work | undefined {
  const g = group('allReduce');
  const ts = tensorsOf(x, 'allReduce');
  if (ts.length > 1 && ts.some((t) => t.dtype !== ts[0].dtype)) throw new Error('allReduce: a list of tensors is reduced as one buffer: every tensor must have one dtype');
  const op = opts.op ?? 'sum';
  if (!['sum', 'product', 'min', 'max'].includes(op)) throw new Error(`allReduce: op must be 'sum', 'product', 'min' or 'max', got '${op}' (average: sum, then divide by getWorldSize())`);
  return run(native.distAllReduce(g.h, ts.map((t) => handle(t, 'allReduce')), op), ts, opts.asyncOp);
}

/** Copies rank `src`'s tensor into every rank's, in place. */
export function broadcast(t: Tensor, src: number, opts: CollectiveOptions = {}): Work | undefined {
  const g = group('broadcast');
  const [x] = tensorsOf(t, 'broadcast');
  if (!Number.isInteger(src) || src < 0 || src >= g.worldSize) throw new Error(`broadcast: src must be a rank in [0, ${g.worldSize}), got ${src}`);
  return run(native.distBroadcast(g.h, [handle(x, 'broadcast')], src), [x], opts.asyncOp);
}

/**
 * Copies rank `src`'s tensors into every rank's, in place, flattened into
 * buffers of up to 250 MiB (c10d's broadcast_coalesced; PyTorch DDP's
 * _sync_module_states). Synchronous; no grad.
 */
export function broadcastCoalesced(tensors: Tensor[], src: number): void {
  const g = group('broadcastCoalesced');
  if (tensors.length === 0) return;
  const ts = tensorsOf(tensors, 'broadcastCoalesced', true);
  if (!Number.isInteger(src) || src < 0 || src >= g.worldSize) throw new Error(`broadcastCoalesced: src must be a rank in [0, ${g.worldSize}), got ${src}`);
  native.distBroadcastCoalesced(g.h, ts.map((t) => handle(t, 'broadcastCoalesced')), 250 * 1024 * 1024, src);
}

/** Fills tensorList[r] with rank r's `t` (tensorList: worldSize tensors of t's shape and dtype). */
export function allGather(tensorList: Tensor[], t: Tensor, opts: CollectiveOptions = {}): Work | undefined {
  const g = group('allGather');
  const outs = tensorsOf(tensorList, 'allGather: tensorList');
  const [x] = tensorsOf(t, 'allGather');
  if (outs.length !== g.worldSize) throw new Error(`allGather: tensorList must hold worldSize (${g.worldSize}) tensors, got ${outs.length}`);
  outs.forEach((o, i) => {
    if (o.dtype !== x.dtype || o.shape.join(',') !== x.shape.join(','))
      throw new Error(`allGather: tensorList[${i}] is ${o.dtype} [${o.shape}], the input ${x.dtype} [${x.shape}]: they must match`);
  });
  return run(native.distAllGather(g.h, outs.map((o) => handle(o, 'allGather')), [handle(x, 'allGather')]), [...outs, x], opts.asyncOp);
}

/** Blocks until every rank has reached it. */
export function barrier(opts: CollectiveOptions = {}): Work | undefined {
  return run(native.distBarrier(group('barrier').h), [], opts.asyncOp);
}

/** The group's key-value store (the rendezvous's): strings shared between ranks. get waits for the key (up to the timeout). */
export const store = {
  set(key: string, value: string): void { native.distStoreSet(group('store.set').h, key, value); },
  get(key: string): string { return native.distStoreGet(group('store.get').h, key); },
  /** Removes a key; false when it was not there. */
  delete(key: string): boolean { return native.distStoreDelete(group('store.delete').h, key); },
};

let gatherSeq = 0;
/**
 * Every rank's `obj` (JSON-serialisable), in rank order, on every rank
 * (PyTorch's all_gather_object): exchanged through the group's store, so its
 * size is not limited by a tensor's. Every rank must call it, in the same order.
 */
export function allGatherObject<T>(obj: T): T[] {
  const g = group('allGatherObject');
  const seq = gatherSeq++;
  const json = JSON.stringify(obj ?? null);
  if (json === undefined) throw new TypeError('allGatherObject: the object is not JSON-serialisable');
  const key = (r: number) => `gather/${seq}/${r}`;
  store.set(key(g.rank), json);
  const out = Array.from({ length: g.worldSize }, (_, r) => JSON.parse(r === g.rank ? json : store.get(key(r))) as T);
  barrier(); // every rank has read every key: each removes its own
  store.delete(key(g.rank));
  return out;
}
