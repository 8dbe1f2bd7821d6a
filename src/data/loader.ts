// The data loader: batches of a dataset in a seeded order, fetched ahead so
// the model never waits for data (docs/architecture.md §7, §8).
//
// The order of epoch e is Rng(Rng.derive(seed, e)).permutation(n): a function
// of (seed, e) alone, so a run resumed at epoch e sees exactly the batches an
// uninterrupted run would — call setEpoch(e) before iterating. setEpoch(e) also
// tells the dataset (Dataset.setEpoch, where it has one: per-epoch sample
// transforms), before any batch of that epoch is fetched.
//
// Sharded for data-parallel training (rank, worldSize; PyTorch's
// DistributedSampler): every rank draws the same epoch order and takes
// order[rank::worldSize], so rank r's batch k of size B/W and the other ranks'
// batch k together are exactly the samples of batch k of size B in one
// process. With dropLast every rank gets floor(n / (batchSize × worldSize))
// batches (the global batches one process would see). Without it (evaluation)
// a rank may get one batch more than another, and nothing is padded:
// DistributedSampler pads by repeating samples, which counts them twice in
// the metrics.
import type { Batch, Dataset } from './dataset.js';
import { Rng } from './rng.js';

export interface LoaderOptions {
  batchSize: number;
  /** A new random order every epoch (default false: dataset order). */
  shuffle?: boolean;
  /** Drop the last, smaller batch (default false). */
  dropLast?: boolean;
  /** Seed of the shuffling order (default 42). */
  seed?: number;
  /** Batches in flight ahead of the consumer (default 2; 0 = fetch on demand). */
  prefetch?: number;
  /** At most this many batches an epoch: the first ones of the epoch's order (a time budget's cut; src/engine/budget.ts). */
  maxBatches?: number;
  /** This process's shard: rank in [0, worldSize) (default 0 of 1: the whole order). */
  rank?: number;
  worldSize?: number;
}

const KEYS = new Set(['batchSize', 'shuffle', 'dropLast', 'seed', 'prefetch', 'maxBatches', 'rank', 'worldSize']);

function disposeBatch(b: Batch | undefined): void {
  if (!b) return;
  b.images?.dispose?.();
  b.labels?.dispose?.();
  b.masks?.dispose?.();
}

export class DataLoader implements AsyncIterable<Batch> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly prefetch: number;
  readonly maxBatches: number;
  readonly rank: number;
  readonly worldSize: number;
  /** Seconds the consumer spent waiting for a batch in the last (or current) epoch. */
  waitSeconds = 0;
  private nextEpoch = 0;

  constructor(dataset: Dataset, opts: LoaderOptions) {
    if (dataset === null || typeof dataset !== 'object' || typeof dataset.getBatch !== 'function' || !Number.isInteger(dataset.length) || dataset.length < 0) {
      throw new TypeError('DataLoader: expected a Dataset (with length and getBatch)');
    }
    if (opts === null || typeof opts !== 'object') throw new TypeError('DataLoader: expected options { batchSize, shuffle?, dropLast?, seed?, prefetch?, maxBatches? }');
    for (const k of Object.keys(opts)) {
      if (!KEYS.has(k)) throw new TypeError(`DataLoader: unknown option '${k}' (expected one of ${[...KEYS].join(', ')})`);
    }
    const { batchSize, shuffle = false, dropLast = false, seed = 42, prefetch = 2, maxBatches = Infinity, rank = 0, worldSize = 1 } = opts;
    if (!(Number.isInteger(worldSize) && worldSize >= 1)) throw new RangeError(`DataLoader: worldSize must be a positive integer, got ${String(worldSize)}`);
    if (!(Number.isInteger(rank) && rank >= 0 && rank < worldSize)) throw new RangeError(`DataLoader: rank must be an integer in [0, ${worldSize}), got ${String(rank)}`);
    if (maxBatches !== Infinity && !(Number.isInteger(maxBatches) && maxBatches >= 1)) throw new RangeError(`DataLoader: maxBatches must be a positive integer, got ${String(maxBatches)}`);
    if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${String(batchSize)}`);
    }
    if (typeof shuffle !== 'boolean') throw new TypeError(`DataLoader: shuffle must be a boolean, got ${String(shuffle)}`);
    if (typeof dropLast !== 'boolean') throw new TypeError(`DataLoader: dropLast must be a boolean, got ${String(dropLast)}`);
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new TypeError(`DataLoader: seed must be an integer, got ${String(seed)}`);
    if (typeof prefetch !== 'number' || !Number.isInteger(prefetch) || prefetch < 0) {
      throw new RangeError(`DataLoader: prefetch must be a non-negative integer, got ${String(prefetch)}`);
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.seed = seed;
    this.prefetch = prefetch;
    this.maxBatches = maxBatches;
    this.rank = rank;
    this.worldSize = worldSize;
  }

  /** Batches per epoch (this rank's). */
  get length(): number {
    const n = this.dataset.length, w = this.worldSize;
    const mine = Math.floor(n / w) + (this.rank < n % w ? 1 : 0);
    return Math.min(this.maxBatches, this.dropLast ? Math.floor(n / (this.batchSize * w)) : Math.ceil(mine / this.batchSize));
  }

  /** The epoch the next iteration runs (each iteration then advances it by one). */
  get epoch(): number {
    return this.nextEpoch;
  }

  /** Makes the next iteration run epoch `epoch` (its order depends on seed and epoch only), and passes the epoch to the dataset's setEpoch if it has one. */
  setEpoch(epoch: number): void {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`DataLoader.setEpoch: epoch must be a non-negative integer, got ${String(epoch)}`);
    this.nextEpoch = epoch;
    this.dataset.setEpoch?.(epoch);
  }

  /** The sample order of an epoch (dataset order when shuffle is off), every rank's. */
  order(epoch: number): Int32Array {
    const n = this.dataset.length;
    if (!this.shuffle) {
      const o = new Int32Array(n);
      for (let i = 0; i < n; i++) o[i] = i;
      return o;
    }
    return new Rng(Rng.derive(this.seed, epoch)).permutation(n);
  }

  /** This rank's samples of an epoch, in order: order[rank::worldSize]. */
  shard(epoch: number): Int32Array {
    const order = this.order(epoch);
    if (this.worldSize === 1) return order;
    const out = new Int32Array(Math.ceil((order.length - this.rank) / this.worldSize));
    for (let i = this.rank, j = 0; i < order.length; i += this.worldSize, j++) out[j] = order[i];
    return out;
  }

  /** The dataset indices of every batch of an epoch (this rank's), in order. */
  batches(epoch: number): number[][] {
    const order = this.shard(epoch);
    const out: number[][] = [];
    const count = this.length;
    for (let b = 0; b < count; b++) out.push(Array.from(order.subarray(b * this.batchSize, Math.min((b + 1) * this.batchSize, order.length))));
    return out;
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    const epoch = this.nextEpoch++;
    const plan = this.batches(epoch);
    const ds = this.dataset;
    const ahead = Math.max(1, this.prefetch);
    const queue: Promise<Batch>[] = [];
    let started = 0;
    let done = false;
    this.waitSeconds = 0;

    const start = (): void => {
      const indices = plan[started++];
      // A synchronous getBatch runs now; its throw becomes this promise's rejection.
      const p = new Promise<Batch>((resolve) => resolve(ds.getBatch(indices)));
      p.catch(() => {}); // surfaced when consumed; never an unhandled rejection
      queue.push(p);
    };
    const fill = (n: number): void => {
      while (!done && queue.length < n && started < plan.length) start();
    };
    const finish = async (): Promise<void> => {
      done = true;
      const rest = queue.splice(0);
      const settled = await Promise.allSettled(rest);
      for (const s of settled) if (s.status === 'fulfilled') disposeBatch(s.value);
    };
    if (this.prefetch > 0) fill(this.prefetch);

    return {
      next: async (): Promise<IteratorResult<Batch>> => {
        const t0 = performance.now();
        try {
          if (done) return { done: true, value: undefined };
          fill(1);
          const head = queue.shift();
          if (head === undefined) {
            done = true;
            return { done: true, value: undefined };
          }
          if (this.prefetch > 0) fill(ahead); // keep `prefetch` batches in flight behind this one
          let value: Batch;
          try {
            value = await head;
          } catch (e) {
            await finish();
            throw e;
          }
          return { done: false, value };
        } finally {
          this.waitSeconds += (performance.now() - t0) / 1000;
        }
      },
      return: async (): Promise<IteratorResult<Batch>> => {
        await finish(); // a `break`: free the batches fetched ahead
        return { done: true, value: undefined };
      },
    };
  }
}
