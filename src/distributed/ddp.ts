// torch.nn.parallel.DistributedDataParallel on c10d's own Reducer
// (native/src/distributed.cc): the wrapped module's parameters and buffers are
// broadcast from rank 0 at construction (_sync_module_states); during backward
// each parameter's gradient lands in a bucket that is all-reduced as soon as
// it is full (overlapping the rest of backward) and averaged by the world size;
// buffers (BatchNorm's running statistics) are broadcast from rank 0 before
// each training forward (broadcast_buffers=True). PyTorch 1.13's defaults:
// bucketCapMb 25, findUnusedParameters false, per-process BatchNorm.
//
//   const ddp = new DistributedDataParallel(model);   // after initProcessGroup
//   const loss = lossFn(ddp.forward(x), y); loss.backward();   // gradients averaged over ranks
//
// State dict keys are the wrapped module's under 'module.', as PyTorch's; save
// `ddp.module` to get the model's own keys.
import { Module } from '../nn/module.js';
import { isGradEnabled } from '../torch/runtime.js';
import { native } from '../torch/native.js';
import { Tensor, handle } from '../torch/tensor.js';
import { currentGroup } from './process_group.js';

export interface DistributedDataParallelOptions {
  /** Bucket size in MiB for the gradient all-reduce (PyTorch: bucket_cap_mb, 25). */
  bucketCapMb?: number;
  /**
   * Parameters that take no part in a forward (a skipped auxiliary head) are
   * marked ready by walking the autograd graph from the outputs, so the other
   * ranks do not wait for their gradients (PyTorch: find_unused_parameters,
   * false: it costs a graph traversal each iteration).
   */
  findUnusedParameters?: boolean;
  /** Broadcast rank 0's buffers before each training forward (PyTorch: broadcast_buffers, true). */
  broadcastBuffers?: boolean;
}

/** PyTorch's broadcast bucket for _sync_module_states and buffer syncs (250 MiB). */
const BROADCAST_BUCKET_BYTES = 250 * 1024 * 1024;

/** Every tensor inside a forward's output (a tensor, or arrays and plain objects of them): _find_tensors. */
function tensorsIn(x: unknown, out: Tensor[] = []): Tensor[] {
  if (x instanceof Tensor) out.push(x);
  else if (Array.isArray(x)) for (const v of x) tensorsIn(v, out);
  else if (x && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) for (const v of Object.values(x)) tensorsIn(v, out);
  return out;
}

export class DistributedDataParallel<M extends Module = Module> extends Module {
  readonly module: M;
  private _reducer: number | null;
  private readonly _group: number;
  private readonly _opts: Required<DistributedDataParallelOptions>;
  private _requireSync = true;
  private _requireForwardParamSync = true;

  constructor(module: M, opts: DistributedDataParallelOptions = {}) {
    super();
    if (!(module instanceof Module)) throw new TypeError('DistributedDataParallel: expected an nn.Module');
    const bucketCapMb = opts.bucketCapMb ?? 25;
    if (!(bucketCapMb > 0)) throw new Error(`DistributedDataParallel: bucketCapMb must be positive, got ${bucketCapMb}`);
    this._opts = { bucketCapMb, findUnusedParameters: opts.findUnusedParameters ?? false, broadcastBuffers: opts.broadcastBuffers ?? true };
    this.module = module;
    this._group = currentGroup('DistributedDataParallel').h;
    const named = [...module.namedParameters()].filter(([, p]) => p.requiresGrad);
    if (named.length === 0) throw new Error('DistributedDataParallel: the module has no parameter that requires grad');
    // _sync_module_states: every rank starts from rank 0's parameters and buffers.
    const states = [...module.parameters(), ...module.buffers()];
    native.distBroadcastCoalesced(this._group, states.map((t) => handle(t, 'DistributedDataParallel')), BROADCAST_BUCKET_BYTES, 0);
    this._reducer = native.distReducerNew(this._group, named.map(([, p]) => handle(p, 'DistributedDataParallel')), named.map(([n]) => n),
      Math.round(bucketCapMb * 1024 * 1024), this._opts.findUnusedParameters, module.constructor.name, this._opts.broadcastBuffers);
  }

  forward(...args: unknown[]): any {
    if (this._reducer === null) throw new Error('DistributedDataParallel.forward: disposed');
    const grad = isGradEnabled();
    if (grad && this._requireSync) {
      try {
        native.distReducerPrepareForward(this._reducer);
      } catch (e) {
        const m = (e as Error).message;
        // c10d's message names PyTorch's keyword; say Arsenal's first.
        if (!m.includes('find_unused_parameters')) throw e;
        const at = m.indexOf(': ');
        throw new Error(`${m.slice(0, at)}: a parameter took no part in producing the last loss: give DistributedDataParallel { findUnusedParameters: true } when some parameters skip some steps (c10d: ${m.slice(at + 2)})`);
      }
    }
    // PyTorch's _sync_buffers: before a forward that follows a synced training
    // forward (so also the first evaluation forward after training).
    const buffers = this._opts.broadcastBuffers && this._requireForwardParamSync ? this.module.buffers() : [];
    if (buffers.length) native.distBroadcastCoalesced(this._group, buffers.map((t) => handle(t, 'DistributedDataParallel')), BROADCAST_BUCKET_BYTES, 0);
    const out = (this.module.forward as (...a: unknown[]) => unknown)(...args);
    if (grad && this._requireSync) {
      this._requireForwardParamSync = true;
      native.distReducerPrepareBackward(this._reducer, this._opts.findUnusedParameters ? tensorsIn(out).map((t) => handle(t, 'DistributedDataParallel: output')) : []);
    } else this._requireForwardParamSync = false;
    return out;
  }

  /**
   * Runs fn with the gradient all-reduce off (PyTorch's no_sync): gradients
   * accumulate locally, and the first forward/backward after it reduces them
   * all (gradient accumulation over several micro-batches).
   */
  noSync<T>(fn: () => T): T {
    const was = this._requireSync;
    this._requireSync = false;
    try { return fn(); } finally { this._requireSync = was; }
  }

  override dispose(): void {
    if (this._reducer !== null) native.distReducerFree(this._reducer);
    this._reducer = null;
    this.module.dispose();
  }

  override extraRepr(): string {
    return `bucketCapMb=${this._opts.bucketCapMb}, findUnusedParameters=${this._opts.findUnusedParameters}, broadcastBuffers=${this._opts.broadcastBuffers}`;
  }
}
